"""Sending email: choosing the template, rendering it, recording it in the outbox, delivering it.

Every public function here adds rows to the current transaction and leaves the commit to
the caller; the delivery job is queued with `app.jobs.enqueue`, so it runs only once that
transaction commits (and never for a rolled-back one).
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
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, or_, select, update

from app.activity import services as activity
from app.billing.accounts import client_summary
from app.billing.models import CreditNote, Invoice, Payment, Quote
from app.billing.services import BillingError, finalize_credit_note, finalize_invoice, finalize_quote
from app.clients.models import Client, Contact
from app.company.services import get_company
from app.extensions import db, mail
from app.i18n import format_date, format_money, normalize_language
from app.jobs import discard, enqueue, keep_alive, lease_seconds, queue, retry_intervals
from app.mail import pec
from app.mail.defaults import DEFAULT_TEMPLATES
from app.mail.links import sign_in_link
from app.mail.models import (
    CLIENT_KINDS,
    EMAIL_KINDS,
    NOT_CONFIGURED_ERROR,
    STAFF_KINDS,
    ClientEmailTemplate,
    EmailTemplate,
    OutboxAttachment,
    OutboxEmail,
    OutboxStatus,
)
from app.mail.sandbox import RenderedEmail, TemplateRefused, render, sample_values, validate_template
from app.pdf.jobs import render_document_pdf
from app.pdf.statement import default_period, statement_filename, statement_pdf

log = logging.getLogger(__name__)

SMTP_TIMEOUT_SECONDS = 30
# A "queued" row this old with no job waiting for it lost its job (see requeue_stale_emails).
DEFAULT_QUEUED_GRACE = dt.timedelta(seconds=15)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


# ---------------------------------------------------------------- templates

def check_kind(kind: str, kinds: Iterable[str] = EMAIL_KINDS) -> str:
    if kind not in kinds:
        raise TemplateRefused(_l("Unknown email kind: %(kind)s.", kind=kind), "kind")
    return kind


def global_template(kind: str, language: str) -> tuple[str, str, bool]:
    """(subject, body, customized): the edited global template, else the built-in one."""
    language = normalize_language(language)
    row = db.session.scalar(select(EmailTemplate).filter_by(kind=kind, language=language))
    if row is not None:
        return row.subject, row.body, True
    subject, body = DEFAULT_TEMPLATES[kind][language]
    return subject, body, False


def client_template(client: Client, kind: str) -> ClientEmailTemplate | None:
    return db.session.scalar(select(ClientEmailTemplate).filter_by(client_id=client.id, kind=kind))


def template_for(kind: str, client: Client | None, language: str) -> tuple[str, str, str]:
    """The one rule of template resolution: (subject, body, source).

    A client's override for the kind wins and the global template is then ignored entirely;
    emails to staff always use the global template."""
    check_kind(kind)
    if client is not None and kind not in STAFF_KINDS:
        override = client_template(client, kind)
        if override is not None:
            return override.subject, override.body, "client"
    subject, body, customized = global_template(kind, language)
    return subject, body, "global" if customized else "default"


def save_global_template(kind: str, language: str, subject: str, body: str) -> EmailTemplate:
    check_kind(kind)
    if language not in ("it", "en"):
        raise TemplateRefused(_l("Unknown language: %(language)s.", language=language), "language")
    validate_template(subject, body)
    row = db.session.scalar(select(EmailTemplate).filter_by(kind=kind, language=language))
    if row is None:
        row = EmailTemplate(kind=kind, language=language)
        db.session.add(row)
    row.subject, row.body = subject, body
    db.session.flush()
    return row


def reset_global_template(kind: str, language: str) -> None:
    row = db.session.scalar(select(EmailTemplate).filter_by(kind=check_kind(kind), language=language))
    if row is not None:
        db.session.delete(row)


def ensure_global_templates() -> int:
    """Store the built-in templates as editable rows where none exists yet; returns how many."""
    existing = set(db.session.execute(select(EmailTemplate.kind, EmailTemplate.language)).tuples())
    added = 0
    for kind, languages in DEFAULT_TEMPLATES.items():
        for language, (subject, body) in languages.items():
            if (kind, language) not in existing:
                db.session.add(EmailTemplate(kind=kind, language=language, subject=subject, body=body))
                added += 1
    return added


def save_client_template(client: Client, kind: str, subject: str, body: str) -> ClientEmailTemplate:
    check_kind(kind, CLIENT_KINDS)
    validate_template(subject, body)
    row = client_template(client, kind)
    if row is None:
        row = ClientEmailTemplate(client_id=client.id, kind=kind)
        db.session.add(row)
    row.subject, row.body = subject, body
    db.session.flush()
    return row


def reset_client_template(client: Client, kind: str) -> None:
    """Back to the global template for this kind."""
    row = client_template(client, check_kind(kind, CLIENT_KINDS))
    if row is not None:
        db.session.delete(row)


# ---------------------------------------------------------------- placeholder values

def _language_of(client: Client | None) -> str:
    return normalize_language(client.language if client else get_company().locale)


def base_values(client: Client | None, contact: Contact | None, language: str) -> dict[str, str]:
    company = get_company()
    return {
        "client_name": client.name if client else "",
        "contact_name": contact.name if contact else (client.name if client else ""),
        "company_name": company.legal_name or "",
        "company_email": company.email or company.sender_email or "",
        "company_phone": company.phone or "",
    }


def document_values(document: Invoice | Quote, language: str) -> dict[str, str]:
    """Formatted values of an invoice or quote; call inside `force_locale(language)`."""
    money = lambda amount: format_money(amount, document.currency, language)  # noqa: E731
    values = {
        "document_number": document.number or "",
        "document_total": money(document.total),
        "issue_date": format_date(document.issue_date, language),
    }
    if isinstance(document, Invoice):
        overdue = (dt.date.today() - document.due_date).days
        values.update(
            document_kind=_("invoice"),
            amount_paid=money(document.amount_paid),
            balance_due=money(document.balance),
            due_date=format_date(document.due_date, language),
            days_overdue=str(max(overdue, 0)),
        )
    elif isinstance(document, CreditNote):
        values.update(document_kind=_("credit note"), credited_invoice_number=document.invoice.number or "",
                      balance_due=money(document.invoice.balance))
    else:
        values.update(document_kind=_("quote"), valid_until=format_date(document.valid_until, language))
    return values


def portal_target(document: Invoice | Quote | CreditNote | None) -> str:
    if isinstance(document, Invoice):
        return f"/portal/invoices/{document.id}"
    if isinstance(document, CreditNote):  # the portal shows a credit note on its invoice
        return f"/portal/invoices/{document.invoice_id}"
    return "/portal/"


def magic_link(contact: Contact | None, document: Invoice | Quote | None = None, purpose: str | None = None) -> str:
    """A sign-in link into the portal for `contact`, landing on `document`; plain portal URL without one."""
    if contact is None:
        return f"{current_app.config['PUBLIC_BASE_URL']}/portal/login"
    kind = ("invoice" if isinstance(document, (Invoice, CreditNote)) else "quote" if isinstance(document, Quote)
            else "statement")
    return sign_in_link(contact, target=portal_target(document), purpose=purpose or kind)


def render_email(kind: str, client: Client | None, language: str, values: Mapping[str, str]) -> RenderedEmail:
    subject, body, _source = template_for(kind, client, language)
    return render(subject, body, dict(values))


def preview_values(kind: str, client: Client | None, language: str) -> dict[str, str]:
    """Real data for a preview: the client's (or anyone's) latest document of the right kind;
    the portal link is a placeholder, so a preview never issues a working sign-in link."""
    base_url = current_app.config["PUBLIC_BASE_URL"]
    values = {**sample_values(), "portal_link": f"{base_url}/portal/auth/…", "staff_link": f"{base_url}/"}
    if client is None:
        client = db.session.scalar(select(Client).order_by(Client.id.desc()).limit(1))
    model = Quote if kind in ("quote", "quote_accepted", "quote_rejected") else Invoice
    document = None
    if client is not None:
        document = db.session.scalar(
            select(model).where(model.client_id == client.id, model.number.is_not(None))
            .order_by(model.id.desc()).limit(1))
    with force_locale(language):
        values.update(base_values(client, client.primary_contact if client else None, language))
        if document is not None:
            values.update(document_values(document, language))
    return values


def preview(kind: str, subject: str, body: str, client: Client | None = None,
            language: str | None = None) -> RenderedEmail:
    language = normalize_language(language or _language_of(client))
    return render(subject, body, preview_values(kind, client, language))


# ---------------------------------------------------------------- queueing

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


def _recipients(client: Client, contact_ids: list[int] | None) -> list[Contact]:
    if contact_ids:
        by_id = {contact.id: contact for contact in client.contacts}
        unknown = [cid for cid in contact_ids if cid not in by_id]
        if unknown:
            raise BillingError(_l("These contacts do not belong to this client."), "contact_ids")
        contacts = [by_id[cid] for cid in dict.fromkeys(contact_ids)]
    else:
        primary = client.primary_contact
        contacts = [primary] if primary else []
    contacts = [contact for contact in contacts if contact.email]
    if not contacts:
        raise BillingError(_l("This client has no contact with an email address."), "contact_ids")
    return contacts


def send_document(document: Invoice | Quote | CreditNote, contact_ids: list[int] | None = None) -> None:
    """"Send by email": finalize a draft, then queue an email with the PDF and a magic link to
    each recipient (the primary contact by default). The caller commits."""
    is_invoice = isinstance(document, Invoice)
    recipients = _recipients(document.client, contact_ids)
    if is_invoice:
        finalize_invoice(document)
        kind = "invoice"
    elif isinstance(document, CreditNote):
        finalize_credit_note(document)
        kind = "credit_note"
    else:
        finalize_quote(document)
        kind = "quote"
    # Each email's job renders the PDF it attaches (once, under the render lease): the render
    # job that finalizing queued would only race the first of them for the same PDF.
    discard(render_document_pdf, kind, document.id)
    for contact in recipients:
        send_templated(kind, document.client, contact.email, {"portal_link": magic_link(contact, document)},
                       contact=contact, document=document, attach_document_pdf=True)
    document.sent_at = document.sent_at or _now()
    activity.record(f"{kind}_emailed", document.client_id,
                    invoice_id=document.id if is_invoice else getattr(document, "invoice_id", None),
                    quote_id=document.id if isinstance(document, Quote) else None,
                    number=document.number, to=", ".join(contact.email for contact in recipients))


def send_statement(client: Client, contact_ids: list[int] | None = None) -> list[OutboxEmail]:
    """Email the client's account statement (balance due, overdue) with a sign-in link to the
    portal's statement, to the chosen contacts or the primary one. The caller commits."""
    summary = client_summary(client.id)
    language = _language_of(client)
    money = lambda amount: format_money(amount, client.currency or "EUR", language)  # noqa: E731
    recipients = _recipients(client, contact_ids)
    # The statement of account of the current year as a PDF, rendered once for every recipient.
    period = default_period()
    attachment = (statement_filename(client, period), "application/pdf", statement_pdf(client, period))
    emails = []
    for contact in recipients:
        emails.append(send_templated(
            "statement", client, contact.email, contact=contact, attachments=[attachment],
            context={"balance_due": money(summary["balance_due"]), "overdue_amount": money(summary["overdue"]),
                     "portal_link": magic_link(contact)},
        ))
    activity.record("statement_emailed", client.id, to=", ".join(email.to_email for email in emails))
    return emails


def send_payment_receipt(payment: Payment) -> None:
    """A receipt to the client's primary contact; once per payment, whoever asks."""
    invoice = payment.invoice
    contact = invoice.client.primary_contact
    if contact is None or not contact.email:
        return
    language = _language_of(invoice.client)
    send_templated(
        "payment_receipt", invoice.client, contact.email,
        {
            "payment_amount": format_money(payment.amount, invoice.currency, language),
            "payment_date": format_date(payment.date, language),
            "portal_link": magic_link(contact, invoice),
        },
        contact=contact, document=invoice, idempotency_key=f"payment_receipt:{payment.id}",
    )


def receipt_for_every_payment(payment: Payment, **_kwargs) -> None:
    """Connected to billing's `payment_recorded` (app.mail.init_app)."""
    send_payment_receipt(payment)


def email_auto_sent_recurring_invoice(invoice: Invoice, auto_send: bool = False, **_kwargs) -> None:
    """Connected to recurring's `invoice_generated` (app.mail.init_app): a schedule that sends
    automatically emails each invoice it makes, once: the email is queued in the transaction
    that made the invoice and its period's key."""
    if auto_send:
        send_document(invoice)


def send_portal_login_link(contact: Contact, url: str) -> None:
    """The link a contact asked for on /portal/login."""
    send_templated("portal_login", contact.client, contact.email, {"portal_link": url}, contact=contact)


def staff_address() -> str:
    company = get_company()
    return company.support_email or company.sender_email or current_app.config.get("MAIL_DEFAULT_SENDER") or ""


def notify_staff(kind: str, client: Client | None, context: Mapping[str, object]) -> OutboxEmail | None:
    """Tell the company's staff (support_email, else the sender address) that something happened:
    kinds new_ticket, quote_accepted, quote_rejected. Written in the company's language."""
    check_kind(kind, STAFF_KINDS)
    to_email = staff_address()
    if not to_email:
        return None
    document = context.get("document")
    contact = context.get("contact")
    values = {key: value for key, value in context.items() if key not in ("document", "contact")}
    values.setdefault("staff_link", f"{current_app.config['PUBLIC_BASE_URL']}/")
    return send_templated(kind, client, to_email, values,
                          contact=contact if isinstance(contact, Contact) else None,
                          document=document if isinstance(document, (Invoice, Quote)) else None,
                          language=get_company().locale)


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
