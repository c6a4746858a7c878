"""The document state machine, in one place: per kind (invoice, quote, credit note) and stored
status, the actions that apply, and the status people read (label and chip).

Everything that offers or refuses an action reads `TRANSITIONS` through `actions_for` /
`allows`: the admin's buttons (app/billing/views.py, templates/admin/document_show.html) and
the services that refuse (app/billing/services.py). Everything that shows a status reads
`shown_status`: the admin lists and pages, the client page, the dashboards and the portal.

Two statuses are shown but never stored, because they follow from other facts:
- "overdue": an open invoice (sent or partly paid) past its due date;
- "issued" ("Emessa"): a finalized document nobody has emailed yet (`emailed_at` is empty;
  finalizing records `sent_at`, sending by email records `emailed_at`).
A sent quote past its validity shows as "expired" before the nightly job marks it.

This module imports no model (models import it), so a document's kind is its table name.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from markupsafe import Markup
from sqlalchemy import and_

from app.billing.labels import (
    CREDIT_NOTE_STATUS_LABELS,
    INVOICE_STATUS_LABELS,
    QUOTE_STATUS_LABELS,
    STATUS_STYLES,
)

INVOICE, QUOTE, CREDIT_NOTE = "invoice", "quote", "credit_note"

# The actions.
FINALIZE = "finalize"
SEND = "send"
RECORD_PAYMENT = "record_payment"
CANCEL = "cancel"
ACCEPT = "accept"
REJECT = "reject"
CONVERT = "convert"
NEW_CREDIT_NOTE = "credit_note"
REOPEN = "reopen"  # for correction, after SdI rejected the file
EDIT = "edit"
DELETE = "delete"

# Statuses shown, never stored (see the module docstring).
OVERDUE = "overdue"
ISSUED = "issued"
EXPIRED = "expired"

# "Overdue" is not stored: it is an open invoice whose due date has passed.
OPEN_INVOICE_STATUSES = ("sent", "partial")
# Invoices that count as invoiced (and towards balances): finalized and not cancelled.
BILLED_INVOICE_STATUSES = ("sent", "partial", "paid")

TRANSITIONS: dict[str, dict[str, frozenset[str]]] = {
    INVOICE: {
        "draft": frozenset({FINALIZE, SEND, CANCEL, EDIT, DELETE}),
        "sent": frozenset({SEND, RECORD_PAYMENT, CANCEL, NEW_CREDIT_NOTE, REOPEN}),
        "partial": frozenset({SEND, RECORD_PAYMENT, NEW_CREDIT_NOTE, REOPEN}),
        "paid": frozenset({SEND, NEW_CREDIT_NOTE, REOPEN}),
        "cancelled": frozenset(),
    },
    QUOTE: {
        "draft": frozenset({FINALIZE, SEND, EDIT, DELETE}),
        "sent": frozenset({SEND, ACCEPT, REJECT}),
        "accepted": frozenset({SEND, CONVERT}),
        "rejected": frozenset(),
        "expired": frozenset(),
    },
    CREDIT_NOTE: {
        "draft": frozenset({FINALIZE, SEND, EDIT, DELETE}),
        "sent": frozenset({SEND, REOPEN}),
    },
}

LABELS = {INVOICE: INVOICE_STATUS_LABELS, QUOTE: QUOTE_STATUS_LABELS, CREDIT_NOTE: CREDIT_NOTE_STATUS_LABELS}


def kind_of(document) -> str:
    return document.__tablename__


def allowed(kind: str, status: str) -> frozenset[str]:
    """The actions of a stored status (none for an unknown one)."""
    return TRANSITIONS[kind].get(status, frozenset())


def actions_for(document) -> frozenset[str]:
    """What may be done to this document now: its status's actions, less those a fact rules
    out (an invoice with payments cannot be cancelled; a quote converts once)."""
    actions = allowed(kind_of(document), document.status)
    if CANCEL in actions and document.payments:
        actions -= {CANCEL}
    if CONVERT in actions and document.invoices:
        actions -= {CONVERT}
    return actions


def allows(document, action: str) -> bool:
    return action in allowed(kind_of(document), document.status)


def is_open(status: str) -> bool:
    """An invoice that is finalized and not (yet) fully paid."""
    return status in OPEN_INVOICE_STATUSES


def is_overdue(document, today: dt.date | None = None) -> bool:
    return (kind_of(document) == INVOICE and is_open(document.status)
            and document.due_date < (today or dt.date.today()))


def shown_status(document, today: dt.date | None = None) -> str:
    """The status a person reads: overdue before anything else, then a finalized document
    not emailed yet reads "issued", a sent quote past its validity "expired"."""
    today = today or dt.date.today()
    kind, status = kind_of(document), document.status
    if is_overdue(document, today):
        return OVERDUE
    if kind == QUOTE and status == "sent" and document.valid_until < today:
        return EXPIRED
    if status == "sent" and document.emailed_at is None:
        return ISSUED
    return status


def status_label(kind: str, status: str) -> str:
    labels = LABELS[kind]
    return labels.get(status, status)


def status_chip(kind: str, status: str) -> Markup:
    """A status (stored or shown) as the coloured chip staff learn once."""
    return Markup('<span class="label label-{} status-{}">{}</span>').format(
        STATUS_STYLES.get(status, "default"), status, status_label(kind, status)
    )


def document_chip(document, today: dt.date | None = None) -> Markup:
    return status_chip(kind_of(document), shown_status(document, today))


def portal_status(document, today: dt.date | None = None) -> str:
    """What the client reads: to them an issued invoice is one to pay and a sent quote one
    that awaits their answer, whether or not it was emailed."""
    shown = shown_status(document, today)
    if shown == ISSUED:
        shown = "sent"
    if kind_of(document) == QUOTE and shown == "sent":
        return "awaiting"
    return shown


def awaiting_answer(quote_model, today: dt.date):
    """The SQL of a quote that awaits the client's answer: sent and still valid (the rows
    `portal_status` calls "awaiting"); `quote_model` is app.billing.models.Quote."""
    return and_(quote_model.status == "sent", quote_model.valid_until >= today)


def owes(document) -> bool:
    """Something is owed on it: an open invoice (a draft or a cancelled one owes nothing)."""
    return kind_of(document) == INVOICE and is_open(document.status)


def balance_due(document) -> Decimal | None:
    """The balance to show, or None where nothing is owed (drafts, cancelled, quotes …)."""
    return document.balance if owes(document) else None


def status_after_payments(status: str, net_to_pay: Decimal, amount_paid: Decimal, balance: Decimal) -> str:
    """A finalized invoice's status from its figures: paid once nothing is left of the net to
    pay, partly paid once something was paid; drafts and cancelled invoices stay as they are."""
    if status in ("draft", "cancelled"):
        return status
    if net_to_pay > 0 and balance <= 0 or net_to_pay <= 0:
        return "paid"
    if amount_paid > 0:
        return "partial"
    return "sent"


def chip_for(kind: str):
    """A list column's formatter: the chip of a status of `kind`."""
    return lambda status: status_chip(kind, status)
