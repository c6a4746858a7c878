"""What a signed-in contact does to documents: opening one (viewed), deciding a quote.

The portal's views only translate the request and the errors; these are the rules, each
changing the session and leaving the commit to the caller.
"""
from __future__ import annotations

import datetime as dt

from flask import current_app
from sqlalchemy import update

from app.activity import services as activity
from app.billing.models import Invoice, Quote
from app.billing.services import decide_quote
from app.clients.models import Contact
from app.extensions import db
from app.mail.notifications import notify_staff
from app.portal.security import scoped


def mark_viewed(document: Invoice | Quote, contact: Contact) -> None:
    """The first portal view of a document stamps viewed_at and goes on the timeline, once,
    even when two tabs open it at the same moment."""
    model = type(document)
    marked = db.session.execute(
        update(model)
        .where(model.id == document.id, model.viewed_at.is_(None))
        .values(viewed_at=dt.datetime.now(dt.timezone.utc).replace(tzinfo=None), updated_at=model.updated_at)
        .execution_options(synchronize_session=False)
    )
    if marked.rowcount == 1:
        kind, key = ("invoice_viewed", "invoice_id") if model is Invoice else ("quote_viewed", "quote_id")
        activity.record(kind, document.client_id, number=document.number, actor=activity.contact_actor(contact), **{key: document.id})


def mark_all_viewed(invoices: list[Invoice], contact: Contact) -> None:
    """`mark_viewed` for many invoices (a ZIP download) in one UPDATE instead of one per invoice."""
    by_id = {invoice.id: invoice for invoice in invoices}
    marked = db.session.scalars(
        update(Invoice)
        .where(Invoice.id.in_(by_id), Invoice.viewed_at.is_(None))
        .values(viewed_at=dt.datetime.now(dt.timezone.utc).replace(tzinfo=None), updated_at=Invoice.updated_at)
        .returning(Invoice.id)
        .execution_options(synchronize_session=False)
    ).all()
    for invoice_id in sorted(marked):
        invoice = by_id[invoice_id]
        activity.record("invoice_viewed", invoice.client_id, number=invoice.number, actor=activity.contact_actor(contact),
                        invoice_id=invoice.id)


def decide_quote_as_contact(contact: Contact, quote_id: int, accepted: bool, reason: str) -> Quote | None:
    """Accept or reject one of the contact's client's quotes under a row lock (two clicks,
    one decision), and tell staff. None when the quote is not the contact's to decide;
    a BillingError when it can no longer be decided."""
    document = db.session.scalar(scoped(Quote).where(Quote.id == quote_id).with_for_update())
    if document is None:
        return None
    decide_quote(document, accepted, reason, actor=activity.contact_actor(contact))
    # The link in the staff email opens the admin quote page, where the client's note shows.
    staff_link = f"{current_app.config['PUBLIC_BASE_URL'].rstrip('/')}/quoteview/show/{document.id}"
    notify_staff("quote_accepted" if accepted else "quote_rejected", document.client,
                 {"document": document, "contact": contact, "decision_reason": reason, "staff_link": staff_link})
    return document
