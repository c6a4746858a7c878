"""The figures of the business dashboard; one client's summary is billing's
(`app.billing.accounts.client_summary`, also behind the API and the statement email).

Every function is a fixed number of SQL aggregates (GROUP BY / CASE) over the totals stored
on each document, so its cost in statements never depends on how many invoices a client or
the company has. "Overdue" is not a stored status: it is an open invoice whose due date is
before today.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import extract, func, select, text

from app.activity.models import Activity
from app.billing import states
from app.billing.aging import AGING_KEYS, bucket_expression
from app.billing.models import OPEN_INVOICE, Invoice, Payment, Quote
from app.clients.models import Client
from app.extensions import db
from app.money import ZERO, stored_amount



def _today(today: dt.date | None) -> dt.date:
    return today or dt.date.today()


# ── The whole business ────────────────────────────────────────────────────────────────────

@dataclass
class Receivables:
    """Open invoices of one currency: what is owed, what is late, and how late."""

    currency: str
    total: Decimal = ZERO
    open_count: int = 0
    overdue_total: Decimal = ZERO
    overdue_count: int = 0
    aging: dict[str, Decimal] = field(default_factory=lambda: {bucket: ZERO for bucket in AGING_KEYS})


def receivables(today: dt.date | None = None) -> dict[str, Receivables]:
    """Open invoices per currency, split into aging buckets: one statement.

    Amounts in different currencies are never added together; the dashboard shows the
    company's currency first and any other currency beside it.
    """
    today = _today(today)
    bucket = bucket_expression(today).label("bucket")
    rows = db.session.execute(
        select(Invoice.currency, bucket, func.count(), func.sum(Invoice.balance))
        .where(text(OPEN_INVOICE))
        .group_by(Invoice.currency, bucket)
    ).all()
    result: dict[str, Receivables] = {}
    for currency, bucket_name, count, balance in rows:
        entry = result.setdefault(currency, Receivables(currency))
        amount = stored_amount(balance)
        entry.aging[bucket_name] = amount
        entry.total += amount
        entry.open_count += int(count)
        if bucket_name != "current":
            entry.overdue_total += amount
            entry.overdue_count += int(count)
    return result


def _month_starts(today: dt.date, months: int) -> list[dt.date]:
    first = today.replace(day=1)
    starts = []
    for back in range(months - 1, -1, -1):
        year, month = divmod(first.year * 12 + first.month - 1 - back, 12)
        starts.append(dt.date(year, month + 1, 1))
    return starts


def revenue_by_month(currency: str, today: dt.date | None = None, months: int = 12) -> list[tuple[dt.date, Decimal]]:
    """Payments received per calendar month for the last `months` months (oldest first),
    including months with nothing received: one statement."""
    starts = _month_starts(_today(today), months)
    year = extract("year", Payment.date)
    month = extract("month", Payment.date)
    rows = db.session.execute(
        select(year, month, func.sum(Payment.amount))
        .where(Payment.currency == currency, Payment.date >= starts[0])
        .group_by(year, month)
    ).all()
    received = {(int(y), int(m)): stored_amount(amount) for y, m, amount in rows}
    return [(start, received.get((start.year, start.month), ZERO)) for start in starts]


def top_clients_by_balance(currency: str, limit: int = 10) -> list[dict[str, object]]:
    """The clients who owe the most (open invoices in `currency`): one statement."""
    balance = func.sum(Invoice.balance).label("balance")
    rows = db.session.execute(
        select(Client.id, Client.name, balance, func.count())
        .join(Invoice, Invoice.client_id == Client.id)
        .where(text(f"invoice.{OPEN_INVOICE}"), Invoice.currency == currency)
        .group_by(Client.id, Client.name)
        .order_by(balance.desc(), Client.id)
        .limit(limit)
    ).all()
    return [
        {"client_id": client_id, "name": name, "balance_due": stored_amount(amount), "open_invoices": int(count)}
        for client_id, name, amount, count in rows
    ]


def quotes_awaiting_answer(limit: int = 8, today: dt.date | None = None) -> dict[str, object]:
    """Sent quotes nobody has accepted or rejected yet: how many, and the ones expiring first.

    Two statements: the count and the short list (with the client's name joined in).
    """
    today = _today(today)
    awaiting = states.awaiting_answer(Quote, today)
    count = db.session.scalar(select(func.count(Quote.id)).where(awaiting)) or 0
    rows = db.session.execute(
        select(Quote.id, Quote.number, Quote.total, Quote.currency, Quote.valid_until, Client.id, Client.name)
        .join(Client, Client.id == Quote.client_id)
        .where(awaiting)
        .order_by(Quote.valid_until, Quote.id)
        .limit(limit)
    ).all()
    items = [
        {"id": quote_id, "number": number, "total": stored_amount(total), "currency": cur, "valid_until": valid_until,
         "client_id": client_id, "client_name": client_name}
        for quote_id, number, total, cur, valid_until, client_id, client_name in rows
    ]
    return {"count": int(count), "items": items}


def recent_activity(limit: int = 10, client_id: int | None = None) -> list[tuple[Activity, str]]:
    """The latest timeline entries with their client's name: one statement."""
    query = (
        select(Activity, Client.name)
        .join(Client, Client.id == Activity.client_id)
        .order_by(Activity.created_at.desc(), Activity.id.desc())
        .limit(limit)
    )
    if client_id is not None:
        query = query.where(Activity.client_id == client_id)
    return [(entry, name) for entry, name in db.session.execute(query).all()]


def open_tickets(client_id: int | None = None) -> int:
    """How many support tickets wait for staff (status "open": new, or the client wrote last),
    of one client or of all; one COUNT, the same rule as the badge in the admin menu."""
    from app.tickets.services import waiting_count

    return waiting_count(client_id)


def business_overview(currency: str, today: dt.date | None = None) -> dict[str, object]:
    """Everything on the admin's home page, in a fixed number of statements."""
    today = _today(today)
    per_currency = receivables(today)
    main = per_currency.get(currency, Receivables(currency))
    return {
        "currency": currency,
        "receivables": main,
        "other_currencies": [entry for code, entry in sorted(per_currency.items()) if code != currency],
        "revenue_by_month": revenue_by_month(currency, today),
        "top_clients": top_clients_by_balance(currency),
        "quotes_awaiting": quotes_awaiting_answer(today=today),
        "open_tickets": open_tickets(),
        "recent_activity": recent_activity(),
    }

