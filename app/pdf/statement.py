"""A client's statement of account for a period, as figures and as a PDF.

The statement is what a client (or their accountant) asks for to reconcile their books: what
they owed when the period began (the opening balance: everything invoiced before `from`, less
everything credited and paid before it), each invoice, credit note and payment of the period in
date order with the balance running after each, what they owe at its end (the closing balance),
and that amount split by how late it was at `to` (ageing, as of `to`, not today).

Only issued invoices count (sent, partial, paid: never drafts, never cancelled ones), the sent
credit notes on them and the payments on them, in the client's own currency. An invoice or a
credit note counts at its net to pay (its total less a withholding tax, which the client pays
to the State, not to us), the same figure its `balance` starts from, so the closing balance at
a date is the sum of the open invoices' balances then. Every figure is a SQL aggregate and the
period's rows come in one UNION ALL query, so a statement costs the same handful of queries
for three documents or three thousand.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal

from babel import Locale
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import Date, and_, case, cast, func, literal, null, select, union_all

from app.billing.labels import METHOD_LABELS
from app.billing.models import BILLED_INVOICE_STATUSES, CreditNote, CreditNoteStatus, Invoice, Payment
from app.clients.models import Client
from app.company.services import get_company
from app.errors import Refusal
from app.extensions import db
from app.i18n import format_date, format_money, normalize_language
from app.money import ZERO, round_cents
from app.pdf import render
from app.pdf.service import logo_uri, template_environment

TEMPLATE = "pdf/statement.html"
# (key, fewest days past due, most days past due) at the statement's end date; None: open-ended.
AGEING_BUCKETS = (("current", None, 0), ("1_30", 1, 30), ("31_60", 31, 60), ("61_90", 61, 90), ("90_plus", 91, None))
AGEING_LABELS = {
    "current": _l("Not yet due"),
    "1_30": _l("1–30 days"),
    "31_60": _l("31–60 days"),
    "61_90": _l("61–90 days"),
    "90_plus": _l("Over 90 days"),
}
# Row kinds, in the order they come within one day: what is billed before what settles it.
EARLIEST_DATE = dt.date(1900, 1, 1)
ROW_ORDER = {"invoice": 0, "credit_note": 1, "payment": 2}
_FILENAME_WORD = {"it": "Estratto-conto", "en": "Statement"}
_UNSAFE_FILENAME_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date


@dataclass
class StatementRow:
    kind: str  # invoice | credit_note | payment
    date: dt.date
    reference: str  # the invoice's or credit note's number (for a payment: the invoice it pays)
    due_date: dt.date | None
    method: str
    debit: Decimal
    credit: Decimal
    balance: Decimal  # running: the balance after this row


@dataclass
class PeriodStatement:
    client: Client
    period: Period
    currency: str
    opening: Decimal
    rows: list[StatementRow]
    invoiced: Decimal
    credited: Decimal
    paid: Decimal
    closing: Decimal
    ageing: dict[str, Decimal] = field(default_factory=dict)


def default_period(today: dt.date | None = None) -> Period:
    """The current year up to today: what a client asking "my statement" usually means."""
    today = today or dt.date.today()
    return Period(dt.date(today.year, 1, 1), today)


def parse_period(start: str | None, end: str | None, today: dt.date | None = None) -> Period:
    """The period named by `from` and `to` (ISO dates, as a date picker sends them); either
    one missing takes the default's. Raises Refusal at the field that is wrong."""
    default = default_period(today)

    def parse(value: str | None, name: str, fallback: dt.date) -> dt.date:
        if value is None or not value.strip():
            return fallback
        try:
            date = dt.date.fromisoformat(value.strip())
        except ValueError:
            raise Refusal(_l("Enter a date as YYYY-MM-DD (for example 2026-01-31)."), name) from None
        if date < EARLIEST_DATE:  # ageing counts back 90 days from the end: year 1 cannot
            raise Refusal(_l("Enter a date from 1900 on."), name)
        return date

    period = Period(parse(start, "from", default.start), parse(end, "to", default.end))
    if period.start > period.end:
        raise Refusal(_l("The end of the period must not be before its start."), "to")
    return period


def _billed(client_id: int, currency: str):
    return and_(Invoice.client_id == client_id, Invoice.status.in_(BILLED_INVOICE_STATUSES),
                Invoice.currency == currency)


def _sent_credit_notes(client_id: int, currency: str):
    """The sent credit notes on the client's issued invoices: what the invoices' balances count."""
    return (select(CreditNote).join(Invoice, CreditNote.invoice_id == Invoice.id)
            .where(CreditNote.status == CreditNoteStatus.SENT.value, _billed(client_id, currency)))


def _opening(client_id: int, currency: str, start: dt.date) -> Decimal:
    """Everything invoiced before `start` less everything credited and paid before it, in one query."""
    invoiced = (select(func.coalesce(func.sum(Invoice.net_to_pay), 0))
                .where(_billed(client_id, currency), Invoice.issue_date < start).scalar_subquery())
    credited = (_sent_credit_notes(client_id, currency).where(CreditNote.issue_date < start)
                .with_only_columns(func.coalesce(func.sum(CreditNote.net_to_pay), 0)).scalar_subquery())
    paid = (select(func.coalesce(func.sum(Payment.amount), 0))
            .join(Invoice, Payment.invoice_id == Invoice.id)
            .where(Payment.client_id == client_id, _billed(client_id, currency), Payment.date < start)
            .scalar_subquery())
    invoiced_total, credited_total, paid_total = db.session.execute(select(invoiced, credited, paid)).one()
    return round_cents(Decimal(invoiced_total) - Decimal(credited_total) - Decimal(paid_total))


def _row_queries(client_id: int, currency: str, period: Period):
    """The period's rows, one SELECT per kind with the same columns: kind, order within a day,
    id, date, the document's number, due date, payment method, amount (a net to pay for an
    invoice or a credit note)."""
    invoices = select(
        literal("invoice").label("kind"), literal(ROW_ORDER["invoice"]).label("sort"), Invoice.id.label("id"),
        Invoice.issue_date.label("date"), Invoice.number.label("reference"), Invoice.due_date.label("due_date"),
        literal("").label("method"), Invoice.net_to_pay.label("amount"),
    ).where(_billed(client_id, currency), Invoice.issue_date.between(period.start, period.end))
    credit_notes = (_sent_credit_notes(client_id, currency)
                    .where(CreditNote.issue_date.between(period.start, period.end))
                    .with_only_columns(literal("credit_note"), literal(ROW_ORDER["credit_note"]), CreditNote.id,
                                       CreditNote.issue_date, CreditNote.number, cast(null(), Date), literal(""),
                                       CreditNote.net_to_pay))
    payments = select(
        literal("payment"), literal(ROW_ORDER["payment"]), Payment.id, Payment.date, Invoice.number,
        cast(null(), Date), Payment.method, Payment.amount,
    ).join(Invoice, Payment.invoice_id == Invoice.id).where(
        Payment.client_id == client_id, _billed(client_id, currency), Payment.date.between(period.start, period.end))
    return [invoices, credit_notes, payments]


def _ageing(client_id: int, currency: str, end: dt.date) -> dict[str, Decimal]:
    """What was still open at `end` on each invoice issued by then (its net to pay less the
    credit notes issued and the payments made by then), summed by how many days past due it
    was at `end`: one query."""
    paid_by_end = (select(Payment.invoice_id, func.sum(Payment.amount).label("paid"))
                   .where(Payment.client_id == client_id, Payment.date <= end)
                   .group_by(Payment.invoice_id).subquery())
    credited_by_end = (select(CreditNote.invoice_id, func.sum(CreditNote.net_to_pay).label("credited"))
                       .where(CreditNote.client_id == client_id, CreditNote.status == CreditNoteStatus.SENT.value,
                              CreditNote.issue_date <= end)
                       .group_by(CreditNote.invoice_id).subquery())
    still_open = (Invoice.net_to_pay - func.coalesce(credited_by_end.c.credited, 0)
                  - func.coalesce(paid_by_end.c.paid, 0))

    def bucket(fewest: int | None, most: int | None):
        conditions = []
        if fewest is not None:
            conditions.append(Invoice.due_date <= end - dt.timedelta(days=fewest))
        if most is not None:
            conditions.append(Invoice.due_date >= end - dt.timedelta(days=most))
        return func.coalesce(func.sum(case((and_(*conditions), still_open), else_=0)), 0)

    values = db.session.execute(
        select(*(bucket(fewest, most) for _key, fewest, most in AGEING_BUCKETS))
        .select_from(Invoice)
        .outerjoin(paid_by_end, paid_by_end.c.invoice_id == Invoice.id)
        .outerjoin(credited_by_end, credited_by_end.c.invoice_id == Invoice.id)
        .where(_billed(client_id, currency), Invoice.issue_date <= end)
    ).one()
    return {key: round_cents(Decimal(value)) for (key, _f, _m), value in zip(AGEING_BUCKETS, values)}


def build_period_statement(client: Client, period: Period) -> PeriodStatement:
    """The statement's figures and rows: three queries whatever the number of documents."""
    currency = client.currency or "EUR"
    opening = _opening(client.id, currency, period.start)
    union = union_all(*_row_queries(client.id, currency, period)).subquery()
    found = db.session.execute(select(union).order_by(union.c.date, union.c.sort, union.c.id)).all()
    balance, invoiced, credited, paid, rows = opening, ZERO, ZERO, ZERO, []
    for kind, _sort, _id, date, reference, due_date, method, amount in found:
        amount = round_cents(Decimal(amount))
        debit, credit = (amount, ZERO) if kind == "invoice" else (ZERO, amount)
        invoiced += debit
        if kind == "credit_note":
            credited += credit
        else:
            paid += credit
        balance += debit - credit
        rows.append(StatementRow(kind, date, reference or "", due_date, method or "", debit, credit, balance))
    return PeriodStatement(client=client, period=period, currency=currency, opening=opening, rows=rows,
                           invoiced=invoiced, credited=credited, paid=paid, closing=balance,
                           ageing=_ageing(client.id, currency, period.end))


def statement_filename(client: Client, period: Period) -> str:
    """"Estratto-conto_Rossi-S.r.l._2026-01-01_2026-06-30.pdf" in the client's language."""
    word = _FILENAME_WORD[normalize_language(client.language)]
    stem = f"{word}_{client.name}_{period.start.isoformat()}_{period.end.isoformat()}"
    return _UNSAFE_FILENAME_CHARS.sub("-", stem).strip("-") + ".pdf"


def render_statement_html(statement: PeriodStatement) -> str:
    """The statement as printable HTML in the client's language, every value escaped."""
    language = normalize_language(statement.client.language)
    company = get_company()
    locale = Locale.parse(language)
    client = statement.client

    def money(amount: Decimal) -> str:
        return format_money(amount, statement.currency, language)

    with force_locale(language):
        return template_environment().get_template(TEMPLATE).render(
            language=language,
            company=company,
            logo_uri=logo_uri(company),
            company_country=locale.territories.get(company.country or "", company.country or ""),
            client=client,
            client_country=locale.territories.get(client.country or "", client.country or ""),
            start=format_date(statement.period.start, language),
            end=format_date(statement.period.end, language),
            opening=money(statement.opening),
            invoiced=money(statement.invoiced),
            credited=money(statement.credited) if statement.credited else "",
            paid=money(statement.paid),
            closing=money(statement.closing),
            rows=[{
                "kind": row.kind,
                "date": format_date(row.date, language),
                "reference": row.reference,
                "due_date": format_date(row.due_date, language),
                "method": str(METHOD_LABELS.get(row.method, row.method)) if row.method else "",
                "debit": money(row.debit) if row.debit else "",
                "credit": money(row.credit) if row.credit else "",
                "balance": money(row.balance),
            } for row in statement.rows],
            ageing=[(AGEING_LABELS[key], money(statement.ageing[key])) for key, _f, _m in AGEING_BUCKETS],
        )


def statement_pdf(client: Client, period: Period) -> bytes:
    """The statement's PDF, rendered now (a statement is asked for rarely and for any
    period: nothing to cache). The admin, the API, the portal and the email all call this."""
    return render.html_to_pdf(render_statement_html(build_period_statement(client, period)))
