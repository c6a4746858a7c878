"""Clients with their contacts, imported from a CSV or XLSX file: all of it, or none of it.

Columns are named by the client API's field names (`name`, `vat_number` …) plus
`contact_name` and `contact_email`, in any order; the header is line 1. Every row is checked
with the very rules of the client form and API (`ClientInputSchema` for shapes and lengths,
`clean_client_fields` for VAT numbers, codici fiscali, countries and emails, `ContactInputSchema`
for the contact), and one wrong cell anywhere imports nothing. A client already present (the
same VAT number, else the same email) is updated, never duplicated, so running the same file
twice changes nothing the second time. Rows naming the same client add their contacts to it.

`import_file()` is the one rule: the API, the admin upload and the CLI all call it.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Iterable

from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError
from sqlalchemy import func, or_, select

from app.activity import services as activity
from app.clients.models import Client, Contact
from app.clients.schemas import CLIENT_FIELDS, ClientInputSchema, ContactInputSchema
from app.clients.validation import clean_client_fields, clean_vat_number
from app.extensions import db
from app.rest import field_errors

CONTACT_COLUMNS = ("contact_name", "contact_email")
COLUMNS = (*CLIENT_FIELDS, *CONTACT_COLUMNS)
MAX_IMPORT_BYTES = 2 * 1024 * 1024
MAX_ROWS = 10_000
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_XLSX_MAGIC = b"PK\x03\x04"  # an XLSX file is a ZIP archive
_LOOKUP_CHUNK = 500  # ids per IN (…) when looking for clients already present
FILE_FIELD = "_file"  # errors about the file as a whole, not one of its cells
NUL_REFUSED = _l("Text cannot contain NUL characters.")


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    errors: list[dict[str, object]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict[str, object]:
        return {"created": self.created, "updated": self.updated, "errors": self.errors}


class FileRefused(ValueError):
    """The file cannot be read as a table (or is too large): nothing to check row by row."""

    def __init__(self, message) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class _Plan:
    """What the import will do to one client: the values it ends with and the contacts it adds."""

    line: int
    client: Client | None
    values: dict[str, object]
    contacts: list[tuple[str, str]] = field(default_factory=list)


def _error(line: int, name: str, message: object) -> dict[str, object]:
    return {"row": line, "field": name, "message": str(message)}


# ---------------------------------------------------------------- reading the file

def read_rows(content: bytes) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and the data rows with their line numbers (blank rows skipped), from an XLSX
    (recognized by its content, never by a file name) or a CSV file."""
    if len(content) > MAX_IMPORT_BYTES:
        raise FileRefused(_l("The file is too large: at most %(size)d MB.", size=MAX_IMPORT_BYTES // (1024 * 1024)))
    rows = _xlsx_rows(content) if content.startswith(_XLSX_MAGIC) else _csv_rows(content)
    header: list[str] | None = None
    data: list[tuple[int, list[str]]] = []
    for line, cells in rows:
        if not any(cell.strip() for cell in cells):
            continue
        if header is None:
            header = [cell.strip().lower() for cell in cells]
            continue
        data.append((line, cells))
        if len(data) > MAX_ROWS:
            raise FileRefused(_l("The file has too many rows: at most %(count)d.", count=MAX_ROWS))
    if header is None:
        raise FileRefused(_l("The file is empty: the first line must name the columns."))
    return header, data


def _csv_rows(content: bytes) -> Iterable[tuple[int, list[str]]]:
    """CSV as spreadsheets write it: UTF-8 (with or without BOM) or Windows-1252, separated by
    commas, or by semicolons as Italian Excel does. Each row carries the line it starts on."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = content.decode("cp1252", errors="replace")
    first_line = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        while True:
            start = reader.line_num + 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            yield start, cells
    except csv.Error as error:
        raise FileRefused(_l("This is not a readable CSV file (line %(line)d).", line=reader.line_num)) from error


def _xlsx_rows(content: bytes) -> Iterable[tuple[int, list[str]]]:
    """The first sheet's rows, every cell as text (numbers without a spurious ".0", dates ISO)."""
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as error:
        raise FileRefused(_l("This is not a readable XLSX file.")) from error
    try:
        sheet = workbook.worksheets[0]
        for line, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield line, [_cell_text(value) for value in values]
    finally:
        workbook.close()


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else str(Decimal(repr(value)))
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return str(value)


# ---------------------------------------------------------------- checking and importing

def import_file(content: bytes, *, dry_run: bool = False) -> ImportReport:
    """Check every row of the file; with no error (and not a dry run) create and update the
    clients in the current session, the caller commits. Any error: nothing changes."""
    try:
        header, rows = read_rows(content)
    except FileRefused as refused:
        return ImportReport(errors=[_error(1, FILE_FIELD, refused.message)])
    return import_rows(header, rows, dry_run=dry_run)


def import_rows(header: list[str], rows: list[tuple[int, list[str]]], *, dry_run: bool = False) -> ImportReport:
    errors = [_error(1, name or "_column", _l("Unknown column: use the client fields' names (see the guide)."))
              for name in header if name not in COLUMNS]
    if "name" not in header:
        errors.append(_error(1, "name", _l("The file needs a name column.")))
    if errors:
        return ImportReport(errors=errors)
    records = [(line, {name: (cells[index] if index < len(cells) else "").strip()
                       for index, name in enumerate(header)}) for line, cells in rows]
    found = _clients_present(records)
    plans: dict[tuple, _Plan] = {}
    for line, record in records:
        errors.extend(_plan_row(line, record, found, plans))
    report = ImportReport(errors=errors)
    if errors:
        return report
    distinct = list({id(plan): plan for plan in plans.values()}.values())
    report.created = sum(1 for plan in distinct if plan.client is None)
    report.updated = len(distinct) - report.created
    if not dry_run:
        for plan in distinct:
            save_client(plan.client, plan.values, plan.contacts)
    return report


def _match_keys(record: dict[str, str]) -> tuple[str, str]:
    """The normalized VAT number ("" when missing or invalid) and lower-case email of a row."""
    country = (record.get("country") or "IT").strip().upper()
    try:
        vat = clean_vat_number(record.get("vat_number", ""), country)
    except ValueError:
        vat = ""
    return vat, record.get("email", "").strip().lower()


def _clients_present(records: list[tuple[int, dict[str, str]]]) -> dict[tuple[str, str], Client]:
    """Clients already in the database with a VAT number or email the file names, keyed
    ("vat", number) and ("email", address): a few queries for any number of rows."""
    vats, emails = set(), set()
    for _line, record in records:
        vat, email = _match_keys(record)
        vats.update([vat] if vat else [])
        emails.update([email] if email else [])
    found: dict[tuple[str, str], Client] = {}
    for chunk_vats, chunk_emails in _chunks(sorted(vats), sorted(emails)):
        clients = db.session.scalars(select(Client).where(or_(
            Client.vat_number.in_(chunk_vats), func.lower(Client.email).in_(chunk_emails),
        )).order_by(Client.id)).all()
        for client in clients:  # the oldest client wins when several share one
            if client.vat_number:
                found.setdefault(("vat", client.vat_number), client)
            if client.email:
                found.setdefault(("email", client.email.lower()), client)
    return found


def _chunks(vats: list[str], emails: list[str]) -> Iterable[tuple[list[str], list[str]]]:
    for start in range(0, max(len(vats), len(emails)), _LOOKUP_CHUNK):
        yield vats[start:start + _LOOKUP_CHUNK], emails[start:start + _LOOKUP_CHUNK]


def _plan_row(line: int, record: dict[str, str], found: dict[tuple[str, str], Client],
              plans: dict[tuple, _Plan]) -> list[dict[str, object]]:
    """Check one row against the client rules and fold it into the plan; its errors, if any.

    Empty cells leave a present client's value as it is; a new client gets the defaults."""
    # PostgreSQL text cannot hold NUL: such a cell is refused here, not by the database.
    errors: dict[str, list[str]] = {name: [str(NUL_REFUSED)] for name, value in record.items() if "\x00" in value}
    given = {name: value for name, value in record.items()
             if name in CLIENT_FIELDS and value and name not in errors}
    try:
        given = ClientInputSchema().load(given)
    except ValidationError as error:
        errors.update(field_errors(error.messages))
        given = {name: value for name, value in given.items() if name not in errors}

    vat, email = _match_keys(record)
    keys = [key for key in (("vat", vat), ("email", email)) if key[1]]
    # The same VAT number, else the same email: first among the clients present, then among
    # those earlier rows of the file will create.
    client = next((found[key] for key in keys if key in found), None)
    plan = plans.get(("client", client.id)) if client is not None else next(
        (plans[key] for key in keys if key in plans), None)
    if plan is not None:
        current = plan.values
    else:
        current = {name: getattr(client, name) or "" for name in CLIENT_FIELDS} if client is not None else {}
    cleaned = clean_client_fields({**current, **given})
    for name, message in cleaned.errors.items():
        errors.setdefault(name, [str(message)])

    contact = _contact_of(record, cleaned.values) if not set(errors) & set(CONTACT_COLUMNS) else None
    if isinstance(contact, dict):
        errors.update(contact)
    if errors:
        return [_error(line, name, message) for name, messages in errors.items() for message in messages]
    if plan is None:
        plan = _Plan(line=line, client=client, values={})
        for key in [("client", client.id)] if client is not None else keys or [("line", line)]:
            plans[key] = plan
    plan.values = {name: cleaned.values.get(name) or "" for name in CLIENT_FIELDS}
    if contact is not None:
        plan.contacts.append(contact)
    return []


def _contact_of(record: dict[str, str], client_values: dict[str, object]):
    """The row's contact as (name, email), None without one, or its errors by column."""
    name, email = record.get("contact_name", ""), record.get("contact_email", "")
    if not name and not email:
        return None
    try:
        data = ContactInputSchema().load({"name": name or str(client_values.get("name") or ""), "email": email})
    except ValidationError as error:
        return {f"contact_{column}": messages for column, messages in field_errors(error.messages).items()}
    return data["name"], data["email"]


def save_client(client: Client | None, values: dict[str, object], contacts: list[tuple[str, str]]) -> Client:
    """Create or update one client as the client API does (its fields, then its contacts: a
    contact is matched by email, added when new, never removed). The one place the import
    writes clients: switch it to app.clients.services when that module exists."""
    creating = client is None
    client = client or Client()
    for name in CLIENT_FIELDS:
        setattr(client, name, values[name] or "")
    present = {contact.email.lower(): contact for contact in client.contacts}
    for name, email in contacts:
        contact = present.get(email.lower())
        if contact is None:
            contact = present[email.lower()] = Contact(email=email, phone="", is_primary=not client.contacts)
            client.contacts.append(contact)
        contact.name = name
    if creating and not client.contacts:
        client.contacts.append(Contact(name=client.name, email=client.email, phone=client.phone or "",
                                       is_primary=True))
    if creating:
        db.session.add(client)
        db.session.flush()
        activity.record("client_created", client.id)
    return client
