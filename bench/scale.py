"""`make bench SCALE=1m`: the list pages, home, 360 pages, portal and API at 100,000 clients and
1,000,000 invoices on PostgreSQL, against the same pages at the default bench size.

Seeds two databases with the same generator (server-side INSERT … SELECT over
generate_series, a progress bar on stderr): BENCH_DATABASE_URL at 1m (99,999 clients × 10
invoices + one client with 10,000) and BENCH_REFERENCE_URL (default: the same server's
database named `<name>_default`) at the default bench size (10,000 clients × 20 invoices +
one with 10,000). A database that already holds its seed for the same schema (the `bench_seed`
marker row names the scale and a fingerprint of the models' tables and columns) is
reused. Then measures, in one run, each page at both sizes and its floor (an empty page of the
same layout) at 1m, taken in turn sample by sample, and prints for the 1m database each ratio
with its target: ≤ 2× its floor (home ≤ 1.5× the admin floor) and ≤ 1.5× its value at the
default size. In process (Flask's test client), as the default bench's page rows.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import literal, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Scale:
    name: str
    clients: int  # ordinary clients, plus one large one
    invoices_per_client: int
    large_client_invoices: int

    @property
    def invoices(self) -> int:
        return self.clients * self.invoices_per_client + self.large_client_invoices


SCALES = {"default": Scale("default", 10_000, 20, 10_000), "1m": Scale("1m", 99_999, 10, 10_000)}

# Rebuilt after the bulk load, as the app keeps them in step while it runs (a bulk INSERT
# bypasses the flush listeners): one line per rollup the app keeps.
REBUILD_HOOKS = ["app.billing.accounts:rebuild_accounts", "app.billing.rollups:rebuild_home_rollups"]

PREFIXES = ["Studio", "Officina", "Ristorante", "Farmacia", "Impresa", "Laboratorio", "Agenzia"]
SURNAMES = ["Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino", "Greco",
            "Bruno", "Gallo", "Conti", "De Luca", "Mancini", "Costa", "Giordano", "Rizzo", "Lombardi", "Moretti"]
SUFFIXES = ["S.r.l.", "S.n.c.", "S.p.A.", "& Figli", "S.a.s."]
CITIES = ["Milano", "Roma", "Torino", "Napoli", "Bologna", "Firenze", "Genova", "Verona", "Padova", "Bari"]
CLIENT_CHUNK = 2_000


def _array(values: list[str]) -> str:
    return "ARRAY[" + ", ".join("'" + value.replace("'", "''") + "'" for value in values) + "]"


def _pick(values: list[str], number: str) -> str:
    return f"({_array(values)})[1 + ({number}) % {len(values)}]"


class Progress:
    """A one-line progress bar on stderr."""

    def __init__(self, label: str, total: int) -> None:
        self.label, self.total, self.done, self.start = label, total, 0, time.perf_counter()

    def advance(self, amount: int) -> None:
        self.done += amount
        share = self.done / self.total if self.total else 1
        elapsed = time.perf_counter() - self.start
        bar = "#" * int(share * 30)
        print(f"\r  {self.label:<28} [{bar:<30}] {share:>4.0%} {self.done:>9,}/{self.total:,} {elapsed:>5.0f} s",
              end="", file=sys.stderr, flush=True)
        if self.done >= self.total:
            print(file=sys.stderr, flush=True)


def insert_select(connection, table, values: dict[str, str], source: str) -> None:
    """INSERT INTO table (…) SELECT … FROM source: the given SQL expressions, and each other
    required column's model default as a literal (bulk SQL bypasses the ORM's defaults)."""
    names, expressions = [], []
    for column in table.columns:
        if column.name in values:
            expression = values[column.name]
        elif column.server_default is not None or column.nullable or column.primary_key:  # a key: its sequence
            continue
        elif column.default is not None and column.default.is_scalar:
            expression = str(literal(column.default.arg, column.type).compile(
                dialect=connection.dialect, compile_kwargs={"literal_binds": True}))
        else:
            raise ValueError(f"{table.name}.{column.name}: give it a value")
        names.append(f'"{column.name}"')
        expressions.append(f"{expression}")
    connection.execute(text(f'INSERT INTO "{table.name}" ({", ".join(names)}) SELECT {", ".join(expressions)} '
                            f"FROM {source}"))


def schema_fingerprint() -> str:
    """The tables and columns the app's models declare, and the seed's version: a seed made
    for another schema (a migration added a table or a column since) or by an older seed is
    made again rather than measured broken."""
    import hashlib

    from flask_appbuilder import Model

    shape = sorted(f"{table.name}.{column.name}"
                   for table in Model.metadata.tables.values() for column in table.columns)
    return hashlib.sha256("\n".join([SEED_VERSION, *shape]).encode()).hexdigest()[:16]


# Moves when the seed itself changes (what it inserts), so that older seeds are made again.
SEED_VERSION = "2: outbox emails and tickets"


def seeded(connection, scale: Scale) -> bool:
    from sqlalchemy import inspect

    if not inspect(connection).has_table("bench_seed") or "schema" not in {
            column["name"] for column in inspect(connection).get_columns("bench_seed")}:
        return False
    row = connection.execute(text("SELECT scale, invoices, schema FROM bench_seed")).first()
    return (row is not None and row.scale == scale.name and row.invoices == scale.invoices
            and row.schema == schema_fingerprint())


def seed_documents(connection, first_client: int, last_client: int, per_client: int, first_invoice: int) -> None:
    """Invoices (one line each), their payments and one quote per client, for clients
    first..last, `per_client` invoices each, ids from `first_invoice` on."""
    from app.billing.models import Invoice, InvoiceLine, Payment, Quote, QuoteLine
    from app.mail.models import OutboxEmail
    from app.tickets.models import Ticket, TicketMessage

    today = "DATE '2026-12-01'"
    invoice_id = f"{first_invoice} + (c.id - {first_client}) * {per_client} + k - 1"
    # Shapes by id: half paid, a quarter sent (past due for some), partial, draft, cancelled.
    shape = "(ARRAY['paid','paid','paid','paid','paid','paid','paid','paid','paid','paid'," \
            "'sent','sent','sent','sent','sent','partial','partial','draft','draft','cancelled'])[1 + (i.id % 20)]"
    source = (f"(SELECT c.id AS client_id, c.name, c.city, {invoice_id} AS id FROM client c, "
              f"generate_series(1, {per_client}) k WHERE c.id BETWEEN {first_client} AND {last_client}) i")
    issue = f"({today} - ((i.id::bigint * 7919) % 720)::int)"
    subtotal = "(100 + (i.id % 900))::numeric(14, 2)"
    total = f"round({subtotal} * 1.22, 2)"
    paid = f"CASE {shape} WHEN 'paid' THEN {total} WHEN 'partial' THEN round({total} / 2, 2) ELSE 0 END"
    numbered = f"{shape} <> 'draft'"
    insert_select(connection, Invoice.__table__, {
        "id": "i.id", "client_id": "i.client_id", "status": shape,
        "number": f"CASE WHEN {numbered} THEN 'B' || i.id END", "year": f"CASE WHEN {numbered} THEN 2026 END",
        "sequence": f"CASE WHEN {numbered} THEN i.id END", "issue_date": issue, "due_date": f"{issue} + 30",
        "bill_name": "i.name", "bill_city": "i.city", "subtotal": subtotal, "tax_total": f"{total} - {subtotal}",
        "total": total, "net_to_pay": total, "amount_paid": paid,
        "balance": f"CASE {shape} WHEN 'cancelled' THEN 0 ELSE {total} - ({paid}) END",
        "sent_at": f"CASE WHEN {numbered} THEN {issue}::timestamp END",
        "overdue_marked": f"{shape} IN ('sent', 'partial') AND {issue} + 30 < CURRENT_DATE",
    }, source)
    last_invoice = first_invoice + (last_client - first_client + 1) * per_client - 1
    invoices = f"invoice WHERE id BETWEEN {first_invoice} AND {last_invoice}"
    insert_select(connection, InvoiceLine.__table__, {
        "invoice_id": "id", "position": "0", "description": "'Consulenza'", "quantity": "1",
        "unit_price": "subtotal", "discount": "0", "tax_rate": "22", "amount": "subtotal"}, invoices)
    insert_select(connection, Payment.__table__, {
        "invoice_id": "id", "client_id": "client_id", "amount": "amount_paid", "currency": "'EUR'",
        "date": "LEAST(issue_date + 10, CURRENT_DATE)", "method": "'bank_transfer'"},
        f"{invoices} AND status IN ('paid', 'partial')")
    quote_shape = "(ARRAY['draft','sent','accepted','rejected','expired'])[1 + (c.id % 5)]"
    insert_select(connection, Quote.__table__, {
        "id": "c.id", "client_id": "c.id", "status": quote_shape,
        "number": f"CASE WHEN {quote_shape} <> 'draft' THEN 'P' || c.id END",
        "year": f"CASE WHEN {quote_shape} <> 'draft' THEN 2026 END",
        "sequence": f"CASE WHEN {quote_shape} <> 'draft' THEN c.id END",
        "issue_date": f"{today} - (c.id % 300)", "valid_until": f"{today} - (c.id % 300) + 30",
        "bill_name": "c.name", "subtotal": "100", "tax_total": "22", "total": "122"},
        f"client c WHERE c.id BETWEEN {first_client} AND {last_client}")
    # The invoice email of every other finalized invoice (half of them still in the outbox list's
    # default order range, all in its index), and a support ticket from one client in five.
    insert_select(connection, OutboxEmail.__table__, {
        "idempotency_key": "'bench-invoice-' || id", "kind": "'invoice'", "to_email": "'referente' || client_id || '@example.it'",
        "subject": "'Fattura ' || number", "body_text": "'In allegato la fattura ' || number",
        "body_html": "'<p>In allegato la fattura ' || number || '</p>'",
        "status": "CASE WHEN id % 50 = 0 THEN 'failed' ELSE 'sent' END",
        "client_id": "client_id", "invoice_id": "id", "created_at": "sent_at", "sent_at": "sent_at"},
        f"{invoices} AND number IS NOT NULL AND id % 2 = 0")
    tickets = f"client c WHERE c.id BETWEEN {first_client} AND {last_client} AND c.id % 5 = 0"
    insert_select(connection, Ticket.__table__, {
        "id": "c.id / 5", "subject": "'Domanda sulla fattura'", "client_id": "c.id", "contact_id": "c.id",
        "status": "(ARRAY['open','answered','closed'])[1 + (c.id / 5) % 3]",
        "last_activity_at": f"{today}::timestamp - ((c.id % 1000) || ' hours')::interval",
        "created_at": f"{today}::timestamp - ((c.id % 1000) || ' hours')::interval - interval '1 day'"}, tickets)
    insert_select(connection, TicketMessage.__table__, {
        "ticket_id": "c.id / 5", "contact_id": "c.id", "author_name": "'Referente ' || c.id",
        "body": "'Il totale non torna.'", "from_staff": "false", "is_internal": "false",
        "created_at": f"{today}::timestamp - ((c.id % 1000) || ' hours')::interval - interval '1 day'"}, tickets)
    insert_select(connection, QuoteLine.__table__, {
        "quote_id": "id", "position": "0", "description": "'Preventivo'", "quantity": "1", "unit_price": "100",
        "discount": "0", "tax_rate": "22", "amount": "100"},
        f"quote WHERE id BETWEEN {first_client} AND {last_client}")


def seed(app, scale: Scale) -> None:
    """Seed the app's database at `scale`, unless it already holds that seed."""
    from flask_appbuilder import Model

    from app.clients.models import Client, Contact
    from app.extensions import db
    from app.security.setup import ensure_roles

    with app.app_context():
        with db.engine.connect() as connection:
            if seeded(connection, scale):
                print(f"  reusing the {scale.name} seed in {db.engine.url.database} "
                      f"({scale.clients + 1:,} clients, {scale.invoices:,} invoices)", flush=True)
                return
        print(f"Seeding {db.engine.url.database} at {scale.name}: {scale.clients:,} clients × "
              f"{scale.invoices_per_client} invoices + one client with {scale.large_client_invoices:,} …", flush=True)
        start = time.perf_counter()
        with db.engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE IF EXISTS bench_seed")
        Model.metadata.drop_all(db.engine)
        Model.metadata.create_all(db.engine)
        ensure_roles()
        app.appbuilder.add_permissions(update_perms=True)
        db.session.commit()

        large = scale.clients + 1
        progress = Progress("clients and contacts", large)
        for first in range(1, large + 1, CLIENT_CHUNK * 5):
            last = min(first + CLIENT_CHUNK * 5 - 1, large)
            with db.engine.begin() as connection:
                number = "g"
                insert_select(connection, Client.__table__, {
                    "id": "g",
                    "name": f"{_pick(PREFIXES, number)} || ' ' || {_pick(SURNAMES, number + ' / 7')} || ' ' || "
                            f"{_pick(SUFFIXES, number + ' / 140')} || ' ' || g",
                    "kind": "'business'", "email": "'cliente' || g || '@example.it'", "city": _pick(CITIES, number),
                    "vat_number": "lpad(g::text, 11, '0')"}, f"generate_series({first}, {last}) g")
                insert_select(connection, Contact.__table__, {
                    "id": "id", "client_id": "id", "name": "'Referente ' || id",
                    "email": "'referente' || id || '@example.it'",
                    "is_primary": "true", "portal_enabled": "true", "session_version": "1"},
                    f"client WHERE id BETWEEN {first} AND {last}")
            progress.advance(last - first + 1)

        progress = Progress("invoices, lines, payments", scale.invoices)
        for first in range(1, scale.clients + 1, CLIENT_CHUNK):
            last = min(first + CLIENT_CHUNK - 1, scale.clients)
            with db.engine.begin() as connection:
                seed_documents(connection, first, last, scale.invoices_per_client,
                               1 + (first - 1) * scale.invoices_per_client)
            progress.advance((last - first + 1) * scale.invoices_per_client)
        with db.engine.begin() as connection:
            seed_documents(connection, large, large, scale.large_client_invoices,
                           1 + scale.clients * scale.invoices_per_client)
        progress.advance(scale.large_client_invoices)

        with db.engine.begin() as connection:  # the app inserts after the seed: sequences past the seeded ids
            for table in ("client", "contact", "invoice", "invoice_line", "payment", "quote", "quote_line",
                          "outbox_email", "ticket", "ticket_message"):
                connection.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                           f"(SELECT max(id) FROM {table}))")
        rollups = time.perf_counter()
        for hook in REBUILD_HOOKS:
            module, name = hook.split(":")
            getattr(__import__(module, fromlist=[name]), name)()
            db.session.commit()
        print(f"  rollups rebuilt in {time.perf_counter() - rollups:.0f} s", flush=True)
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE")
        with db.engine.begin() as connection:
            connection.exec_driver_sql(
                "CREATE TABLE bench_seed (scale text, invoices integer, seeded_at timestamp, schema text)")
            connection.execute(text("INSERT INTO bench_seed VALUES (:scale, :invoices, now(), :schema)"),
                               {"scale": scale.name, "invoices": scale.invoices, "schema": schema_fingerprint()})
        print(f"  seeded in {time.perf_counter() - start:.0f} s", flush=True)


def bring_to_live_state() -> None:
    """What the workers' periodic tasks keep a live database at, as the default bench does
    (on a seed reused a day later, the documents whose date has passed since; the seed itself
    lapses quotes), then what autovacuum would do to the tables they changed."""
    from app.extensions import db
    from bench.__main__ import run_periodic_marks

    if run_periodic_marks():
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE invoice, quote, activity, client_account, client_balance, "
                                       "quote_tally, receivable_day")


def reference_url(url: str) -> str:
    explicit = os.environ.get("BENCH_REFERENCE_URL")
    if explicit:
        return explicit
    target = make_url(url)
    return target.set(database=f"{target.database}_default").render_as_string(hide_password=False)


# ── measuring ───────────────────────────────────────────────────────────────────────────────

API_FLOOR = "/api/v1/client/?q=(filters:!((col:name,opr:eq,value:'-')))"  # the API list over no client


@dataclass(frozen=True)
class Page:
    name: str
    path: str
    floor: str  # "admin", "portal" or "api"
    floor_target: float = 2.0


def pages(large: int, small: int) -> list[Page]:
    return [
        Page("home dashboard", "/", "admin", 1.5),
        Page("client list", "/clientview/list/", "admin"),
        Page('client search "Rossi"', "/clientview/list/?_flt_2_name=Rossi", "admin"),
        Page("invoice list", "/invoiceview/list/", "admin"),
        Page("invoice list, status = sent", "/invoiceview/list/?_flt_3_status=sent", "admin"),
        Page("quote list", "/quoteview/list/", "admin"),
        Page("payment list", "/paymentview/list/", "admin"),
        Page("outbox", "/outboxview/list/", "admin"),
        Page("ticket inbox", "/tickets/list/", "admin"),
        Page("client 360, small client", f"/clients/{small}/dashboard", "admin"),
        Page("client 360, largest client", f"/clients/{large}/dashboard", "admin"),
        Page("portal statement, largest client", "/portal/", "portal"),
        Page("API summary, largest client", f"/api/v1/client/{large}/summary", "api"),
        Page("API client list", "/api/v1/client/", "api"),
        Page("API invoice list", "/api/v1/invoice/", "api"),
        Page("API invoice list, status = sent", "/api/v1/invoice/?q=(filters:!((col:status,opr:eq,value:sent)))",
             "api"),
    ]


class Site:
    """One seeded database behind the bench's app, with a staff, a portal and an API client."""

    def __init__(self, url: str, scale: Scale) -> None:
        from app import create_app
        from bench.__main__ import ADMIN_PASSWORD, ADMIN_USER, SECRET_KEY, driver_url, ensure_postgres_database
        from bench.floor import add_floor_pages

        url = driver_url(url)
        ensure_postgres_database(url)
        self.scale = scale
        self.app = add_floor_pages(create_app("config.Config", SQLALCHEMY_DATABASE_URI=url, REDIS_URL="",
                                              WTF_CSRF_ENABLED=False, RATELIMIT_ENABLED=False,
                                              SECRET_KEY=SECRET_KEY, EMBEDDED_PERIODIC=False))
        seed(self.app, scale)
        from app.extensions import db
        from app.security.setup import ensure_admin

        from app.company.services import get_company

        with self.app.app_context():
            ensure_admin(ADMIN_USER, ADMIN_PASSWORD, "bench@clientela.local")
            get_company()  # the settings row every install has (`clientela init`): pages only read it
            db.session.commit()
            bring_to_live_state()
        self.large, self.small = scale.clients + 1, 1
        from bench.__main__ import sign_in_path, signed_in_admin

        self.admin = signed_in_admin(self.app)
        self.portal = self.app.test_client()
        assert self.portal.post(sign_in_path(self.app, self.large)).status_code == 303
        self.api = self.app.test_client()
        token = self.api.post("/api/v1/security/login", json={"username": ADMIN_USER, "password": ADMIN_PASSWORD,
                                                               "provider": "db"}).get_json()["access_token"]
        self.api_headers = {"Authorization": f"Bearer {token}"}

    def getter(self, page_floor: str, path: str):
        client = {"admin": self.admin, "portal": self.portal, "api": self.api}[page_floor]
        headers = self.api_headers if page_floor == "api" else {}

        def action() -> None:
            response = client.get(path, headers=headers)
            assert response.status_code == 200, (path, response.status_code)
        return action

    def floor_path(self, kind: str) -> str:
        from bench.floor import ADMIN_FLOOR, PORTAL_FLOOR

        return {"admin": ADMIN_FLOOR, "portal": PORTAL_FLOOR, "api": API_FLOOR}[kind]

    def action(self, page: Page):
        return self.getter(page.floor, page.path)

    def floor_action(self, page: Page):
        return self.getter(page.floor, self.floor_path(page.floor))


def interleaved_medians_ms(actions, repeat: int) -> list[float]:
    """Medians of several actions timed in turn, sample by sample, so each sees the same
    moments of a shared machine (bench/__main__.py's paired medians, for more than two)."""
    import statistics

    for action in actions:
        action()  # warm up
    samples: list[list[float]] = [[] for _ in actions]
    for _ in range(repeat):
        for action, times in zip(actions, samples):
            start = time.perf_counter()
            action()
            times.append((time.perf_counter() - start) * 1000)
    return [statistics.median(times) for times in samples]


def run(report, url: str) -> None:
    """Seed (or reuse) both databases, then measure every page on each and print the ratios."""
    start = time.perf_counter()
    repeat = int(os.environ.get("BENCH_REPEAT", "15"))
    reference, full = Site(reference_url(url), SCALES["default"]), Site(url, SCALES["1m"])
    seeded_in = time.perf_counter() - start
    print(f"\nScale bench: {full.scale.clients + 1:,} clients / {full.scale.invoices:,} invoices against "
          f"{reference.scale.clients + 1:,} / {reference.scale.invoices:,}; medians of {repeat} samples taken in turn, "
          f"in process\n", flush=True)
    for page, reference_page in zip(pages(full.large, full.small), pages(reference.large, reference.small)):
        # The page at the default size, at 1m and the floor at 1m, sample by sample.
        at_default, at_scale, floor = interleaved_medians_ms(
            [reference.action(reference_page), full.action(page), full.floor_action(page)], repeat)
        report.add(f"{page.name} at 1m", at_scale, "ms", note=f"default size {at_default:.1f} ms, floor {floor:.1f} ms")
        report.add(f"  / its {page.floor} floor", at_scale / floor, "×", f"≤ {page.floor_target}",
                   at_scale / floor <= page.floor_target)
        report.add("  / the same page at the default size", at_scale / at_default, "×", "≤ 1.5",
                   at_scale / at_default <= 1.5)
    report.add("scale bench run time (seeding or reuse included)", time.perf_counter() - start, "s",
               note=f"{seeded_in:.0f} s of it to seed or reuse both databases")
