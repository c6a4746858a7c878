"""The figures shown on the client 360 page, the business dashboard and the API summary.

This module is the one place where "total invoiced", "balance due", "overdue" and friends
are computed. Every function is a fixed number of SQL aggregates (GROUP BY / CASE) over the
totals stored on each document, so its cost in statements never depends on how many
invoices a client or the company has. "Overdue" is not a stored status: it is an open
invoice whose due date is before today, and it is counted here as a status of its own (the
client rollup keeps the invoices the periodic task has marked; see app.billing.accounts).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import and_, case, extract, func, literal, select, text

from app.activity.models import Activity
from app.billing.accounts import INVOICE_STATUSES, OVERDUE, ClientAccount
from app.billing.models import (
    OPEN_INVOICE,
    OPEN_INVOICE_STATUSES,
    SENT_QUOTE,
    UNMARKED_OPEN_INVOICE,
    Invoice,
    Payment,
    Quote,
    QuoteStatus,
)
from app.clients.models import Client
from app.extensions import db
from app.money import ZERO

INVOICE_CHIP_STATUSES = ("draft", "sent", "partial", "paid", OVERDUE, "cancelled")
QUOTE_CHIP_STATUSES = tuple(status.value for status in QuoteStatus)
AGING_BUCKETS = ("current", "1-30", "31-60", "61-90", "90+")


def _today(today: dt.date | None) -> dt.date:
    return today or dt.date.today()


def _money(value: object) -> Decimal:
    """Aggregates come back as Decimal (PostgreSQL) or sometimes int/str (SQLite): normalize."""
    if value is None:
        return ZERO
    return Decimal(str(value)).quantize(Decimal("0.01"))


def shown_quote_status(quote: Quote, today: dt.date) -> str:
    """The same rule for one loaded quote (the lists on the 360 page)."""
    if quote.status == QuoteStatus.SENT.value and quote.valid_until < today:
        return QuoteStatus.EXPIRED.value
    return quote.status


# ── One client ────────────────────────────────────────────────────────────────────────────

def client_summary(client_id: int, today: dt.date | None = None) -> dict[str, object]:
    """The client's figures, in one statement whatever the number of documents.

    - total_invoiced: the totals of every finalized, non-cancelled invoice (sent, partial, paid);
    - total_paid: what those invoices have received (the client's lifetime value);
    - balance_due: what is still open on them; overdue: the part of it past the due date;
    - invoices / quotes: {status: count}, with "overdue" as its own invoice status and a
      sent quote past its validity counted as "expired" (before the nightly job marks it).

    Totals, counts and the overdue invoices already marked by the periodic task come from the
    client's rollup row (`app.billing.accounts`). Only what has changed with the calendar
    since is counted here, on partial indexes that hold nothing else: open invoices past due
    but not marked yet, and sent quotes past their validity. Every count is count(*), so
    each index answers alone (an index-only scan on PostgreSQL, which the planner then
    prefers to reading every document of a large client).
    """
    today = _today(today)
    fallen_due = (Invoice.client_id == client_id, text(UNMARKED_OPEN_INVOICE), Invoice.due_date < today)

    def fallen_due_count(status: str):
        return select(func.count()).select_from(Invoice).where(*fallen_due, Invoice.status == status).scalar_subquery()

    account = db.session.execute(
        select(
            ClientAccount.__table__,
            fallen_due_count("sent").label("fallen_due_sent"),
            fallen_due_count("partial").label("fallen_due_partial"),
            select(func.sum(Invoice.balance)).where(*fallen_due).scalar_subquery().label("fallen_due_balance"),
            select(func.count()).select_from(Quote)
            .where(Quote.client_id == client_id, text(SENT_QUOTE), Quote.valid_until < today)
            .scalar_subquery().label("expired_quotes"),
        )
        .select_from(Client)
        .outerjoin(ClientAccount, ClientAccount.client_id == Client.id)
        .where(Client.id == client_id)
    ).mappings().first() or {}

    invoices = {status: int(account.get(f"invoices_{status}") or 0) for status in INVOICE_STATUSES}
    for status in OPEN_INVOICE_STATUSES:
        count = int(account.get(f"fallen_due_{status}") or 0)
        invoices[status] -= count
        invoices[OVERDUE] += count
    quotes = {status: int(account.get(f"quotes_{status}") or 0) for status in QUOTE_CHIP_STATUSES}
    expired = int(account.get("expired_quotes") or 0)
    quotes[QuoteStatus.SENT.value] -= expired
    quotes[QuoteStatus.EXPIRED.value] += expired

    return {
        "total_invoiced": _money(account.get("total_invoiced")),
        "total_paid": _money(account.get("total_paid")),
        "total_credited": _money(account.get("total_credited")),
        "balance_due": _money(account.get("balance_due")),
        "overdue": _money(account.get("overdue_balance")) + _money(account.get("fallen_due_balance")),
        "invoices": {status: count for status, count in invoices.items() if count},
        "quotes": {status: count for status, count in quotes.items() if count},
    }


# ── The whole business ────────────────────────────────────────────────────────────────────

@dataclass
class Receivables:
    """Open invoices of one currency: what is owed, what is late, and how late."""

    currency: str
    total: Decimal = ZERO
    open_count: int = 0
    overdue_total: Decimal = ZERO
    overdue_count: int = 0
    aging: dict[str, Decimal] = field(default_factory=lambda: {bucket: ZERO for bucket in AGING_BUCKETS})


def aging_bucket_expression(today: dt.date):
    """SQL naming the aging bucket of an open invoice by days past its due date."""
    return case(
        (Invoice.due_date >= today, literal("current")),
        (Invoice.due_date >= today - dt.timedelta(days=30), literal("1-30")),
        (Invoice.due_date >= today - dt.timedelta(days=60), literal("31-60")),
        (Invoice.due_date >= today - dt.timedelta(days=90), literal("61-90")),
        else_=literal("90+"),
    )


def receivables(today: dt.date | None = None) -> dict[str, Receivables]:
    """Open invoices per currency, split into aging buckets: one statement.

    Amounts in different currencies are never added together; the dashboard shows the
    company's currency first and any other currency beside it.
    """
    today = _today(today)
    bucket = aging_bucket_expression(today).label("bucket")
    rows = db.session.execute(
        select(Invoice.currency, bucket, func.count(), func.sum(Invoice.balance))
        .where(text(OPEN_INVOICE))
        .group_by(Invoice.currency, bucket)
    ).all()
    result: dict[str, Receivables] = {}
    for currency, bucket_name, count, balance in rows:
        entry = result.setdefault(currency, Receivables(currency))
        amount = _money(balance)
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
    received = {(int(y), int(m)): _money(amount) for y, m, amount in rows}
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
        {"client_id": client_id, "name": name, "balance_due": _money(amount), "open_invoices": int(count)}
        for client_id, name, amount, count in rows
    ]


def quotes_awaiting_answer(limit: int = 8, today: dt.date | None = None) -> dict[str, object]:
    """Sent quotes nobody has accepted or rejected yet: how many, and the ones expiring first.

    Two statements: the count and the short list (with the client's name joined in).
    """
    today = _today(today)
    awaiting = and_(Quote.status == QuoteStatus.SENT.value, Quote.valid_until >= today)
    count = db.session.scalar(select(func.count(Quote.id)).where(awaiting)) or 0
    rows = db.session.execute(
        select(Quote.id, Quote.number, Quote.total, Quote.currency, Quote.valid_until, Client.id, Client.name)
        .join(Client, Client.id == Quote.client_id)
        .where(awaiting)
        .order_by(Quote.valid_until, Quote.id)
        .limit(limit)
    ).all()
    items = [
        {"id": quote_id, "number": number, "total": _money(total), "currency": cur, "valid_until": valid_until,
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

