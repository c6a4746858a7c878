"""The business-wide rollups behind the home dashboard: what is owed per currency and due
date, what was received per currency and month, and how many quotes are in each status.

The home page reads these few rows instead of aggregating every open invoice and every
payment, so it costs the same with 5,000 clients as with 100,000. (Per client and currency
balances, for the top clients, are the client rollup's: `app.billing.accounts`.)

Kept in step in the same transaction as the documents, like the client rollup: after each
flush a listener works out what every inserted, changed or deleted invoice, payment and
quote contributed before and contributes now, and keeps the difference in the session.
Just before the commit the differences are added in SQL (`INSERT … ON CONFLICT DO UPDATE
SET x = x + delta`), every row in one order (table, then key). These rows are shared by all
writers of a currency, so taking their locks last, in one order, and only until the commit,
is what keeps two concurrent transactions from deadlocking on them or waiting long; adding
in SQL (not read, add, write back) is what keeps them from losing each other's updates.
A rolled-back savepoint drops what its flushes collected.

- `receivable_day`: open (sent, partial) invoices per (currency, due date): balance and
  count. Aging needs no stored bucket: the reader groups the rows by days past due with the
  buckets of `app.billing.aging`, so the figures are right whenever the task last ran. The
  hourly `mark-overdue` task folds the days older than every bounded bucket into one row
  (`fold_old_receivables`), so a currency has at most a few hundred rows (the last 92 days
  and the future due dates), however many invoices are open.
- `revenue_month`: payments (refunds negative) per (currency, first day of the month).
- `quote_tally`: quotes per stored status; "awaiting an answer" subtracts the sent ones past
  their validity, which the daily `expire-quotes` task keeps few.

Bulk INSERTs bypass the listener: `count_new_documents` adds the documents of new clients
(the demo generator), `rebuild_home_rollups` recomputes everything (`clientela
rebuild-totals`, after `copy-database`, the migration), and `home_rollup_differences`
compares the rows with a slow read of the documents (`clientela check-totals`, the tests).
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from flask_appbuilder import Model
from sqlalchemy import Date, Integer, Numeric, String, delete, event, extract, func, select, text, tuple_
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.billing.accounts import add_to_row, values_before, values_now
from app.billing.aging import AGING_BUCKETS, bucket_expression, bucket_of
from app.billing.models import OPEN_INVOICE, OPEN_INVOICE_STATUSES, Invoice, Payment, Quote, QuoteStatus
from app.extensions import db
from app.money import MONEY_PRECISION, ZERO, stored_amount

# Days past due beyond the last bounded bucket (90) plus a day of margin for a clock on the
# other side of midnight: rows older than this all read as the open-ended bucket.
FOLD_AFTER_DAYS = max(most for _key, _fewest, most in AGING_BUCKETS if most is not None) + 2


def _money() -> Mapped[Decimal]:
    return mapped_column(Numeric(*MONEY_PRECISION), default=ZERO, server_default="0")


def _count() -> Mapped[int]:
    return mapped_column(Integer, default=0, server_default="0")


class ReceivableDay(Model):
    """Open invoices of one currency falling due on one day (older days folded into one)."""

    __tablename__ = "receivable_day"

    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    due_date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    balance: Mapped[Decimal] = _money()
    invoices: Mapped[int] = _count()


class RevenueMonth(Model):
    """Payments received in one currency in one calendar month (refunds taken off)."""

    __tablename__ = "revenue_month"

    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    month: Mapped[dt.date] = mapped_column(Date, primary_key=True)  # its first day
    amount: Mapped[Decimal] = _money()


class QuoteTally(Model):
    """How many quotes are stored in one status."""

    __tablename__ = "quote_tally"

    status: Mapped[str] = mapped_column(String(20), primary_key=True)
    quotes: Mapped[int] = _count()


# Applied in this order (then by key): one lock order for every writer.
ROLLUPS = (QuoteTally, ReceivableDay, RevenueMonth)
_KEYS = {QuoteTally: ("status",), ReceivableDay: ("currency", "due_date"), RevenueMonth: ("currency", "month")}

Contribution = dict[tuple[type, tuple], dict[str, object]]


def month_of(day: dt.date) -> dt.date:
    return day.replace(day=1)


# ── What one document contributes ──────────────────────────────────────────────────────────

INVOICE_TRACKED = ("status", "currency", "due_date", "balance")
PAYMENT_TRACKED = ("currency", "date", "amount")
QUOTE_TRACKED = ("status",)


def _invoice_contribution(values: dict[str, object]) -> Contribution:
    if values["status"] not in OPEN_INVOICE_STATUSES:
        return {}
    key = (ReceivableDay, (values["currency"], values["due_date"]))
    return {key: {"balance": Decimal(values["balance"] or 0), "invoices": 1}}


def _payment_contribution(values: dict[str, object]) -> Contribution:
    return {(RevenueMonth, (values["currency"], month_of(values["date"]))): {"amount": Decimal(values["amount"] or 0)}}


def _quote_contribution(values: dict[str, object]) -> Contribution:
    return {(QuoteTally, (values["status"],)): {"quotes": 1}}


_TRACKED = {Invoice: (INVOICE_TRACKED, _invoice_contribution), Payment: (PAYMENT_TRACKED, _payment_contribution),
            Quote: (QUOTE_TRACKED, _quote_contribution)}


def _add(deltas: Contribution, contribution: Contribution, sign: int) -> None:
    for key, columns in contribution.items():
        delta = deltas.setdefault(key, {})
        for column, amount in columns.items():
            delta[column] = delta.get(column, 0) + sign * amount


# ── The listener: collect after each flush, apply before the commit ─────────────────────────

_PENDING = "clientela.home_rollups"


@event.listens_for(Session, "after_flush")
def _collect_deltas(session: Session, _context) -> None:
    deltas: Contribution = {}
    for obj in session.new:
        if type(obj) in _TRACKED:
            keys, contribution = _TRACKED[type(obj)]
            _add(deltas, contribution(values_now(obj, keys)), +1)
    for obj in session.dirty:
        if type(obj) in _TRACKED and session.is_modified(obj):
            keys, contribution = _TRACKED[type(obj)]
            _add(deltas, contribution(values_before(obj, keys)), -1)
            _add(deltas, contribution(values_now(obj, keys)), +1)
    for obj in session.deleted:
        if type(obj) in _TRACKED:
            keys, contribution = _TRACKED[type(obj)]
            _add(deltas, contribution(values_before(obj, keys)), -1)
    if deltas:
        # Remember the savepoint the flush ran in: if it rolls back, so do these deltas.
        session.info.setdefault(_PENDING, []).append((session.get_nested_transaction(), deltas))


@event.listens_for(Session, "before_commit")
def _apply_deltas(session: Session) -> None:
    session.flush()  # the commit would flush after this hook: collect what it would write
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    merged: Contribution = {}
    for _savepoint, deltas in pending:
        for key, columns in deltas.items():
            _add(merged, {key: columns}, +1)
    connection = session.connection()
    for model, key in sorted(merged, key=lambda item: (ROLLUPS.index(item[0]), item[1])):
        changes = {column: amount for column, amount in merged[(model, key)].items() if amount}
        if changes:
            connection.execute(add_to_row(connection.dialect.name, model, dict(zip(_KEYS[model], key)), changes))


@event.listens_for(Session, "after_soft_rollback")
def _drop_rolled_back_deltas(session: Session, previous_transaction) -> None:
    if not previous_transaction.nested:
        session.info.pop(_PENDING, None)
        return
    pending = session.info.get(_PENDING)
    if pending:
        session.info[_PENDING] = [(savepoint, deltas) for savepoint, deltas in pending
                                  if savepoint is not previous_transaction]


@event.listens_for(Session, "after_transaction_end")
def _forget_deltas_of_a_closed_session(session: Session, transaction) -> None:
    if transaction.parent is None:  # committed (already applied), rolled back or closed
        session.info.pop(_PENDING, None)


# ── The clock: folding old days ────────────────────────────────────────────────────────────

def fold_old_receivables(today: dt.date | None = None) -> int:
    """Add every currency's rows due more than FOLD_AFTER_DAYS ago into one row on that day,
    in the caller's transaction (the hourly `mark-overdue` task); returns how many rows went.

    The rows are locked in key order, and the row kept is later than all of them, so this
    takes its locks in the order the writers do. A writer that adds to a folded day later
    creates the row again; it still reads as the oldest bucket."""
    keep = (today or dt.date.today()) - dt.timedelta(days=FOLD_AFTER_DAYS)
    rows = db.session.execute(
        select(ReceivableDay.currency, ReceivableDay.due_date, ReceivableDay.balance, ReceivableDay.invoices)
        .where(ReceivableDay.due_date < keep)
        .order_by(ReceivableDay.currency, ReceivableDay.due_date)
        .with_for_update()
    ).all()
    if not rows:
        return 0
    folded: dict[str, dict[str, object]] = defaultdict(lambda: {"balance": ZERO, "invoices": 0})
    for currency, _due_date, balance, invoices in rows:
        folded[currency]["balance"] += stored_amount(balance)
        folded[currency]["invoices"] += int(invoices)
    keys = [(currency, due_date) for currency, due_date, _balance, _invoices in rows]
    for start in range(0, len(keys), 500):
        db.session.execute(delete(ReceivableDay).where(
            tuple_(ReceivableDay.currency, ReceivableDay.due_date).in_(keys[start:start + 500])))
    connection = db.session.connection()
    for currency in sorted(folded):
        changes = {column: value for column, value in folded[currency].items() if value}
        if changes:
            connection.execute(add_to_row(connection.dialect.name, ReceivableDay,
                                           {"currency": currency, "due_date": keep}, changes))
    return len(rows)


# ── Reading them ────────────────────────────────────────────────────────────────────────────

def _bucket_of_day(today: dt.date):
    """SQL naming the aging bucket of a receivable_day row (the buckets of app.billing.aging)."""
    return bucket_expression(today, ReceivableDay.due_date)


def receivable_rows(today: dt.date) -> list[tuple[str, str, int, Decimal]]:
    """(currency, aging bucket, open invoices, balance) from the rollup: one statement over a
    few hundred rows at most."""
    bucket = _bucket_of_day(today).label("bucket")
    rows = db.session.execute(
        select(ReceivableDay.currency, bucket, func.sum(ReceivableDay.invoices), func.sum(ReceivableDay.balance))
        .group_by(ReceivableDay.currency, bucket)
    ).all()
    return [(currency, name, int(count), stored_amount(balance)) for currency, name, count, balance in rows if count]


def revenue_rows(currency: str, since: dt.date) -> dict[dt.date, Decimal]:
    """Payments received per month from the month of `since` on: {first day: amount}."""
    rows = db.session.execute(
        select(RevenueMonth.month, RevenueMonth.amount)
        .where(RevenueMonth.currency == currency, RevenueMonth.month >= month_of(since))
    ).all()
    return {month: stored_amount(amount) for month, amount in rows}


def quotes_awaiting_count(today: dt.date) -> int:
    """Sent quotes still valid: the sent tally less those past their validity (few: the daily
    `expire-quotes` task expires them), counted on their index alone."""
    lapsed = (select(func.count()).select_from(Quote)
              .where(Quote.status == QuoteStatus.SENT.value, Quote.valid_until < today).scalar_subquery())
    sent = db.session.scalar(select(func.coalesce(func.sum(QuoteTally.quotes), 0) - lapsed)
                             .where(QuoteTally.status == QuoteStatus.SENT.value))
    return int(sent or 0)


# ── From the documents (slow: what rebuilds and checks use) ─────────────────────────────────

def _documents_figures(client_ids: list[int] | None = None) -> dict[type, dict[tuple, dict[str, object]]]:
    """Every rollup row computed from the documents themselves (of some clients, or of all):
    three GROUP BY statements."""
    def of_clients(query, model):
        return query if client_ids is None else query.where(model.client_id.in_(client_ids))

    receivables = db.session.execute(of_clients(
        select(Invoice.currency, Invoice.due_date, func.sum(Invoice.balance), func.count())
        .where(text(f"invoice.{OPEN_INVOICE}")).group_by(Invoice.currency, Invoice.due_date), Invoice)
    ).all()
    year, month = extract("year", Payment.date), extract("month", Payment.date)
    revenue = db.session.execute(of_clients(
        select(Payment.currency, year, month, func.sum(Payment.amount)).group_by(Payment.currency, year, month),
        Payment)
    ).all()
    quotes = db.session.execute(of_clients(select(Quote.status, func.count()).group_by(Quote.status), Quote)).all()
    return {
        ReceivableDay: {(currency, due_date): {"balance": stored_amount(balance), "invoices": int(count)}
                        for currency, due_date, balance, count in receivables},
        RevenueMonth: {(currency, dt.date(int(y), int(m), 1)): {"amount": stored_amount(amount)}
                       for currency, y, m, amount in revenue},
        QuoteTally: {(status,): {"quotes": int(count)} for status, count in quotes},
    }


def rebuild_home_rollups(today: dt.date | None = None) -> int:
    """Recompute every home rollup row from the documents, in the caller's transaction;
    returns how many rows were written. On PostgreSQL it holds a SHARE lock on invoices,
    payments and quotes until the caller commits, so no writer adds to rows being replaced."""
    db.session.flush()
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.connection().exec_driver_sql("LOCK TABLE invoice, payment, quote IN SHARE MODE")
    figures = _documents_figures()
    db.session.info.pop(_PENDING, None)  # already in the documents just read
    written = 0
    for model in ROLLUPS:
        db.session.execute(delete(model))
        rows = [{**dict(zip(_KEYS[model], key)), **values} for key, values in figures[model].items()]
        if rows:
            db.session.execute(model.__table__.insert(), rows)
        written += len(rows)
    fold_old_receivables(today)
    return written


def count_new_documents(client_ids: Iterable[int]) -> None:
    """Add to the rollups the documents of these clients, inserted in bulk (behind the
    listener) and never counted: for clients created with them (the demo generator)."""
    ids = list(client_ids)
    if not ids:
        return
    deltas: Contribution = {(model, key): values for model, rows in _documents_figures(ids).items()
                            for key, values in rows.items()}
    session = db.session()
    session.info.setdefault(_PENDING, []).append((session.get_nested_transaction(), deltas))


def home_rollup_differences(today: dt.date | None = None) -> list[str]:
    """What the rollups say and the documents do not, one line each (empty: they agree).

    Compared as the home page reads them: receivables per currency and aging bucket (so a
    folded day is not a difference), revenue per month, quotes per status."""
    today = today or dt.date.today()
    figures = _documents_figures()
    receivables: dict[tuple, tuple[int, Decimal]] = {}
    for (currency, due_date), values in figures[ReceivableDay].items():
        count, balance = receivables.get((currency, bucket_of(today, due_date)), (0, ZERO))
        receivables[(currency, bucket_of(today, due_date))] = (count + values["invoices"], balance + values["balance"])
    comparisons = (
        ("receivables", {(currency, bucket): (count, balance)
                         for currency, bucket, count, balance in receivable_rows(today)}, receivables, (0, ZERO)),
        ("revenue", {(currency, month): stored_amount(amount) for currency, month, amount in
                     db.session.execute(select(RevenueMonth.currency, RevenueMonth.month, RevenueMonth.amount))},
         {key: values["amount"] for key, values in figures[RevenueMonth].items()}, ZERO),
        ("quotes", dict(db.session.execute(select(QuoteTally.status, QuoteTally.quotes)).all()),
         {status: values["quotes"] for (status,), values in figures[QuoteTally].items()}, 0),
    )
    differences = []
    for name, stored, documents, nothing in comparisons:
        for key in sorted(set(stored) | set(documents), key=str):
            if stored.get(key, nothing) != documents.get(key, nothing):
                differences.append(f"{name} {key}: rollup {stored.get(key, nothing)}, "
                                   f"documents {documents.get(key, nothing)}")
    return differences
