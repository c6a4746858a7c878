"""The outbox: recording a rendered email and queueing its delivery, the delivery job itself
(SMTP or PEC, under a claim and a lease), resending and the sweep that requeues lost jobs.

`send_templated` adds the row to the current transaction and leaves the commit to the caller;
the delivery job is queued with `app.jobs.enqueue`, so it runs only once that transaction
commits (and never for a rolled-back one).
"""
from __future__ import annotations

import datetime as dt
import logging
import smtplib
import uuid
from email.utils import formataddr, parseaddr
from typing import Iterable, Mapping

import flask_mail
from flask import current_app, render_template
from flask_babel import force_locale
from sqlalchemy import and_, or_, select, update

from app.billing.models import CreditNote, Invoice, Quote
from app.clients.models import Client, Contact
from app.company.services import get_company
from app.extensions import db, mail
from app.i18n import normalize_language
from app.jobs import enqueue, keep_alive, lease_seconds, queue, retry_intervals
from app.mail import pec
from app.mail.models import NOT_CONFIGURED_ERROR, OutboxAttachment, OutboxEmail, OutboxStatus
from app.mail.templating import _language_of, base_values, document_values, render_email

log = logging.getLogger(__name__)

SMTP_TIMEOUT_SECONDS = 30
# A "queued" row this old with no job waiting for it lost its job (see requeue_stale_emails).
DEFAULT_QUEUED_GRACE = dt.timedelta(seconds=15)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)



def _sender() -> str:
    """`Company name <sender@…>`: the company's sender address, else MAIL_DEFAULT_SENDER."""
    company = get_company()
    address = company.sender_email or current_app.config.get("MAIL_DEFAULT_SENDER") or ""
    return formataddr((company.legal_name or "", address)) if address else ""


def send_templated(kind: str, client: Client | None, to_email: str, context: Mapping[str, object],
                   attachments: Iterable[tuple[str, str, bytes]] = (), contact: Contact | None = None,
                   document: Invoice | Quote | None = None, *, attach_document_pdf: bool = False,
                   idempotency_key: str | None = None, language: str | None = None) -> OutboxEmail:
    """Render `kind` for `client` in the client's language, record it in the outbox and queue
    its delivery. `context` adds or overrides placeholder values; `attachments` are
    (filename, mime type, bytes). An existing row with the same idempotency key is returned
    as it is: asking twice never sends twice."""
    if idempotency_key:
        existing = db.session.scalar(select(OutboxEmail).filter_by(idempotency_key=idempotency_key))
        if existing is not None:
            return existing
    language = normalize_language(language or _language_of(client))
    with force_locale(language):
        values = base_values(client, contact, language)
        if document is not None:
            values.update(document_values(document, language))
        values.update({name: "" if value is None else str(value) for name, value in context.items()})
        rendered = render_email(kind, client, language, values)
        company_name = values["company_name"]
    html = render_template("email/layout.html", body=rendered.html, subject=rendered.subject,
                           language=language, company_name=company_name)
    sender = _sender()
    email = OutboxEmail(
        idempotency_key=idempotency_key or f"{kind}:{uuid.uuid4().hex}",
        message_id=new_message_id(sender or current_app.config.get("MAIL_DEFAULT_SENDER") or ""),
        kind=kind,
        language=language,
        sender=sender,
        to_email=to_email.strip(),
        subject=rendered.subject,
        body_text=rendered.text,
        body_html=html,
        status=OutboxStatus.QUEUED.value,
        client_id=client.id if client else None,
        contact_id=contact.id if contact else None,
        invoice_id=(document.id if isinstance(document, Invoice)
                    else document.invoice_id if isinstance(document, CreditNote) else None),
        quote_id=document.id if isinstance(document, Quote) else None,
    )
    for filename, mime_type, content in attachments:
        email.attachments.append(OutboxAttachment(filename=filename, mime_type=mime_type, content=content))
    if attach_document_pdf and document is not None:
        from app.pdf.service import document_kind, pdf_filename

        email.attachments.append(OutboxAttachment(
            filename=pdf_filename(document), mime_type="application/pdf",
            document_kind=document_kind(document), document_id=document.id,
        ))
    db.session.add(email)
    db.session.flush()
    enqueue(deliver_email, email.id, job_id=f"email-{email.id}")
    return email


# ---------------------------------------------------------------- delivery (the job)

def smtp_configured() -> bool:
    return bool(current_app.config.get("MAIL_SERVER"))


class _Connection(flask_mail.Connection):
    """Flask-Mail's connection with a socket timeout, so a silent server cannot hang a worker."""

    def configure_host(self):
        smtp_class = smtplib.SMTP_SSL if self.mail.use_ssl else smtplib.SMTP
        host = smtp_class(self.mail.server, self.mail.port, timeout=SMTP_TIMEOUT_SECONDS)
        if self.mail.use_tls:
            host.starttls()
        if self.mail.username and self.mail.password:
            host.login(self.mail.username, self.mail.password)
        return host


def _attachment_bytes(attachment: OutboxAttachment) -> bytes:
    if attachment.content is not None:
        return attachment.content
    from app.pdf.service import load_document, pdf_for

    document = load_document(attachment.document_kind, attachment.document_id)
    if document is None:
        raise LookupError(f"{attachment.document_kind} {attachment.document_id} no longer exists")
    return pdf_for(document, wait=False)


def build_message(email: OutboxEmail) -> flask_mail.Message:
    message = flask_mail.Message(
        subject=email.subject,
        recipients=[email.to_email],
        body=email.body_text,
        html=email.body_html,
        sender=email.sender or current_app.config.get("MAIL_DEFAULT_SENDER"),
        extra_headers={"X-Clientela-Outbox": str(email.id)},
    )
    # The row's own Message-ID, the same on every attempt: a resend after the server accepted
    # a message we could not record is the same message to the recipient's server and client.
    message.msgId = email.message_id
    for attachment in email.attachments:
        message.attach(attachment.filename, attachment.mime_type, _attachment_bytes(attachment))
    return message


def new_message_id(sender: str) -> str:
    """A Message-ID unique to one outbox row, on the sender's domain (RFC 5322 msg-id)."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "clientela.local"
    return f"<outbox.{uuid.uuid4().hex}@{domain}>"


def sending_lease() -> dt.timedelta:
    """How long a "sending" row stays its worker's after the worker's last heartbeat."""
    return current_app.config.get("MAIL_SENDING_TIMEOUT") or dt.timedelta(seconds=lease_seconds())


def _claim(email_id: int) -> int | None:
    """queued/failed (or "sending" whose lease lapsed) → sending, in one conditional UPDATE:
    of two workers holding the same job, exactly one gets the row. Returns the attempt number
    the claim is held under (the lease's token), or None when somebody else has the row."""
    now = _now()
    result = db.session.execute(
        update(OutboxEmail)
        .where(
            OutboxEmail.id == email_id,
            or_(
                OutboxEmail.status.in_([OutboxStatus.QUEUED.value, OutboxStatus.FAILED.value]),
                and_(OutboxEmail.status == OutboxStatus.SENDING.value,
                     OutboxEmail.claimed_at < now - sending_lease()),
            ),
        )
        .values(status=OutboxStatus.SENDING.value, claimed_at=now, attempts=OutboxEmail.attempts + 1)
        .returning(OutboxEmail.attempts)
    )
    attempt = result.scalar_one_or_none()
    db.session.commit()
    return attempt


def _held(email_id: int, attempt: int):
    """The rows of our own claim: still "sending" under the attempt number we claimed."""
    return (OutboxEmail.id == email_id, OutboxEmail.status == OutboxStatus.SENDING.value,
            OutboxEmail.attempts == attempt)


def _renewer(email_id: int, attempt: int):
    """The heartbeat of a claim, on a connection of its own (the job's session is busy)."""
    engine = db.engine
    statement = update(OutboxEmail).where(*_held(email_id, attempt))

    def renew() -> None:
        with engine.begin() as connection:
            connection.execute(statement.values(claimed_at=_now()))

    return renew


def deliver_email(email_id: int) -> str:
    """The send job: claim the row, send it, record the outcome. Safe to run any number of
    times: only a claimed row is sent. A failure is recorded on the row, not raised: the
    outbox sweep (`requeue_stale_emails`) retries it with backoff, on whichever worker is alive."""
    attempt = _claim(email_id)
    if attempt is None:
        return "skipped"
    email = db.session.get(OutboxEmail, email_id, populate_existing=True)
    if not (pec.smtp_configured() if pec.is_pec(email) else smtp_configured()):
        email.status = OutboxStatus.NOT_CONFIGURED.value
        email.error = NOT_CONFIGURED_ERROR
        db.session.commit()
        return email.status
    from app.pdf.service import RenderInProgress

    outcome = {"status": OutboxStatus.SENT.value, "error": ""}
    with keep_alive(_renewer(email_id, attempt), sending_lease().total_seconds() / 3):
        try:
            if not email.message_id:  # a row queued before Message-IDs were stored
                email.message_id = new_message_id(email.sender)
            message = build_message(email)
            db.session.commit()  # the Message-ID, and a PDF rendered for it, before anything is sent
            config = pec.smtp_config() if pec.is_pec(email) else current_app.config
            state = mail.init_mail(config, current_app.debug, current_app.testing)
            with _Connection(state) as connection:
                connection.send(message)
            outcome["sent_at"] = _now()
        except RenderInProgress:
            return _come_back_later(email_id, attempt)
        except Exception as exc:
            db.session.rollback()
            log.warning("email %s: attempt %s failed", email_id, attempt, exc_info=True)
            outcome = {"status": OutboxStatus.FAILED.value, "error": f"{type(exc).__name__}: {exc}"[:2000]}
    recorded = db.session.execute(update(OutboxEmail).where(*_held(email_id, attempt)).values(**outcome))
    if recorded.rowcount == 1 and outcome["status"] == OutboxStatus.SENT.value and pec.is_pec(email):
        pec.after_sent(email)  # in the transaction that records it sent: the file is now with SdI
    db.session.commit()
    if recorded.rowcount != 1:
        # Our lease lapsed (a stall longer than the lease) and another worker claimed the row;
        # its attempt carries the same Message-ID, so a second copy is recognisable as one.
        log.error("email %s: attempt %s finished after losing its claim", email_id, attempt)
    return outcome["status"]


def _come_back_later(email_id: int, attempt: int) -> str:
    """Another worker is rendering the attachment (the render job queued by the same commit):
    hand the row back, not counted as an attempt, and queue it behind the work waiting now
    instead of holding this worker idle until the PDF is ready."""
    db.session.rollback()
    db.session.execute(update(OutboxEmail).where(*_held(email_id, attempt))
                       .values(status=OutboxStatus.QUEUED.value, attempts=attempt - 1))
    enqueue(deliver_email, email_id, job_id=f"email-{email_id}-{uuid.uuid4().hex[:8]}")
    db.session.commit()
    return OutboxStatus.QUEUED.value


def resend(email: OutboxEmail) -> bool:
    """Queue a failed (or never-configured) email again; the caller commits."""
    if email.status not in (OutboxStatus.FAILED.value, OutboxStatus.NOT_CONFIGURED.value):
        return False
    email.status = OutboxStatus.QUEUED.value
    enqueue(deliver_email, email.id, job_id=f"email-{email.id}-{email.attempts}")
    return True


def retry_delay(attempts: int) -> dt.timedelta:
    """Backoff after `attempts` failed attempts: the app's retry schedule, its last step repeated."""
    intervals = retry_intervals()
    return dt.timedelta(seconds=intervals[min(attempts, len(intervals)) - 1] if attempts else 0)


def max_attempts() -> int:
    return len(retry_intervals()) + 1


def requeue_stale_emails(*, every_failed: bool = True) -> int:
    """The outbox sweep: queue again every email that no live job will finish. Returns how many.

    - "queued" for longer than MAIL_QUEUED_GRACE with no job waiting for it: its job was lost
      (a web node killed between its commit and the enqueue, a worker killed after taking
      the job off the queue and before claiming the row);
    - "sending" whose lease lapsed: its worker died mid-send;
    - "failed": every one (`every_failed`, the operator's `retry-outbox` command, after fixing
      the mail server), or, for the workers' periodic sweep, those whose backoff is over, up
      to the last attempt of the retry schedule.

    The periodic sweep runs every 15 seconds on the workers' ticker, claimed once per period.
    Sending twice is impossible whatever it queues: only a claim sends.
    """
    now = _now()
    grace = current_app.config.get("MAIL_QUEUED_GRACE") or DEFAULT_QUEUED_GRACE
    rows = db.session.execute(
        select(OutboxEmail.id, OutboxEmail.status, OutboxEmail.attempts, OutboxEmail.claimed_at).where(or_(
            and_(OutboxEmail.status == OutboxStatus.QUEUED.value, OutboxEmail.created_at < now - grace),
            and_(OutboxEmail.status == OutboxStatus.SENDING.value, OutboxEmail.claimed_at < now - sending_lease()),
            OutboxEmail.status == OutboxStatus.FAILED.value,
        ))
    ).all()
    waiting = waiting_email_ids()
    due = [
        row.id for row in rows
        if row.id not in waiting and (
            row.status != OutboxStatus.FAILED.value
            or every_failed
            or (row.attempts < max_attempts() and (row.claimed_at or now) + retry_delay(row.attempts) <= now)
        )
    ]
    for email_id in due:
        enqueue(deliver_email, email_id, job_id=f"email-{email_id}-{uuid.uuid4().hex[:8]}")
    return len(due)


def waiting_email_ids() -> set[int]:
    """Emails with a delivery job waiting in the queue (RQ job ids `email-<id>[-…]`): those
    will be claimed in turn and need no other. Empty without Redis (jobs run inline)."""
    if not current_app.config.get("REDIS_URL"):
        return set()
    job_queue = queue()
    job_ids = job_queue.get_job_ids() + job_queue.scheduled_job_registry.get_job_ids()
    return {int(job_id.split("-")[1]) for job_id in job_ids
            if job_id.startswith("email-") and job_id.split("-")[1].isdigit()}
