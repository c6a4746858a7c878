"""Email templates: the global ones and a client's own, the placeholder values a document or a
contact fills in, rendering them (in the sandbox) and previewing them.

Every function that writes adds rows to the current transaction and leaves the commit to the caller.
"""
from __future__ import annotations

import datetime as dt
from typing import Iterable, Mapping

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.billing.models import CreditNote, Invoice, Quote
from app.clients.models import Client, Contact
from app.company.services import get_company
from app.extensions import db
from app.i18n import format_date, format_money, normalize_language
from app.mail.defaults import DEFAULT_TEMPLATES
from app.mail.links import sign_in_link
from app.mail.models import CLIENT_KINDS, EMAIL_KINDS, STAFF_KINDS, ClientEmailTemplate, EmailTemplate
from app.mail.sandbox import RenderedEmail, TemplateRefused, render, sample_values, validate_template



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
