"""The emails the application sends on its own or on a user's "send": a document, a statement,
a payment receipt, a portal sign-in link, and the notes to staff. Each one goes through the
outbox (`app.mail.outbox.send_templated`); the caller commits.
"""
from __future__ import annotations

from typing import Mapping

from flask import current_app
from flask_babel import lazy_gettext as _l

from app.activity import services as activity
from app.billing.accounts import client_summary
from app.billing.models import CreditNote, Invoice, Payment, Quote
from app.billing.services import BillingError, finalize_credit_note, finalize_invoice, finalize_quote
from app.clients.models import Client, Contact
from app.company.services import get_company
from app.i18n import format_date, format_money
from app.jobs import discard
from app.mail.models import STAFF_KINDS, OutboxEmail
from app.mail.outbox import _now, send_templated
from app.mail.templating import _language_of, check_kind, magic_link
from app.pdf.jobs import render_document_pdf
from app.pdf.statement import default_period, statement_filename, statement_pdf



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
    document.emailed_at = document.emailed_at or _now()  # from "issued" to "sent" (app.billing.states)
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
