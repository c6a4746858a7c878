"""Recording and reading the timeline. Messages are translated when read, not when written."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from babel.numbers import format_decimal
from flask import current_app, has_request_context
from flask_babel import gettext as _
from flask_login import current_user

from app.activity.models import Activity
from app.extensions import db
from app.i18n import current_language


def _amount(params: dict) -> str:
    """A stored amount ("1464.00") in the reader's number format ("1.464,00" in Italian)."""
    try:
        return format_decimal(Decimal(params.get("amount", "")), format="#,##0.00", locale=current_language())
    except InvalidOperation:
        return params.get("amount", "")


# kind → message template; params are filled in with str.format-style names.
MESSAGES = {
    "client_created": lambda p: _("Client created"),
    "invoice_created": lambda p: _("Invoice draft created"),
    "invoice_sent": lambda p: _("Invoice %(number)s finalized", number=p.get("number", "")),
    "invoice_cancelled": lambda p: _("Invoice %(number)s cancelled", number=p.get("number", "")),
    "invoice_viewed": lambda p: _("Invoice %(number)s viewed in the portal", number=p.get("number", "")),
    "payment_recorded": lambda p: _(
        "Payment of %(amount)s recorded on invoice %(number)s", amount=_amount(p), number=p.get("number", "")
    ),
    "invoice_paid": lambda p: _("Invoice %(number)s paid in full", number=p.get("number", "")),
    "payment_refunded": lambda p: _(
        "Refund of %(amount)s recorded on invoice %(number)s", amount=_amount(p), number=p.get("number", "")
    ),
    "online_payment_failed": lambda p: _("Online payment for invoice %(number)s failed", number=p.get("number", "")),
    "credit_note_created": lambda p: _("Credit note draft created for invoice %(number)s",
                                       number=p.get("number", "")),
    "credit_note_sent": lambda p: _("Credit note %(number)s of %(amount)s finalized", number=p.get("number", ""),
                                    amount=_amount(p)),
    "credit_note_emailed": lambda p: _("Credit note %(number)s emailed to %(to)s", number=p.get("number", ""),
                                       to=p.get("to", "")),
    "invoice_reopened": lambda p: _("Invoice %(number)s reopened for correction", number=p.get("number", "")),
    "credit_note_reopened": lambda p: _("Credit note %(number)s reopened for correction",
                                        number=p.get("number", "")),
    "quote_created": lambda p: _("Quote draft created"),
    "quote_sent": lambda p: _("Quote %(number)s finalized", number=p.get("number", "")),
    "quote_viewed": lambda p: _("Quote %(number)s viewed in the portal", number=p.get("number", "")),
    "quote_accepted": lambda p: _("Quote %(number)s accepted", number=p.get("number", "")),
    "quote_rejected": lambda p: _("Quote %(number)s rejected", number=p.get("number", "")),
    "quote_expired": lambda p: _("Quote %(number)s expired", number=p.get("number", "")),
    "statement_emailed": lambda p: _("Account statement emailed to %(to)s", to=p.get("to", "")),
    "portal_access_revoked": lambda p: _("Portal access revoked for %(contact)s", contact=p.get("contact", "")),
    "portal_access_restored": lambda p: _("Portal access restored for %(contact)s", contact=p.get("contact", "")),
    "quote_converted": lambda p: _(
        "Quote %(number)s converted into an invoice", number=p.get("number", "")
    ),
    "invoice_emailed": lambda p: _("Invoice %(number)s emailed to %(to)s", number=p.get("number", ""),
                                   to=p.get("to", "")),
    "quote_emailed": lambda p: _("Quote %(number)s emailed to %(to)s", number=p.get("number", ""), to=p.get("to", "")),
    "reminder_sent": lambda p: _("Reminder sent for invoice %(number)s (%(days)s days overdue)",
                                 number=p.get("number", ""), days=p.get("days", "")),
    "ticket_opened": lambda p: _("Ticket opened: %(subject)s", subject=p.get("subject", "")),
    "ticket_client_replied": lambda p: _("Client replied on ticket: %(subject)s", subject=p.get("subject", "")),
    "ticket_reopened_by_client": lambda p: _("Client reopened ticket: %(subject)s", subject=p.get("subject", "")),
    "ticket_answered": lambda p: _("Ticket answered: %(subject)s", subject=p.get("subject", "")),
    "ticket_closed": lambda p: _("Ticket closed: %(subject)s", subject=p.get("subject", "")),
    "ticket_reopened": lambda p: _("Ticket reopened: %(subject)s", subject=p.get("subject", "")),
}


def staff_name(user) -> str:
    """How a staff user appears on the timeline and in ticket threads: full name, else username."""
    if user is None:
        return ""
    full = f"{getattr(user, 'first_name', '') or ''} {getattr(user, 'last_name', '') or ''}".strip()
    return (full or getattr(user, "username", "") or "")[:200]


def contact_actor(contact) -> str:
    """How a client's contact appears on the timeline (whatever they did in the portal)."""
    return f"{contact.name} <{contact.email}>"[:200]  # a name and an address, in every language


def _actor() -> str:
    """The staff user behind the request: the admin's session, or the API's JWT identity."""
    if not has_request_context():
        return ""
    user = current_user if getattr(current_user, "is_authenticated", False) else None
    return staff_name(user or current_app.appbuilder.sm.current_user)


def record(kind: str, client_id: int, *, invoice_id: int | None = None, quote_id: int | None = None,
           actor: str | None = None, **params: object) -> Activity:
    """Add a timeline entry to the current transaction (the caller commits)."""
    entry = Activity(
        kind=kind,
        client_id=client_id,
        invoice_id=invoice_id,
        quote_id=quote_id,
        actor=_actor() if actor is None else actor,
        params={key: str(value) for key, value in params.items()},
    )
    db.session.add(entry)
    return entry


def describe(entry: Activity) -> str:
    """The entry's message in the current language."""
    message = MESSAGES.get(entry.kind)
    return message(entry.params or {}) if message else entry.kind
