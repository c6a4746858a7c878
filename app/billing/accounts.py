"""Per-client rollups: what each client has been invoiced, has paid and owes, and how many
invoices and quotes it has in each stored status, kept in one `client_account` row.

The client summary (360 page, API) reads this row instead of aggregating every invoice of
the client, so a client with 10,000 invoices costs what a client with 20 does.

The row moves in the same transaction as the documents: after each flush, a listener
computes what every inserted, changed or deleted invoice and quote contributed before and
contributes now, and applies the difference per client as
`INSERT … ON CONFLICT (client_id) DO UPDATE SET x = x + delta`. Adding deltas in SQL is
safe with concurrent writers on PostgreSQL (each row update waits for the previous one);
reading the row, adding in Python and writing it back would lose updates.

Bulk INSERTs (the demo generator) bypass the ORM and therefore this listener: they call
`rebuild_accounts()` for the clients they touched, and `flask --app app clientela
rebuild-totals` rebuilds every row from scratch.

"Overdue" depends on today's date, so no listener can keep it. The periodic `mark-overdue`
task (`mark_overdue_invoices`) sets `Invoice.overdue_marked` on open invoices past their
due date, through the ORM, so this listener moves them from "sent"/"partial" to "overdue"
in the row. The client summary then counts by date only the invoices not marked yet (those
past due since the task last ran), on a partial index that holds nothing else.

`version` moves in every flush that touches one of the client's invoices, quotes or
payments, whatever changed: a cache of anything computed from the client's documents can
use (client id, version) as its key.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Iterable

from flask_appbuilder import Model
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    and_,
    bindparam,
    case,
    delete,
    event,
    exists,
    func,
    inspect,
    literal,
    select,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, lazyload, mapped_column

from app.billing.models import (
    BILLED_INVOICE_STATUSES,
    OPEN_INVOICE_STATUSES,
    SENT_QUOTE,
    UNMARKED_DUE_INDEX,
    UNMARKED_OPEN_INVOICE,
    Invoice,
    InvoiceStatus,
    Payment,
    Quote,
    QuoteStatus,
)
from app.clients.models import Client
from app.errors import Refusal
from app.extensions import db
from app.money import MONEY_PRECISION, ZERO, stored_amount

OVERDUE = "overdue"
# The invoice counts kept per client: each stored status, and "overdue" for open invoices
# marked overdue (which then count neither as sent nor as partial).
INVOICE_STATUSES = (*(status.value for status in InvoiceStatus), OVERDUE)
QUOTE_STATUSES = tuple(status.value for status in QuoteStatus)
MONEY_COLUMNS = ("total_invoiced", "total_paid", "balance_due", "overdue_balance", "total_credited")


def _count() -> Mapped[int]:
    return mapped_column(Integer, default=0, server_default="0")


def _money() -> Mapped[Decimal]:
    return mapped_column(Numeric(*MONEY_PRECISION), default=ZERO, server_default="0")


class ClientAccount(Model):
    """One client's running totals (every currency of its documents together, as the summary
    always did). "Overdue" here is what the periodic task has marked; what has fallen due
    since, and sent quotes past their validity, are counted by the summary itself."""

    __tablename__ = "client_account"

    client_id: Mapped[int] = mapped_column(ForeignKey("client.id", ondelete="CASCADE"), primary_key=True)
    # Totals of sent, partial and paid invoices; balance due of sent and partial ones.
    total_invoiced: Mapped[Decimal] = _money()
    total_paid: Mapped[Decimal] = _money()
    balance_due: Mapped[Decimal] = _money()
    # What sent credit notes took off those invoices (their net to pay).
    total_credited: Mapped[Decimal] = _money()
    # The part of balance_due on invoices marked overdue.
    overdue_balance: Mapped[Decimal] = _money()
    # Moves with every change to the client's documents (a cache key, not a count).
    version: Mapped[int] = _count()
    invoices_draft: Mapped[int] = _count()
    invoices_sent: Mapped[int] = _count()
    invoices_partial: Mapped[int] = _count()
    invoices_paid: Mapped[int] = _count()
    invoices_cancelled: Mapped[int] = _count()
    invoices_overdue: Mapped[int] = _count()
    quotes_draft: Mapped[int] = _count()
    quotes_sent: Mapped[int] = _count()
    quotes_accepted: Mapped[int] = _count()
    quotes_rejected: Mapped[int] = _count()
    quotes_expired: Mapped[int] = _count()

    def invoice_counts(self) -> dict[str, int]:
        return {status: getattr(self, f"invoices_{status}") for status in INVOICE_STATUSES}

    def quote_counts(self) -> dict[str, int]:
        return {status: getattr(self, f"quotes_{status}") for status in QUOTE_STATUSES}


class ClientBalance(Model):
    """What one client owes in one currency (its open invoices), for the home page's top
    clients: the index hands over the largest balances of a currency without reading the
    others (app.dashboard.queries.top_clients_by_balance)."""

    __tablename__ = "client_balance"

    client_id: Mapped[int] = mapped_column(ForeignKey("client.id", ondelete="CASCADE"), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    balance_due: Mapped[Decimal] = _money()
    open_invoices: Mapped[int] = _count()


Index("ix_client_balance_currency_balance", ClientBalance.currency, ClientBalance.balance_due.desc(),
      ClientBalance.client_id)


# ── What one document contributes ──────────────────────────────────────────────────────────

# The columns whose old value the listener needs; billing.models marks them active_history,
# so a change made without reading the attribute first still knows what it replaced.
INVOICE_TRACKED = ("client_id", "status", "total", "amount_paid", "amount_credited", "balance", "overdue_marked",
                   "currency")
QUOTE_TRACKED = ("client_id", "status")
PAYMENT_TRACKED = ("client_id",)


def _invoice_contribution(values: dict[str, object]) -> dict[str, object]:
    status = values["status"]
    marked_overdue = status in OPEN_INVOICE_STATUSES and bool(values["overdue_marked"])
    contribution: dict[str, object] = {f"invoices_{OVERDUE if marked_overdue else status}": 1}
    if status in BILLED_INVOICE_STATUSES:
        contribution["total_invoiced"] = Decimal(values["total"] or 0)
        contribution["total_paid"] = Decimal(values["amount_paid"] or 0)
        contribution["total_credited"] = Decimal(values["amount_credited"] or 0)
    if status in OPEN_INVOICE_STATUSES:
        contribution["balance_due"] = Decimal(values["balance"] or 0)
    if marked_overdue:
        contribution["overdue_balance"] = Decimal(values["balance"] or 0)
    return contribution


def _balance_contribution(values: dict[str, object]) -> tuple[tuple[int, str], dict[str, object]] | None:
    """An open invoice's part of its client's balance in its currency (ClientBalance)."""
    if values["status"] not in OPEN_INVOICE_STATUSES or values["client_id"] is None:
        return None
    return (values["client_id"], values["currency"]), {"balance_due": Decimal(values["balance"] or 0),
                                                       "open_invoices": 1}


def _quote_contribution(values: dict[str, object]) -> dict[str, object]:
    return {f"quotes_{values['status']}": 1}


def values_before(document: Invoice | Quote, keys: Iterable[str]) -> dict[str, object]:
    state = inspect(document)
    values = {}
    for key in keys:
        history = state.attrs[key].history
        if history.deleted:
            values[key] = history.deleted[0]
        elif history.unchanged:
            values[key] = history.unchanged[0]
        else:
            values[key] = getattr(document, key)
    return values


def values_now(document: Invoice | Quote, keys: Iterable[str]) -> dict[str, object]:
    return {key: getattr(document, key) for key in keys}


def _payment_contribution(_values: dict[str, object]) -> dict[str, object]:
    return {}  # the invoice it pays carries the amounts; a payment only moves the version


def _tracked(document: Invoice | Quote | Payment) -> tuple[tuple[str, ...], object]:
    if isinstance(document, Invoice):
        return INVOICE_TRACKED, _invoice_contribution
    if isinstance(document, Quote):
        return QUOTE_TRACKED, _quote_contribution
    return PAYMENT_TRACKED, _payment_contribution


DOCUMENTS = (Invoice, Quote, Payment)


# ── The listener ───────────────────────────────────────────────────────────────────────────

@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, _context, _instances) -> None:
    for obj in session.deleted:
        # A deleted document's row is gone by `after_flush`: read what it counted while it exists.
        if isinstance(obj, DOCUMENTS):
            keys, _contribution = _tracked(obj)
            for key in keys:
                getattr(obj, key)
    for obj in session.dirty:
        # The overdue mark holds for the due date it was set against; a new date is judged afresh.
        if isinstance(obj, Invoice) and obj.overdue_marked and inspect(obj).attrs.due_date.history.has_changes():
            obj.overdue_marked = False


@event.listens_for(Session, "after_flush")
def _apply_account_deltas(session: Session, _context) -> None:
    # After the flush every new row has its id; attribute history still shows what changed.
    deltas: dict[int, dict[str, object]] = defaultdict(dict)
    balances: dict[tuple[int, str], dict[str, object]] = defaultdict(dict)

    def add(client_id: int | None, contribution: dict[str, object], sign: int) -> None:
        if client_id is None:
            return
        delta = deltas[client_id]
        delta["version"] = 1  # once per flush, whatever changed
        for column, amount in contribution.items():
            delta[column] = delta.get(column, 0) + sign * amount

    def add_balance(obj: object, values: dict[str, object], sign: int) -> None:
        if isinstance(obj, Invoice) and (part := _balance_contribution(values)):
            key, contribution = part
            for column, amount in contribution.items():
                balances[key][column] = balances[key].get(column, 0) + sign * amount

    for obj in session.new:
        if isinstance(obj, DOCUMENTS):
            keys, contribution = _tracked(obj)
            now = values_now(obj, keys)
            add(now["client_id"], contribution(now), +1)
            add_balance(obj, now, +1)
    for obj in session.dirty:
        if isinstance(obj, DOCUMENTS) and session.is_modified(obj):
            keys, contribution = _tracked(obj)
            before, now = values_before(obj, keys), values_now(obj, keys)
            add(before["client_id"], contribution(before), -1)
            add(now["client_id"], contribution(now), +1)
            add_balance(obj, before, -1)
            add_balance(obj, now, +1)
    for obj in session.deleted:
        if isinstance(obj, DOCUMENTS):
            keys, contribution = _tracked(obj)
            before = values_before(obj, keys)
            add(before["client_id"], contribution(before), -1)
            add_balance(obj, before, -1)

    connection = session.connection()
    for client_id in sorted(deltas):  # one order for every writer: no deadlock between two flushes
        changes = {column: amount for column, amount in deltas[client_id].items() if amount}
        connection.execute(add_to_row(connection.dialect.name, ClientAccount, {"client_id": client_id}, changes))
    for (client_id, currency) in sorted(balances):
        changes = {column: amount for column, amount in balances[(client_id, currency)].items() if amount}
        if changes:
            connection.execute(add_to_row(connection.dialect.name, ClientBalance,
                                           {"client_id": client_id, "currency": currency}, changes))


def add_to_row(dialect: str, model: type, key: dict[str, object], changes: dict[str, object]):
    """`INSERT … ON CONFLICT (key) DO UPDATE SET x = x + delta`: the row is created on first
    use, and two writers adding at once both count (the second waits for the first's lock)."""
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    table = model.__table__
    statement = insert(table).values(**key, **changes)
    return statement.on_conflict_do_update(
        index_elements=[table.c[column] for column in key],
        set_={column: table.c[column] + statement.excluded[column] for column in changes},
    )


# ── From scratch ───────────────────────────────────────────────────────────────────────────

def _shown_invoice_status():
    """SQL for the status an invoice is counted under: "overdue" once marked, else its own."""
    return case((and_(Invoice.status.in_(OPEN_INVOICE_STATUSES), Invoice.overdue_marked), literal(OVERDUE)),
                else_=Invoice.status)


def account_aggregates(client_ids: Iterable[int] | None = None) -> dict[int, dict[str, object]]:
    """Every client's figures computed from the documents themselves (two GROUP BY
    statements): what `rebuild_accounts` stores, and what tests compare the rollups with."""
    from app.extensions import db

    ids = None if client_ids is None else list(client_ids)
    marked_overdue = and_(Invoice.status.in_(OPEN_INVOICE_STATUSES), Invoice.overdue_marked)

    def total_of(column, condition):
        return func.coalesce(func.sum(case((condition, column), else_=literal(0))), 0)

    shown = _shown_invoice_status()
    invoice_columns = [
        total_of(Invoice.total, Invoice.status.in_(BILLED_INVOICE_STATUSES)),
        total_of(Invoice.amount_paid, Invoice.status.in_(BILLED_INVOICE_STATUSES)),
        total_of(Invoice.balance, Invoice.status.in_(OPEN_INVOICE_STATUSES)),
        total_of(Invoice.balance, marked_overdue),
        total_of(Invoice.amount_credited, Invoice.status.in_(BILLED_INVOICE_STATUSES)),
        *(func.count(case((shown == status, Invoice.id))) for status in INVOICE_STATUSES),
    ]
    invoices = select(Invoice.client_id, *invoice_columns).group_by(Invoice.client_id)
    quotes = select(Quote.client_id, *(func.count(case((Quote.status == status, Quote.id))) for status in QUOTE_STATUSES)
                    ).group_by(Quote.client_id)
    if ids is not None:
        invoices = invoices.where(Invoice.client_id.in_(ids))
        quotes = quotes.where(Quote.client_id.in_(ids))

    result: dict[int, dict[str, object]] = {}
    for client_id, *values in db.session.execute(invoices):
        money, counts = values[:len(MONEY_COLUMNS)], values[len(MONEY_COLUMNS):]
        figures = result.setdefault(client_id, {})
        figures.update({column: stored_amount(value) for column, value in zip(MONEY_COLUMNS, money)})
        figures.update({f"invoices_{status}": int(n) for status, n in zip(INVOICE_STATUSES, counts)})
    for client_id, *counts in db.session.execute(quotes):
        result.setdefault(client_id, {}).update({f"quotes_{status}": int(n) for status, n in zip(QUOTE_STATUSES, counts)})
    return result


def rebuild_accounts(client_ids: Iterable[int] | None = None) -> int:
    """Recompute the rollups (of the given clients, or of every client) from the documents,
    in the caller's transaction; returns how many rows were written. Each row's version
    moves on, never back, so caches keyed by it cannot serve what was computed before.

    On PostgreSQL a full rebuild holds a SHARE lock on invoices and quotes until the caller
    commits: writers wait instead of applying deltas to rows being replaced."""
    from app.extensions import db

    ids = None if client_ids is None else list(client_ids)
    if ids is None and db.session.get_bind().dialect.name == "postgresql":
        db.session.connection().exec_driver_sql("LOCK TABLE invoice, quote IN SHARE MODE")
    rows = account_aggregates(ids)
    current = select(ClientAccount.client_id, ClientAccount.version)
    statement = delete(ClientAccount)
    if ids is not None:
        current = current.where(ClientAccount.client_id.in_(ids))
        statement = statement.where(ClientAccount.client_id.in_(ids))
    versions = dict(db.session.execute(current).all())
    db.session.execute(statement)
    _rebuild_balances(ids)
    written = sorted(set(rows) | set(versions))
    if written:
        db.session.execute(
            ClientAccount.__table__.insert(),
            [{"client_id": client_id, **{column: 0 for column in _ALL_COLUMNS}, **rows.get(client_id, {}),
              "version": versions.get(client_id, 0) + 1}
             for client_id in written],
        )
    return len(written)


def balance_aggregates(client_ids: Iterable[int] | None = None) -> dict[tuple[int, str], dict[str, object]]:
    """Every (client, currency) balance computed from the open invoices: one GROUP BY."""
    query = (select(Invoice.client_id, Invoice.currency, func.sum(Invoice.balance), func.count())
             .where(Invoice.status.in_(OPEN_INVOICE_STATUSES)).group_by(Invoice.client_id, Invoice.currency))
    if client_ids is not None:
        query = query.where(Invoice.client_id.in_(client_ids))
    return {(client_id, currency): {"balance_due": stored_amount(balance), "open_invoices": int(count)}
            for client_id, currency, balance, count in db.session.execute(query)}


def _rebuild_balances(client_ids: list[int] | None) -> None:
    statement = delete(ClientBalance)
    if client_ids is not None:
        statement = statement.where(ClientBalance.client_id.in_(client_ids))
    db.session.execute(statement)
    rows = [{"client_id": client_id, "currency": currency, **values}
            for (client_id, currency), values in balance_aggregates(client_ids).items()]
    if rows:
        db.session.execute(ClientBalance.__table__.insert(), rows)


def account_differences() -> list[str]:
    """What the client rollups say and the documents do not, one line each (empty: they agree)."""
    differences = []
    accounts = {row.client_id: row for row in db.session.scalars(select(ClientAccount))}
    for client_id, figures in account_aggregates().items():
        row = accounts.get(client_id)
        for column, value in figures.items():
            stored = getattr(row, column) if row is not None else 0
            if stored != value:
                differences.append(f"client {client_id} {column}: rollup {stored}, documents {value}")
    stored_balances = {(row.client_id, row.currency): (row.balance_due, row.open_invoices)
                       for row in db.session.scalars(select(ClientBalance)) if row.open_invoices or row.balance_due}
    balances = {key: (values["balance_due"], values["open_invoices"]) for key, values in balance_aggregates().items()}
    differences += [f"client balance {key}: rollup {stored_balances.get(key)}, documents {balances.get(key)}"
                    for key in sorted(set(stored_balances) | set(balances)) if stored_balances.get(key) != balances.get(key)]
    return differences


_ALL_COLUMNS = (*MONEY_COLUMNS, *(f"invoices_{s}" for s in INVOICE_STATUSES), *(f"quotes_{s}" for s in QUOTE_STATUSES))


# ── The summary ─────────────────────────────────────────────────────────────────────────────

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
    but not marked yet (`_fallen_due`), and sent quotes past their validity. Each index
    answers alone (an index-only scan on PostgreSQL: the invoice index includes the status
    and balance it sums, the quotes are count(*)), which the planner then prefers to reading
    every document of a large client.
    """
    today = today or dt.date.today()
    fallen_due = _fallen_due(client_id, today)
    account = db.session.execute(
        select(
            ClientAccount.__table__,
            *fallen_due.c,
            select(func.count()).select_from(Quote)
            .where(Quote.client_id == client_id, text(SENT_QUOTE), Quote.valid_until < today)
            .scalar_subquery().label("expired_quotes"),
        )
        .select_from(Client)
        .outerjoin(ClientAccount, ClientAccount.client_id == Client.id)
        .join(fallen_due, true())  # one row: an aggregate without GROUP BY
        .where(Client.id == client_id)
    ).mappings().first() or {}

    invoices = {status: int(account.get(f"invoices_{status}") or 0) for status in INVOICE_STATUSES}
    for status in OPEN_INVOICE_STATUSES:
        count = int(account.get(f"fallen_due_{status}") or 0)
        invoices[status] -= count
        invoices[OVERDUE] += count
    quotes = {status: int(account.get(f"quotes_{status}") or 0) for status in QUOTE_STATUSES}
    expired = int(account.get("expired_quotes") or 0)
    quotes[QuoteStatus.SENT.value] -= expired
    quotes[QuoteStatus.EXPIRED.value] += expired

    return {
        "total_invoiced": stored_amount(account.get("total_invoiced")),
        "total_paid": stored_amount(account.get("total_paid")),
        "total_credited": stored_amount(account.get("total_credited")),
        "balance_due": stored_amount(account.get("balance_due")),
        "overdue": stored_amount(account.get("overdue_balance")) + stored_amount(account.get("fallen_due_balance")),
        "invoices": {status: count for status, count in invoices.items() if count},
        "quotes": {status: count for status, count in quotes.items() if count},
    }


def _fallen_due(client_id: int, today: dt.date):
    """The client's open invoices past due that the overdue mark has not reached yet, as one
    row: how many are sent (`fallen_due_sent`), how many partial (`fallen_due_partial`), and
    their balance (`fallen_due_balance`), in one pass over the partial index that holds them.

    SQLite is told the index by name (INDEXED BY, which SQLAlchemy's hints do not render for
    SQLite): left to itself it takes `ix_invoice_client_status_due_date`, whose status
    equality looks more selective, and walks every invoice the mark has already reached (2,166
    for the bench's large client, docs/performance.md "Seventh pass"). PostgreSQL needs no
    hint: it reads the partial index alone (an index-only scan)."""
    indexed_by = f" INDEXED BY {UNMARKED_DUE_INDEX}" if db.session.get_bind().dialect.name == "sqlite" else ""
    counts = "".join(f"count(CASE WHEN status = '{status}' THEN 1 END) AS fallen_due_{status}, "
                     for status in OPEN_INVOICE_STATUSES)
    return (
        text(f"SELECT {counts}sum(balance) AS fallen_due_balance FROM invoice{indexed_by} "
             f"WHERE client_id = :fallen_due_client AND {UNMARKED_OPEN_INVOICE} AND due_date < :fallen_due_before")
        .bindparams(bindparam("fallen_due_client", client_id, type_=Integer),
                    bindparam("fallen_due_before", today, type_=Date))
        .columns(**{f"fallen_due_{status}": Integer for status in OPEN_INVOICE_STATUSES},
                 fallen_due_balance=Numeric(*MONEY_PRECISION))
        .subquery("fallen_due")
    )


def refuse_deleting_client_with_documents(client: Client, **_kwargs) -> None:
    """Connected to `client_deleting`: a client with invoices or quotes is archived, never
    deleted (its documents must keep their client)."""
    has_documents = db.session.scalar(select(
        exists().where(Invoice.client_id == client.id) | exists().where(Quote.client_id == client.id)
    ))
    if has_documents:
        raise Refusal(_l("This client has invoices or quotes: archive it instead of deleting it."))


# ── The overdue mark ───────────────────────────────────────────────────────────────────────

MARK_BATCH = 500


def mark_overdue_invoices(today: dt.date | None = None) -> int:
    """Mark open invoices past their due date as overdue (the periodic `mark-overdue` task),
    in the caller's transaction; returns how many were marked.

    Through the ORM, each invoice locked as the billing services lock it, so the rollup
    listener moves them to "overdue" with whatever a concurrent payment left them at."""
    today = today or dt.date.today()
    marked = 0
    while True:
        invoices = db.session.scalars(
            select(Invoice)
            .options(lazyload("*"))
            .where(text(UNMARKED_OPEN_INVOICE), Invoice.due_date < today)
            .order_by(Invoice.id)
            .limit(MARK_BATCH)
            .with_for_update(of=Invoice)
            .execution_options(populate_existing=True)
        ).all()
        for invoice in invoices:
            invoice.overdue_marked = True
        db.session.flush()
        marked += len(invoices)
        if len(invoices) < MARK_BATCH:
            return marked
