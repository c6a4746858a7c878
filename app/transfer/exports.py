"""Clients, invoices and payments as CSV or XLSX, for the accountant and for moving house.

Each export is a query of plain columns read in batches (`yield_per`: on PostgreSQL a
server-side cursor), so a large export neither loads every row nor every ORM object at once.
CSV is streamed as it is read; XLSX is written by openpyxl's write-only workbook (rows go to
a temporary file, not to memory) and sent when complete. Amounts in a sheet are numbers with
two decimals, dates are dates; in CSV they are decimal strings ("464.21") and ISO dates, the
API's own notation. The clients export has exactly the import's columns, so it re-imports.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import tempfile
from dataclasses import dataclass
from decimal import Decimal
from typing import Callable, Iterable, Iterator

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, and_, select, true
from sqlalchemy.orm import aliased

from app.billing.models import Invoice, InvoiceStatus, Payment
from app.clients.models import Client, Contact
from app.clients.schemas import CLIENT_FIELDS
from app.errors import Refusal
from app.extensions import db
from app.transfer.imports import COLUMNS as CLIENT_COLUMNS

BATCH = 500
MONEY_FORMAT = "#,##0.00"
DATE_FORMAT = "yyyy-mm-dd"
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class Export:
    """One export: its columns (the header), which of them are amounts and dates, its rows."""

    name: str
    columns: tuple[str, ...]
    money: frozenset[str]
    dates: frozenset[str]
    query: Callable[[dt.date | None, dt.date | None], Select]


def parse_bound(value: str | None, name: str) -> dt.date | None:
    """`from` or `to` as an ISO date; missing means no bound. Raises Refusal at the field."""
    if value is None or not value.strip():
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise Refusal(_l("Enter a date as YYYY-MM-DD (for example 2026-01-31)."), name) from None


def parse_bounds(start: str | None, end: str | None) -> tuple[dt.date | None, dt.date | None]:
    bounds = parse_bound(start, "from"), parse_bound(end, "to")
    if bounds[0] and bounds[1] and bounds[0] > bounds[1]:
        raise Refusal(_l("The end of the period must not be before its start."), "to")
    return bounds


def _between(column, start: dt.date | None, end: dt.date | None):
    return and_(true(), *([column >= start] if start else []), *([column <= end] if end else []))


def _clients(_start, _end) -> Select:
    primary = aliased(Contact)
    first_contact = (select(Contact.id).where(Contact.client_id == Client.id)
                     .order_by(Contact.is_primary.desc(), Contact.id).limit(1).scalar_subquery())
    return (select(*(getattr(Client, name) for name in CLIENT_FIELDS), primary.name, primary.email)
            .outerjoin(primary, primary.id == first_contact)
            .order_by(Client.name, Client.id))


def _invoices(start, end) -> Select:
    """Issued invoices (every status but draft) of the period, by issue date and number."""
    return (select(Invoice.number, Invoice.issue_date, Invoice.due_date, Client.name, Invoice.bill_vat_number,
                   Invoice.currency, Invoice.subtotal, Invoice.tax_total, Invoice.total, Invoice.amount_paid,
                   Invoice.balance, Invoice.status)
            .join(Client, Client.id == Invoice.client_id)
            .where(Invoice.status != InvoiceStatus.DRAFT.value, _between(Invoice.issue_date, start, end))
            .order_by(Invoice.issue_date, Invoice.year, Invoice.sequence, Invoice.id))


def _payments(start, end) -> Select:
    return (select(Payment.date, Invoice.number, Client.name, Client.vat_number, Payment.currency, Payment.amount,
                   Payment.method, Payment.reference)
            .join(Invoice, Invoice.id == Payment.invoice_id)
            .join(Client, Client.id == Payment.client_id)
            .where(_between(Payment.date, start, end))
            .order_by(Payment.date, Payment.id))


EXPORTS = {
    "clients": Export("clients", CLIENT_COLUMNS, frozenset(), frozenset(), _clients),
    "invoices": Export(
        "invoices",
        ("number", "date", "due_date", "client", "vat_number", "currency", "subtotal", "tax", "total", "paid",
         "balance", "status"),
        frozenset({"subtotal", "tax", "total", "paid", "balance"}), frozenset({"date", "due_date"}), _invoices),
    "payments": Export(
        "payments",
        ("date", "invoice", "client", "vat_number", "currency", "amount", "method", "reference"),
        frozenset({"amount"}), frozenset({"date"}), _payments),
}


def rows(export: Export, start: dt.date | None = None, end: dt.date | None = None) -> Iterator[tuple]:
    """The export's rows, read BATCH at a time."""
    yield from db.session.execute(export.query(start, end).execution_options(yield_per=BATCH))


def _csv_value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def csv_chunks(export: Export, start: dt.date | None = None, end: dt.date | None = None) -> Iterator[str]:
    """The CSV text, a batch of lines at a time (UTF-8 with a BOM, so Excel reads accents)."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(export.columns)
    for index, row in enumerate(rows(export, start, end), start=1):
        writer.writerow([_csv_value(value) for value in row])
        if index % BATCH == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def xlsx_bytes(export: Export, start: dt.date | None = None, end: dt.date | None = None) -> bytes:
    """The export as a one-sheet workbook: amounts are numbers shown with two decimals, dates
    are date cells; written row by row by openpyxl's write-only mode."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(export.name)
    sheet.append(list(export.columns))
    kinds = ["money" if name in export.money else "date" if name in export.dates else "" for name in export.columns]
    for row in rows(export, start, end):
        cells = []
        for kind, value in zip(kinds, row):
            cell = WriteOnlyCell(sheet, value=value if value is not None else "")
            if kind == "money" and value is not None:
                cell.number_format = MONEY_FORMAT
            elif kind == "date" and value is not None:
                cell.number_format = DATE_FORMAT
            cells.append(cell)
        sheet.append(cells)
    with tempfile.TemporaryFile() as handle:
        workbook.save(handle)
        handle.seek(0)
        return handle.read()


def filename(export: Export, start: dt.date | None, end: dt.date | None, extension: str) -> str:
    """"invoices_2026-01-01_2026-03-31.csv"; "clients.csv"."""
    parts = [export.name, *(bound.isoformat() for bound in (start, end) if bound)]
    return "_".join(parts) + "." + extension


def stream(chunks: Iterable[str]) -> Iterator[bytes]:
    for chunk in chunks:
        yield chunk.encode("utf-8")
