"""Bulk data for the query-count tests, and counting the SQL statements a block issues."""
from __future__ import annotations

import contextlib
import datetime as dt
import itertools
from decimal import Decimal

from sqlalchemy import event, insert, select, update

from app.activity.models import Activity
from app.billing.accounts import rebuild_accounts
from app.billing.models import Invoice, Payment, Quote
from app.billing.rollups import rebuild_home_rollups
from app.clients.models import Client, Contact
from app.extensions import db
from app.mail.models import OutboxEmail
from app.tickets.models import Ticket
from tests.support.factories import TODAY

_numbers = itertools.count(1)


# sent, partial, paid, overdue (sent, past due), draft, cancelled: every status a page shows.
_SHAPES = ("sent", "partial", "paid", "overdue", "draft", "cancelled")


def add_documents(client_id: int, invoices: int, quotes: int | None = None) -> None:
    """Bulk-insert `invoices` invoices in every status (with payments and timeline entries)
    and `quotes` quotes for one client: fast enough to seed hundreds per test."""
    quotes = invoices if quotes is None else quotes
    invoice_rows, payment_rows, activity_rows = [], [], []
    first_id = next(_numbers) * 100_000
    for index in range(invoices):
        shape = _SHAPES[index % len(_SHAPES)]
        paid = {"paid": Decimal("122.00"), "partial": Decimal("22.00")}.get(shape, Decimal("0.00"))
        status = "sent" if shape == "overdue" else shape
        invoice_id = first_id + index
        invoice_rows.append({
            "id": invoice_id, "client_id": client_id, "status": status,
            "number": None if status == "draft" else f"T{invoice_id}",
            "issue_date": TODAY - dt.timedelta(days=60),
            "due_date": TODAY - dt.timedelta(days=5) if shape == "overdue" else TODAY + dt.timedelta(days=30),
            "subtotal": Decimal("100.00"), "tax_total": Decimal("22.00"), "total": Decimal("122.00"),
            "net_to_pay": Decimal("122.00"), "amount_paid": paid, "balance": Decimal("0.00") if status == "cancelled" else Decimal("122.00") - paid,
        })
        if paid:
            payment_rows.append({"invoice_id": invoice_id, "client_id": client_id, "amount": paid, "currency": "EUR",
                                 "date": TODAY - dt.timedelta(days=index % 300), "method": "bank_transfer"})
        activity_rows.append({"client_id": client_id, "kind": "invoice_sent", "params": {"number": f"T{invoice_id}"},
                              "invoice_id": invoice_id})
    quote_rows = [
        {"client_id": client_id, "status": ("draft", "sent", "accepted", "rejected", "expired")[index % 5],
         "number": f"Q{first_id + index}", "issue_date": TODAY, "valid_until": TODAY + dt.timedelta(days=30),
         "total": Decimal("122.00")}
        for index in range(quotes)
    ]
    for model, rows in ((Invoice, invoice_rows), (Payment, payment_rows), (Quote, quote_rows),
                        (Activity, activity_rows)):
        if rows:
            db.session.execute(insert(model), rows)
    rebuild_accounts([client_id])  # bulk INSERTs bypass the rollup listeners, as in app.demo
    rebuild_home_rollups()
    db.session.commit()


def add_clients(count: int) -> None:
    """Bulk-insert `count` clients, each with a contact and two open invoices."""
    base = next(_numbers) * 100_000
    db.session.execute(insert(Client), [{"id": base + i, "name": f"Bulk {base + i}", "email": f"b{base + i}@x.it"}
                                        for i in range(count)])
    db.session.execute(insert(Contact), [{"client_id": base + i, "name": "C", "email": f"c{base + i}@x.it",
                                          "is_primary": True} for i in range(count)])
    db.session.commit()
    for i in range(count):
        add_documents(base + i, 2, 0)


def convert_quotes(client_id: int) -> None:
    """Link the client's invoices to its quotes, as if each had been converted from one (the
    invoice list must not load each invoice's quote)."""
    quotes = db.session.scalars(select(Quote.id).where(Quote.client_id == client_id).order_by(Quote.id)).all()
    invoices = db.session.scalars(select(Invoice.id).where(Invoice.client_id == client_id,
                                                           Invoice.quote_id.is_(None))).all()
    for invoice_id, quote_id in zip(invoices, itertools.cycle(quotes)):
        db.session.execute(update(Invoice).where(Invoice.id == invoice_id).values(quote_id=quote_id))
    db.session.commit()


def add_outbox_and_tickets(client_id: int, count: int) -> None:
    """Bulk-insert `count` outbox emails and `count` tickets for the client (its first contact)."""
    contact_id = db.session.scalar(select(Contact.id).where(Contact.client_id == client_id).order_by(Contact.id))
    base = next(_numbers) * 100_000
    db.session.execute(insert(OutboxEmail), [
        {"idempotency_key": f"bulk-{base + i}", "kind": "invoice", "to_email": f"o{i}@x.it", "subject": f"S {i}",
         "body_text": "t", "body_html": "<p>t</p>", "status": ("sent", "failed", "queued")[i % 3],
         "client_id": client_id, "contact_id": contact_id} for i in range(count)])
    db.session.execute(insert(Ticket), [
        {"subject": f"Ticket {base + i}", "status": ("open", "answered", "closed")[i % 3], "client_id": client_id,
         "contact_id": contact_id} for i in range(count)])
    db.session.commit()


@contextlib.contextmanager
def counted_statements():
    counter = {"n": 0, "sql": []}

    def count(_conn, _cursor, statement, *_args):
        counter["n"] += 1
        counter["sql"].append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield counter
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
