"""Builders for tests: a client, an invoice or quote with lines, a staff user.

Every builder goes through the real rules (`app.billing.services`, `clean_client_fields`),
so a test built with them sees what a user would. They flush, never commit: the test (or
the code under test) decides when the transaction ends. No tests live here.
"""
from __future__ import annotations

import datetime as dt
import itertools
import threading
from decimal import Decimal
from typing import Callable, Iterable, Mapping

from flask import Flask, current_app

from app.billing import services as billing
from app.billing.models import Invoice, Quote
from app.clients.models import Client, Contact
from app.clients.validation import clean_client_fields
from app.extensions import db

TODAY = dt.date.today()

# Valid Italian identifiers (check digits included) for realistic clients.
VALID_PARTITE_IVA = ("12345670017", "01234560017", "07654320154", "09876540585")
VALID_CODICE_FISCALE = "RSSMRA85T10A562S"

_counter = itertools.count(1)

# One 22% line of 100.00: net 100.00, VAT 22.00, total 122.00.
DEFAULT_LINES = ({"description": "Consulenza", "quantity": "1", "unit_price": "100.00", "tax_rate": "22"},)


def make_client(name: str | None = None, *, email: str | None = None, kind: str = "business",
                contacts: Iterable[Mapping[str, object]] | None = None, **fields: object) -> Client:
    """An Italian client with a valid Partita IVA (or codice fiscale for individuals) and one
    primary contact; any client field can be overridden. Fields go through
    `clean_client_fields`, and a validation error fails loudly."""
    n = next(_counter)
    data: dict[str, object] = {
        "name": name or f"Cliente {n} S.r.l.",
        "kind": kind,
        "email": email or f"cliente{n}@example.it",
        "address": "Via Roma 1",
        "city": "Milano",
        "province": "MI",
        "postal_code": "20121",
        "country": "IT",
        "language": "it",
        "currency": "EUR",
    }
    if kind == "business":
        data["vat_number"] = VALID_PARTITE_IVA[n % len(VALID_PARTITE_IVA)]
    else:
        data["tax_code"] = VALID_CODICE_FISCALE
    data.update(fields)
    result = clean_client_fields(data)
    assert result.ok, f"make_client got invalid fields: {result.errors}"
    client = Client(**{key: value for key, value in result.values.items() if hasattr(Client, key)})
    for index, contact in enumerate(contacts if contacts is not None else [{}]):
        client.contacts.append(
            Contact(
                name=str(contact.get("name") or f"Contatto {n}.{index}"),
                email=str(contact.get("email") or (client.email if index == 0 else f"contatto{n}.{index}@example.it")),
                phone=str(contact.get("phone") or ""),
                is_primary=bool(contact.get("is_primary", index == 0)),
            )
        )
    db.session.add(client)
    db.session.flush()
    return client


def line(description: str = "Consulenza", quantity: object = "1", unit_price: object = "100.00",
         tax_rate: object = "22", discount: object = "0", vat_nature: str | None = None) -> dict[str, object]:
    """One line's input, as a form or the API would send it (Decimal strings). A 0 % line
    needs a VAT nature: N4 (exempt) unless one is given."""
    if vat_nature is None:
        vat_nature = "" if Decimal(str(tax_rate).replace(",", ".")) else "N4"
    return {"description": description, "quantity": str(quantity), "unit_price": str(unit_price),
            "tax_rate": str(tax_rate), "discount": str(discount), "vat_nature": vat_nature}


def make_invoice(client: Client | None = None, *, lines: Iterable[Mapping[str, object]] = DEFAULT_LINES,
                 finalize: bool = False, issue_date: dt.date | None = None, due_date: dt.date | None = None,
                 notes: str = "") -> Invoice:
    """A draft invoice (or a sent one with `finalize=True`); by default one line of 100 + 22%."""
    invoice = billing.new_invoice(client or make_client(), issue_date=issue_date, due_date=due_date,
                                  lines=lines, notes=notes)
    if finalize:
        billing.finalize_invoice(invoice)
    db.session.flush()
    return invoice


def make_quote(client: Client | None = None, *, lines: Iterable[Mapping[str, object]] = DEFAULT_LINES,
               finalize: bool = False, issue_date: dt.date | None = None, valid_until: dt.date | None = None,
               notes: str = "") -> Quote:
    """A draft quote (or a sent one with `finalize=True`); by default one line of 100 + 22%."""
    quote = billing.new_quote(client or make_client(), issue_date=issue_date, valid_until=valid_until,
                              lines=lines, notes=notes)
    if finalize:
        billing.finalize_quote(quote)
    db.session.flush()
    return quote


def make_paid_invoice(client: Client | None = None, **options) -> Invoice:
    invoice = make_invoice(client, finalize=True, **options)
    billing.record_payment(invoice, amount=invoice.balance, method="bank_transfer")
    db.session.flush()
    return invoice


STAFF_PASSWORD = "Password-123!"


def make_staff_user(role: str = "Billing", username: str | None = None, password: str = STAFF_PASSWORD):
    """A staff user with one role ("Admin", "Billing" or "Support"); committed, because FAB's
    security manager commits on its own."""
    sm = current_app.appbuilder.sm
    username = username or f"{role.lower()}{next(_counter)}"
    user = sm.add_user(username, role, "Test", f"{username}@clientela.test", sm.find_role(role), password)
    assert user, f"could not create staff user {username}"
    return user


def login(web, username: str, password: str = STAFF_PASSWORD) -> None:
    """Sign `web` into the admin through FAB's login form."""
    response = web.post("/login/", data={"username": username, "password": password})
    assert response.status_code in (302, 303), response.status_code


def money(value: str) -> Decimal:
    return Decimal(value)


# --- real concurrency (PostgreSQL) ------------------------------------------------------------

_concurrent_apps: dict[str, Flask] = {}


def concurrent_app(app: Flask) -> Flask:
    """The same app on the same database, with a pool wide enough for many threads.

    Without Redis, jobs run inline right after a commit in a fresh app context, so a thread
    briefly holds two connections; twenty threads would exhaust the default pool (5 + 10).
    """
    from app import create_app

    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if url not in _concurrent_apps:
        _concurrent_apps[url] = create_app(
            "config.TestConfig", SQLALCHEMY_DATABASE_URI=url, REDIS_URL="",
            PUBLIC_BASE_URL=app.config["PUBLIC_BASE_URL"],
            SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 10, "max_overflow": 60, "pool_timeout": 60},
        )
    return _concurrent_apps[url]


def run_concurrently(app: Flask, count: int, work: Callable[[int], object]) -> list[object]:
    """Run work(index) in `count` threads released together, each with its own app context and
    session (pass ids to threads, never ORM objects). Returns each thread's result or exception.
    """
    threaded_app = concurrent_app(app)
    barrier = threading.Barrier(count)
    outcomes: list[object] = [None] * count

    def worker(index: int) -> None:
        with threaded_app.app_context():
            try:
                barrier.wait(timeout=30)
                outcomes[index] = work(index)
            except BaseException as exc:  # noqa: BLE001 - handed back to the test
                db.session.rollback()
                outcomes[index] = exc
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    with threaded_app.app_context():
        db.engine.dispose()  # no idle connections left to hold up dropping the test tables
    return outcomes
