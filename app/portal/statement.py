"""The client's statement: what they owe, how late, and what is waiting for them.

Every figure is a SQL aggregate over the stored invoice balances (on an index that holds only
the client's open invoices by due date), so the page costs the same handful of queries for a
client with three invoices or three thousand. Lists are short: the most urgent open invoices
and the quotes expiring first, each with a link to its full, paginated list.

The rendered statement is kept per process (`RenderedStatements`), keyed by the client's
documents version: a contact reloading the page runs none of these queries.
"""
from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Hashable

from sqlalchemy import case, func, select
from sqlalchemy.orm import lazyload

from app.billing import states
from app.billing.aging import AGING_BUCKETS, past_due_between
from app.billing.models import OPEN_INVOICE_STATUSES, Invoice, Payment, Quote
from app.extensions import db
from app.money import ZERO

RECENT_PAYMENTS = 10
OPEN_INVOICES_SHOWN = 10
QUOTES_SHOWN = 10
RENDERED_STATEMENTS_KEPT = 1000  # a statement is a few kilobytes


@dataclass
class Balance:
    """What the client owes in one currency."""

    currency: str
    total_due: Decimal = ZERO
    overdue: Decimal = ZERO
    open_count: int = 0
    aging: dict[str, Decimal] = field(default_factory=dict)


@dataclass
class Statement:
    balances: list[Balance]
    open_invoices: list[Invoice]
    recent_payments: list[dict]
    quotes_awaiting: list[Quote]
    # More than shown: the page links to the full list.
    more_open_invoices: bool = False
    more_quotes_awaiting: bool = False


def balances(client_id: int, today: dt.date) -> list[Balance]:
    """Total due, overdue and aging per currency, in one query."""

    def sum_where(condition):
        return func.coalesce(func.sum(case((condition, Invoice.balance), else_=0)), 0)

    rows = db.session.execute(
        select(
            Invoice.currency,
            func.count(Invoice.id),
            func.coalesce(func.sum(Invoice.balance), 0),
            sum_where(Invoice.due_date < today),
            *(sum_where(past_due_between(today, fewest, most)) for _key, fewest, most in AGING_BUCKETS),
        )
        .where(Invoice.client_id == client_id, Invoice.status.in_(OPEN_INVOICE_STATUSES))
        .group_by(Invoice.currency)
        .order_by(Invoice.currency)
    ).all()
    return [
        Balance(
            currency=currency,
            total_due=Decimal(total_due),
            overdue=Decimal(overdue),
            open_count=count,
            aging={key: Decimal(value) for (key, _f, _m), value in zip(AGING_BUCKETS, aging)},
        )
        for currency, count, total_due, overdue, *aging in rows
    ]


def build_statement(client_id: int, today: dt.date | None = None) -> Statement:
    today = today or dt.date.today()
    open_invoices = db.session.scalars(
        select(Invoice)
        .options(lazyload(Invoice.lines), lazyload(Invoice.payments), lazyload(Invoice.client))
        .where(Invoice.client_id == client_id, Invoice.status.in_(OPEN_INVOICE_STATUSES))
        .order_by(Invoice.due_date, Invoice.id)
        .limit(OPEN_INVOICES_SHOWN + 1)
    ).all()
    payments = db.session.execute(
        select(Payment.id, Payment.amount, Payment.date, Payment.method, Invoice.id, Invoice.number, Invoice.currency)
        .join(Invoice, Payment.invoice_id == Invoice.id)
        .where(Payment.client_id == client_id, Invoice.client_id == client_id)
        .order_by(Payment.date.desc(), Payment.id.desc())
        .limit(RECENT_PAYMENTS)
    ).all()
    quotes = db.session.scalars(
        select(Quote)
        .options(lazyload(Quote.lines), lazyload(Quote.client))
        .where(Quote.client_id == client_id, states.awaiting_answer(Quote, today))
        .order_by(Quote.valid_until, Quote.id)
        .limit(QUOTES_SHOWN + 1)
    ).all()
    return Statement(
        balances=balances(client_id, today),
        open_invoices=list(open_invoices[:OPEN_INVOICES_SHOWN]),
        more_open_invoices=len(open_invoices) > OPEN_INVOICES_SHOWN,
        recent_payments=[
            {"amount": amount, "date": date, "method": method, "invoice_id": invoice_id, "number": number,
             "currency": currency}
            for _id, amount, date, method, invoice_id, number, currency in payments
        ],
        quotes_awaiting=list(quotes[:QUOTES_SHOWN]),
        more_quotes_awaiting=len(quotes) > QUOTES_SHOWN,
    )


class RenderedStatements:
    """This process's rendered statements, the most recently used `size` of them.

    The caller's key must hold everything the fragment shows that is not one of the
    client's documents, plus the client's documents version (`ClientAccount.version`,
    which moves forward, never back, in the same transaction as any change to one of its
    invoices, quotes or payments) read *before* the documents: a change committed in
    between is then newer than the key, never older, so no entry holds documents older
    than its version. A change gives a new key; the old entry is never asked for again and
    ages out. Each process keeps its own.
    """

    def __init__(self, size: int = RENDERED_STATEMENTS_KEPT) -> None:
        self._size = size
        self._entries: OrderedDict[Hashable, str] = OrderedDict()
        self._lock = threading.Lock()  # gunicorn's threaded workers share one process

    def get(self, key: Hashable) -> str | None:
        with self._lock:
            html = self._entries.get(key)
            if html is not None:
                self._entries.move_to_end(key)
            return html

    def put(self, key: Hashable, html: str) -> None:
        with self._lock:
            self._entries[key] = html
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def forget_client(self, client_id: int) -> None:
        """Drop a client id's entries (keys start with the client id)."""
        with self._lock:
            for key in [key for key in self._entries if key[0] == client_id]:
                del self._entries[key]
