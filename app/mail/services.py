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
from email.utils import formataddr
from typing import Iterable, Mapping

import flask_mail
from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, or_, select, update

from app.activity import services as activity
from app.billing.models import Invoice, Payment, Quote
from app.billing.services import BillingError, finalize_invoice, finalize_quote
from app.billing.signals import payment_recorded
from app.clients.models import Client, Contact
from app.company.services import get_company
from app.extensions import db, mail
from app.i18n import format_date, format_money, normalize_language
from app.jobs import enqueue
from app.mail.defaults import DEFAULT_TEMPLATES
from app.mail.models import (
    CLIENT_KINDS,
    EMAIL_KINDS,
    STAFF_KINDS,
    ClientEmailTemplate,
    EmailTemplate,
    OutboxAttachment,
    OutboxEmail,
    OutboxStatus,
)
from app.mail.sandbox import RenderedEmail, TemplateRefused, render, sample_values, validate_template
from app.pdf.statement import default_period, statement_filename, statement_pdf

log = logging.getLogger(__name__)

SMTP_TIMEOUT_SECONDS = 30
# A row left in "sending" longer than this belongs to a worker that died: it is retried.
DEFAULT_SENDING_TIMEOUT = dt.timedelta(minutes=10)


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
    else:
        values.update(document_kind=_("quote"), valid_until=format_date(document.valid_until, language))
    return values


def portal_target(document: Invoice | Quote | None) -> str:
    if isinstance(document, Invoice):
        return f"/portal/invoices/{document.id}"
    return "/portal/"


def magic_link(contact: Contact | None, document: Invoice | Quote | None = None, purpose: str | None = None) -> str:
    """A sign-in link into the portal for `contact`, landing on `document`; plain portal URL without one."""
    if contact is None:
        return f"{current_app.config['PUBLIC_BASE_URL']}/portal/login"
    from app.portal.tokens import issue_sign_in_link

    kind = "invoice" if isinstance(document, Invoice) else "quote" if isinstance(document, Quote) else "statement"
    return issue_sign_in_link(contact, target=portal_target(document), purpose=purpose or kind)


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
    email = OutboxEmail(
        idempotency_key=idempotency_key or f"{kind}:{uuid.uuid4().hex}",
        kind=kind,
        language=language,
        sender=_sender(),
        to_email=to_email.strip(),
        subject=rendered.subject,
        body_text=rendered.text,
        body_html=html,
        status=OutboxStatus.QUEUED.value,
        client_id=client.id if client else None,
        contact_id=contact.id if contact else None,
        invoice_id=document.id if isinstance(document, Invoice) else None,
        quote_id=document.id if isinstance(document, Quote) else None,
    )
    for filename, mime_type, content in attachments:
        email.attachments.append(OutboxAttachment(filename=filename, mime_type=mime_type, content=content))
    if attach_document_pdf and document is not None:
        from app.pdf.service import pdf_filename

        email.attachments.append(OutboxAttachment(
            filename=pdf_filename(document), mime_type="application/pdf",
            document_kind="invoice" if isinstance(document, Invoice) else "quote", document_id=document.id,
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


def send_document(document: Invoice | Quote, contact_ids: list[int] | None = None) -> None:
    """"Send by email": finalize a draft, then queue an email with the PDF and a magic link to
    each recipient (the primary contact by default). The caller commits."""
    is_invoice = isinstance(document, Invoice)
    recipients = _recipients(document.client, contact_ids)
    if is_invoice:
        finalize_invoice(document)
    else:
        finalize_quote(document)
    kind = "invoice" if is_invoice else "quote"
    for contact in recipients:
        send_templated(kind, document.client, contact.email, {"portal_link": magic_link(contact, document)},
                       contact=contact, document=document, attach_document_pdf=True)
    document.sent_at = document.sent_at or _now()
    activity.record(f"{kind}_emailed", document.client_id,
                    invoice_id=document.id if is_invoice else None, quote_id=None if is_invoice else document.id,
                    number=document.number, to=", ".join(contact.email for contact in recipients))


def send_statement(client: Client, contact_ids: list[int] | None = None) -> list[OutboxEmail]:
    """Email the client's account statement (balance due, overdue) with a sign-in link to the
    portal's statement, to the chosen contacts or the primary one. The caller commits."""
    from app.dashboard.queries import client_summary

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


@payment_recorded.connect
def _receipt_for_every_payment(payment: Payment, **_kwargs) -> None:
    send_payment_receipt(payment)


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
    from app.pdf.service import pdf_for

    model = Invoice if attachment.document_kind == "invoice" else Quote
    document = db.session.get(model, attachment.document_id)
    if document is None:
        raise LookupError(f"{attachment.document_kind} {attachment.document_id} no longer exists")
    return pdf_for(document)


def build_message(email: OutboxEmail) -> flask_mail.Message:
    message = flask_mail.Message(
        subject=email.subject,
        recipients=[email.to_email],
        body=email.body_text,
        html=email.body_html,
        sender=email.sender or current_app.config.get("MAIL_DEFAULT_SENDER"),
        extra_headers={"X-Clientela-Outbox": str(email.id)},
    )
    for attachment in email.attachments:
        message.attach(attachment.filename, attachment.mime_type, _attachment_bytes(attachment))
    return message


def _claim(email_id: int) -> bool:
    """queued/failed (or a stale "sending") → sending, in one conditional UPDATE: of two
    workers holding the same job, exactly one gets the row."""
    now = _now()
    timeout = current_app.config.get("MAIL_SENDING_TIMEOUT", DEFAULT_SENDING_TIMEOUT)
    result = db.session.execute(
        update(OutboxEmail)
        .where(
            OutboxEmail.id == email_id,
            or_(
                OutboxEmail.status.in_([OutboxStatus.QUEUED.value, OutboxStatus.FAILED.value]),
                and_(OutboxEmail.status == OutboxStatus.SENDING.value, OutboxEmail.claimed_at < now - timeout),
            ),
        )
        .values(status=OutboxStatus.SENDING.value, claimed_at=now, attempts=OutboxEmail.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount == 1


def deliver_email(email_id: int) -> str:
    """The send job: claim the row, send it, record the outcome. Safe to run any number of
    times: only a claimed row is sent. Raises on SMTP failure so RQ retries it later."""
    if not _claim(email_id):
        return "skipped"
    email = db.session.get(OutboxEmail, email_id, populate_existing=True)
    if not smtp_configured():
        email.status = OutboxStatus.NOT_CONFIGURED.value
        email.error = "MAIL_SERVER is not set: recorded in the outbox only."
        db.session.commit()
        return email.status
    try:
        message = build_message(email)
        state = mail.init_mail(current_app.config, current_app.debug, current_app.testing)
        with _Connection(state) as connection:
            connection.send(message)
    except Exception as exc:
        db.session.rollback()
        email = db.session.get(OutboxEmail, email_id)
        email.status = OutboxStatus.FAILED.value
        email.error = f"{type(exc).__name__}: {exc}"[:2000]
        db.session.commit()
        raise
    email.status = OutboxStatus.SENT.value
    email.sent_at = _now()
    email.error = ""
    db.session.commit()
    return email.status


def resend(email: OutboxEmail) -> bool:
    """Queue a failed (or never-configured) email again; the caller commits."""
    if email.status not in (OutboxStatus.FAILED.value, OutboxStatus.NOT_CONFIGURED.value):
        return False
    email.status = OutboxStatus.QUEUED.value
    enqueue(deliver_email, email.id, job_id=f"email-{email.id}-{email.attempts}")
    return True


def requeue_stale_emails(older_than: dt.timedelta = dt.timedelta(minutes=5)) -> int:
    """Queue again emails no job finished: queued for long, or "sending" past the timeout
    (a worker killed mid-send). Run by the scheduler; the claim keeps it exactly-once."""
    now = _now()
    timeout = current_app.config.get("MAIL_SENDING_TIMEOUT", DEFAULT_SENDING_TIMEOUT)
    ids = db.session.scalars(
        select(OutboxEmail.id).where(or_(
            and_(OutboxEmail.status == OutboxStatus.QUEUED.value, OutboxEmail.created_at < now - older_than),
            and_(OutboxEmail.status == OutboxStatus.SENDING.value, OutboxEmail.claimed_at < now - timeout),
        ))
    ).all()
    for email_id in ids:
        enqueue(deliver_email, email_id)
    return len(ids)
