"""The figures of the business dashboard; one client's summary is billing's
(`app.billing.accounts.client_summary`, also behind the API and the statement email).

The home page reads rollups kept in step with the documents (`app.billing.rollups`: open
invoices per currency and due date, payments per currency and month, quotes per status;
`app.billing.accounts.ClientBalance`: each client's balance per currency), so each figure is
one statement over a handful of rows, whatever the number of clients and invoices. "Overdue"
is not a stored status: it is an open invoice whose due date is before today, and the aging
buckets are cut from the due dates at read time.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select

from app.activity.models import Activity
from app.billing import rollups, states
from app.billing.accounts import ClientBalance
from app.billing.aging import AGING_KEYS
from app.billing.models import Quote
from app.clients.models import Client
from app.extensions import db
from app.money import ZERO, stored_amount
from app.tickets.services import waiting_count


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
    """Open invoices per currency, split into aging buckets: one statement on the rollup.

    Amounts in different currencies are never added together; the dashboard shows the
    company's currency first and any other currency beside it.
    """
    result: dict[str, Receivables] = {}
    for currency, bucket_name, count, amount in rollups.receivable_rows(_today(today)):
        entry = result.setdefault(currency, Receivables(currency))
        entry.aging[bucket_name] = amount
        entry.total += amount
        entry.open_count += count
        if bucket_name != "current":
            entry.overdue_total += amount
            entry.overdue_count += count
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
    including months with nothing received: one statement on the rollup."""
    starts = _month_starts(_today(today), months)
    received = rollups.revenue_rows(currency, starts[0])
    return [(start, received.get(start, ZERO)) for start in starts]


def top_clients_by_balance(currency: str, limit: int = 10) -> list[dict[str, object]]:
    """The clients who owe the most (open invoices in `currency`): one statement, the first
    `limit` entries of the balance index."""
    rows = db.session.execute(
        select(Client.id, Client.name, ClientBalance.balance_due, ClientBalance.open_invoices)
        .join(Client, Client.id == ClientBalance.client_id)
        .where(ClientBalance.currency == currency, ClientBalance.open_invoices > 0)
        .order_by(ClientBalance.balance_due.desc(), ClientBalance.client_id)
        .limit(limit)
    ).all()
    return [
        {"client_id": client_id, "name": name, "balance_due": stored_amount(amount), "open_invoices": int(count)}
        for client_id, name, amount, count in rows
    ]


def quotes_awaiting_answer(limit: int = 8, today: dt.date | None = None) -> dict[str, object]:
    """Sent quotes nobody has accepted or rejected yet: how many, and the ones expiring first.

    Two statements: the count (from the quote rollup) and the short list (the first entries
    of the status and validity index, with the client's name joined in).
    """
    today = _today(today)
    awaiting = states.awaiting_answer(Quote, today)
    count = rollups.quotes_awaiting_count(today)
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


def recent_activity(limit: int = 10) -> list[tuple[Activity, str]]:
    """The latest timeline entries of every client, with the client's name: one statement.
    (The 360 page reads one client's timeline with its quote notes, app/dashboard/client.py.)"""
    query = (
        select(Activity, Client.name)
        .join(Client, Client.id == Activity.client_id)
        .order_by(Activity.created_at.desc(), Activity.id.desc())
        .limit(limit)
    )
    return [(entry, name) for entry, name in db.session.execute(query).all()]


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
        "open_tickets": waiting_count(),  # the menu badge's count, read once per request
        "recent_activity": recent_activity(),
    }

