"""`make bench`: seed a large database, measure the pages that must scale, print a table.

Seeds 10,000 clients × 20 invoices plus one client with 10,000 invoices (PostgreSQL when
BENCH_DATABASE_URL is set, else a SQLite file in instance/), reusing an already seeded
database unless BENCH_RESEED=1. Then measures, in one run: client summary and 360 page for
the large client against a small one, the client list against the same page over no client, the business
dashboard, the portal statement, ZIPs of 50 and 500 cached invoice PDFs (time and peak
memory growth), a PDF render against bare wkhtmltopdf on the same HTML, the FatturaPA XML of
an invoice against that render, and portal statement throughput under gunicorn against
/healthz on the same server. Prints a table
and writes bench/results.json. Each row says its target and whether it was met.
BENCH_ONLY=client_list measures only the client list against its floor (after seeding) and
leaves bench/results.json as it was. SCALE=1m (PostgreSQL) runs the scale bench instead
(bench/scale.py: 100,000 clients and 1,000,000 invoices against the default size) and writes
bench/results-1m.json.
"""
from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Callable
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results.json"
# The issue's scale; BENCH_CLIENTS / BENCH_LARGE_INVOICES only shrink it for a quick dry run.
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "10000"))
INVOICES_PER_CLIENT = 20
LARGE_CLIENT_INVOICES = int(os.environ.get("BENCH_LARGE_INVOICES", "10000"))
ADMIN_USER, ADMIN_PASSWORD = "bench", "bench-" + "x" * 12
SECRET_KEY = "bench-secret-key-not-for-production"


def database_url() -> str:
    return driver_url(os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{ROOT / 'instance' / 'bench.db'}")


def driver_url(url: str) -> str:
    """The URL with the driver the app uses (psycopg 3) for PostgreSQL."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def ensure_postgres_database(url: str) -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    target = make_url(url)
    server = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        if connection.exec_driver_sql("SELECT 1 FROM pg_database WHERE datname = %s", (target.database,)).first() is None:
            connection.exec_driver_sql(f'CREATE DATABASE "{target.database}"')
    server.dispose()


def median_ms(action: Callable[[], object], repeat: int = 7) -> float:
    action()  # warm up caches, templates, the connection pool
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def paired_medians_ms(first: Callable[[], object], second: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Medians of two actions timed in turn, so both see the same moments of a shared
    machine (timing one, then the other, lets a burst of load land on one side only)."""
    first(), second()  # warm up
    samples: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for action, times in ((first, samples[0]), (second, samples[1])):
            start = time.perf_counter()
            action()
            times.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples[0]), statistics.median(samples[1])


class Report:
    def __init__(self) -> None:
        self.rows: list[dict[str, object]] = []

    def add(self, name: str, value: float, unit: str, target: str = "", ok: bool | None = None, note: str = ""):
        row = {"name": name, "value": round(value, 3), "unit": unit, "target": target, "ok": ok, "note": note}
        self.rows.append(row)
        verdict = "" if ok is None else ("ok" if ok else "MISSED")
        print(f"  {name:<58} {value:>10.2f} {unit:<6} {target:<16} {verdict} {note}", flush=True)

    def missing(self, name: str, reason: str) -> None:
        self.rows.append({"name": name, "value": None, "unit": "", "target": "", "ok": None, "note": reason})
        print(f"  {name:<58} {'—':>10}        not measured: {reason}", flush=True)


# ── seeding ───────────────────────────────────────────────────────────────────────────────

def run_periodic_marks() -> int:
    """The state the workers' periodic tasks keep a live database in (a no-op once done):
    open invoices past due marked overdue, sent quotes past their validity expired; committed.
    Returns how many documents changed."""
    from app.billing.accounts import mark_overdue_invoices
    from app.billing.services import expire_quotes
    from app.extensions import db

    marked, expired = mark_overdue_invoices(), expire_quotes()
    db.session.commit()
    if marked or expired:
        print(f"  periodic tasks: marked {marked:,} invoices overdue, expired {expired:,} quotes", flush=True)
    return marked + expired


def seed(app, url: str) -> tuple[int, int]:
    """Seed (or reuse) the database; return (large client id, small client id)."""
    from flask_appbuilder import Model
    from sqlalchemy import func, select

    from app.billing.accounts import ClientAccount, rebuild_accounts
    from app.billing.models import Invoice
    from app.clients.models import Client
    from app.demo import create_demo_data
    from app.extensions import db
    from app.security.setup import ensure_admin, ensure_roles

    with app.app_context():
        reseed = os.environ.get("BENCH_RESEED") == "1"
        if not reseed:
            try:
                clients = db.session.scalar(select(func.count(Client.id))) or 0
            except Exception:
                db.session.rollback()
                clients = 0
            reseed = clients != CLIENTS + 1
        if reseed:
            print(f"Seeding {CLIENTS:,} clients × {INVOICES_PER_CLIENT} invoices + one client with "
                  f"{LARGE_CLIENT_INVOICES:,} invoices into {url.split('@')[-1]} …", flush=True)
            Model.metadata.drop_all(db.engine)
            Model.metadata.create_all(db.engine)
            ensure_roles()  # the Admin role first, so every permission is granted to it
            app.appbuilder.add_permissions(update_perms=True)
            start = time.perf_counter()
            # No e-invoice files: 200,000 of them would add half an hour, and no row reads them.
            create_demo_data(CLIENTS, INVOICES_PER_CLIENT, seed=7, einvoices=False)
            create_demo_data(1, LARGE_CLIENT_INVOICES, seed=8, einvoices=False)
            print(f"  seeded in {time.perf_counter() - start:.0f} s", flush=True)
        else:
            upgrade_reused_schema(db)
            if db.session.scalar(select(func.count()).select_from(ClientAccount)) == 0:
                # Seeded before the client rollups existed: build them as the demo generator would.
                start = time.perf_counter()
                print(f"  rebuilt the totals of {rebuild_accounts():,} clients", end="", flush=True)
                print(f" in {time.perf_counter() - start:.0f} s", flush=True)
        ensure_admin(ADMIN_USER, ADMIN_PASSWORD, "bench@clientela.local")
        run_periodic_marks()
        # What autovacuum does to bulk-loaded tables, before measuring: statistics (without them
        # PostgreSQL takes the large client for an average one and picks nested loops) and, on
        # PostgreSQL, the visibility map that lets a count be an index-only scan.
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE" if connection.dialect.name == "postgresql" else "ANALYZE")
        per_client = (
            select(Invoice.client_id, func.count(Invoice.id).label("n")).group_by(Invoice.client_id).subquery()
        )
        large = db.session.execute(select(per_client.c.client_id).order_by(per_client.c.n.desc()).limit(1)).scalar()
        small = db.session.execute(
            select(per_client.c.client_id).where(per_client.c.n == INVOICES_PER_CLIENT).order_by(per_client.c.client_id)
            .limit(1)
        ).scalar()
        return large, small


def upgrade_reused_schema(db) -> None:
    """A database seeded by an older build: create the tables, columns (with their server
    defaults) and indexes that the models have gained since. The bench only; deployments migrate."""
    from flask_appbuilder import Model
    from sqlalchemy import inspect
    from sqlalchemy.schema import CreateColumn

    existing = set(inspect(db.engine).get_table_names())
    Model.metadata.create_all(db.engine)
    with db.engine.begin() as connection:
        for table in Model.metadata.sorted_tables:
            if table.name not in existing:
                continue
            present = {column["name"] for column in inspect(connection).get_columns(table.name)}
            for column in table.columns:
                if column.name not in present:
                    ddl = CreateColumn(column).compile(dialect=connection.dialect)
                    connection.exec_driver_sql(f'ALTER TABLE "{table.name}" ADD COLUMN {ddl}')
                    print(f"  added column {table.name}.{column.name}", flush=True)
            for index in table.indexes:
                index.create(connection, checkfirst=True)


def sign_in_path(app, client_id: int) -> str:
    """A fresh portal sign-in path for the client's first contact (committed)."""
    from app.clients.models import Contact
    from app.extensions import db
    from app.portal.tokens import issue_sign_in_link
    from sqlalchemy import select

    with app.app_context():
        contact = db.session.scalars(select(Contact).where(Contact.client_id == client_id).order_by(Contact.id)).first()
        contact.portal_enabled = True
        link = issue_sign_in_link(contact)
        db.session.commit()
        return urlsplit(link).path


# ── in-process measurements ────────────────────────────────────────────────────────────────

def get(client, path: str) -> Callable[[], None]:
    def action() -> None:
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
    return action


def signed_in_admin(app):
    admin = app.test_client()
    assert admin.post("/login/", data={"username": ADMIN_USER, "password": ADMIN_PASSWORD}).status_code == 302
    return admin


def measure_client_list(app, report: Report, admin) -> None:
    """The client list at full size against the same page over no client (bench/floor.py):
    the same template, layout, menu, search form and FAB list widget, so the ratio is the
    cost of reading and drawing a page of clients. Timed in turn, as the 360 pages are."""
    from bench.floor import ADMIN_FLOOR

    health = median_ms(get(admin, "/healthz"), repeat=21)
    client_list, admin_floor = paired_medians_ms(get(admin, "/clientview/list/"), get(admin, ADMIN_FLOOR), repeat=31)
    report.add("trivial endpoint /healthz (in process)", health, "ms")
    report.add("admin list floor (the client list page over no client)", admin_floor, "ms")
    report.add(f"client list at {CLIENTS:,} clients", client_list, "ms")
    report.add("client list / admin list floor", client_list / admin_floor, "×", "≤ 1.5",
               client_list / admin_floor <= 1.5)
    report.add("client list / trivial endpoint", client_list / health, "×", "(≤ 3)",
               note="informational: the old target, which measured the framework more than the page")


def measure_pages(app, report: Report, large: int, small: int) -> None:
    from app.billing.accounts import client_summary
    from bench.floor import PORTAL_FLOOR

    with app.app_context():
        # A couple of milliseconds each: many samples, taken in turn.
        summary_large, summary_small = paired_medians_ms(lambda: client_summary(large), lambda: client_summary(small),
                                                         repeat=101)
    ratio = summary_large / summary_small
    report.add("client summary, small client (20 invoices)", summary_small, "ms")
    report.add(f"client summary, large client ({LARGE_CLIENT_INVOICES:,} invoices)", summary_large, "ms")
    report.add("client summary large / small", ratio, "×", "≤ 1.3", ratio <= 1.3)

    admin = signed_in_admin(app)
    page_large, page_small = paired_medians_ms(get(admin, f"/clients/{large}/dashboard"),
                                               get(admin, f"/clients/{small}/dashboard"), repeat=15)
    report.add("client 360 page, small client", page_small, "ms")
    report.add("client 360 page, large client", page_large, "ms")
    report.add("client 360 page large / small", page_large / page_small, "×", "≤ 1.3", page_large / page_small <= 1.3)

    measure_client_list(app, report, admin)
    report.add("business dashboard (admin home)", median_ms(get(admin, "/")), "ms")

    portal = app.test_client()
    if portal.post(sign_in_path(app, large)).status_code != 303:
        report.missing("portal statement", "the portal sign-in did not answer 303")
        return
    report.add("portal layout floor (empty signed-in page)", median_ms(get(portal, PORTAL_FLOOR)), "ms")
    report.add("portal statement, large client (repeat view)", median_ms(get(portal, "/portal/")), "ms")

    def first_view() -> None:  # as after a change to the client's documents: nothing kept
        from app.portal.statement import RenderedStatements
        from app.portal.document_views import RENDERED_STATEMENTS

        app.extensions[RENDERED_STATEMENTS] = RenderedStatements()
        get(portal, "/portal/")()

    report.add("portal statement, large client (first view after a change)", median_ms(first_view), "ms")
    measure_zip(app, portal, report, large)


def cached_invoice_ids(app, client_id: int, count: int) -> list[int]:
    """`count` finalized invoices of the client with their PDF in the cache: one real render,
    its bytes stored for the others under their own freshness key (as the render job would)."""
    from sqlalchemy import select

    from app.billing.models import DocumentPdf, Invoice
    from app.extensions import db
    from app.pdf import service

    with app.app_context():
        invoices = db.session.scalars(
            select(Invoice).where(Invoice.client_id == client_id, Invoice.status.in_(("sent", "partial", "paid")))
            .order_by(Invoice.id).limit(count)
        ).all()
        pdf = service.pdf_for(invoices[0])
        cached = {row.document_id: row for row in db.session.scalars(
            select(DocumentPdf).where(DocumentPdf.document_kind == "invoice",
                                      DocumentPdf.document_id.in_([invoice.id for invoice in invoices])))}
        for invoice in invoices:
            row = cached.get(invoice.id) or DocumentPdf(document_kind="invoice", document_id=invoice.id)
            if row.source_key != service.freshness_key(invoice):
                row.content_hash = service._content_hash(service.render_html(invoice))
                row.source_key = service.freshness_key(invoice)
                row.content = row.content if row.content else pdf
            db.session.add(row)
        db.session.commit()
        return [invoice.id for invoice in invoices]


def measure_zip(app, portal, report: Report, client_id: int) -> None:
    ids = cached_invoice_ids(app, client_id, 500)
    for count in (50, 500):
        body = urlencode([("ids", str(pk)) for pk in ids[:count]])
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        # The test client iterates the streamed body after the request has ended; an outer app
        # context keeps the request's database session alive meanwhile, as a WSGI server does.
        context = app.app_context()
        context.push()
        tracemalloc.start()
        baseline = tracemalloc.get_traced_memory()[0]
        start = time.perf_counter()
        response = portal.post("/portal/invoices/download", data=body, headers=headers, buffered=False)
        size = sum(len(chunk) for chunk in response.response)
        elapsed = time.perf_counter() - start
        peak = (tracemalloc.get_traced_memory()[1] - baseline) / 1024 / 1024
        tracemalloc.stop()
        response.close()
        context.pop()
        if response.status_code != 200:
            report.missing(f"ZIP of {count} cached invoices", f"HTTP {response.status_code}")
            continue
        limit = "≤ 2 s" if count == 500 else ""
        report.add(f"ZIP of {count} cached invoices ({size / 1024 / 1024:.1f} MB)", elapsed, "s", limit,
                   elapsed <= 2 if count == 500 else None)
        report.add(f"ZIP of {count}: peak memory growth (tracemalloc)", peak, "MB",
                   "≤ 50 MB" if count == 500 else "", peak <= 50 if count == 500 else None)


def measure_pdf(app, report: Report, client_id: int) -> None:
    from sqlalchemy import select

    from app.billing.models import Invoice
    from app.extensions import db
    from app.pdf import render, service

    with app.app_context():
        invoice = db.session.scalars(
            select(Invoice).where(Invoice.client_id == client_id, Invoice.status != "draft").limit(1)
        ).first()
        html = service.render_html(invoice)
        ours = median_ms(lambda: render.html_to_pdf(service.render_html(invoice)), repeat=5)
        binary = render.wkhtmltopdf_path()
        # What finalizing adds for the e-invoice: build the FatturaPA file and validate it.
        from app.einvoice.schema import schema_errors
        from app.einvoice.services import build_xml

        xml = median_ms(lambda: schema_errors(build_xml(invoice, "BENCH")), repeat=7)
    bare = median_ms(lambda: subprocess.run([binary, "--quiet", "-", "-"], input=html.encode(), check=True,
                                            capture_output=True), repeat=5)
    report.add("PDF: bare wkhtmltopdf on the same HTML", bare, "ms")
    report.add("PDF: Clientela render (HTML + hardened wkhtmltopdf)", ours, "ms")
    report.add("PDF render / bare wkhtmltopdf", ours / bare, "×", "≤ 1.1", ours / bare <= 1.1)
    report.add("XML generation per invoice (build + XSD validation)", xml, "ms", "≤ 5 % of a PDF",
               xml <= ours * 0.05, f"{xml / ours:.1%} of the PDF render")


# ── under gunicorn ─────────────────────────────────────────────────────────────────────────

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def request(port: int, method: str, path: str, cookie: str = "") -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request(method, path, headers={"Cookie": cookie} if cookie else {})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def throughput(port: int, path: str, cookie: str, seconds: float, threads: int) -> float:
    """Requests per second a bounded loopback load gets, each thread one request at a time."""
    done = [0] * threads
    errors: list[str] = []
    deadline = time.perf_counter() + seconds

    def worker(index: int) -> None:
        while time.perf_counter() < deadline:
            status = request(port, "GET", path, cookie).status
            if status != 200:
                errors.append(f"{path}: HTTP {status}")
                return
            done[index] += 1

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    start = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    if errors:
        raise RuntimeError(errors[0])
    return sum(done) / (time.perf_counter() - start)


def measure_gunicorn(app, report: Report, url: str, client_id: int) -> None:
    from bench.floor import PORTAL_FLOOR

    port = free_port()
    workers = max(2, os.cpu_count() or 2)
    env = {**os.environ, "DATABASE_URL": url.replace("postgresql+psycopg://", "postgresql://"),
           "SECRET_KEY": SECRET_KEY, "REDIS_URL": "", "RATELIMIT_ENABLED": "false",
           "EMBEDDED_PERIODIC": "0",  # the periodic tasks would run on the measured workers
           "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"}
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "bench.wsgi:app", "-w", str(workers), "-b", f"127.0.0.1:{port}",
         "--log-level", "warning"],
        cwd=ROOT, env=env, start_new_session=True,
    )
    try:
        for _ in range(150):
            try:
                if request(port, "GET", "/healthz").status == 200:
                    break
            except OSError:
                time.sleep(0.2)
        response = request(port, "POST", sign_in_path(app, client_id))
        cookie = (response.getheader("Set-Cookie") or "").split(";", 1)[0]
        if response.status != 303 or not cookie:
            report.missing("portal statement throughput under gunicorn", f"sign-in answered HTTP {response.status}")
            return
        seconds, threads = float(os.environ.get("BENCH_LOAD_SECONDS", "8")), 2 * workers
        # Alternating one-second slices: on a shared machine every endpoint sees the same load.
        slices = max(1, round(seconds))
        done = {"/healthz": 0.0, PORTAL_FLOOR: 0.0, "/portal/": 0.0}
        for _ in range(slices):
            for path in done:
                done[path] += throughput(port, path, "" if path == "/healthz" else cookie, seconds / slices, threads)
        trivial, floor, statement = (done[path] / slices for path in done)
        note = f"gunicorn -w {workers}, {threads} client threads, {seconds:.0f} s each in 1 s slices taken in turn"
        report.add("gunicorn: /healthz throughput", trivial, "req/s", note=note)
        report.add("gunicorn: portal layout floor throughput", floor, "req/s")
        report.add("gunicorn: portal statement throughput (large client)", statement, "req/s")
        report.add("portal statement / trivial endpoint throughput", statement / trivial, "×", "≥ 0.3",
                   statement / trivial >= 0.3)
        report.add("portal statement / portal layout floor throughput", statement / floor, "×", "(≥ 0.3)",
                   note="informational: the same page against the layout floor")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def machine() -> dict[str, object]:
    cpu = ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    memory = ""
    try:
        memory = next(line.split(":", 1)[1].strip() for line in open("/proc/meminfo") if line.startswith("MemTotal"))
    except (OSError, StopIteration):
        pass
    return {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "python": platform.python_version(),
            "platform": platform.platform(), "cpu": cpu, "cpus": os.cpu_count(), "memory": memory}


def main() -> int:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("SECRET_KEY", SECRET_KEY)
    from app import create_app
    from bench.floor import add_floor_pages

    url = database_url()
    if os.environ.get("SCALE"):
        return scale_main(url)
    if url.startswith("postgresql"):
        ensure_postgres_database(url)
    else:
        (ROOT / "instance").mkdir(exist_ok=True)
    app = add_floor_pages(create_app("config.Config", SQLALCHEMY_DATABASE_URI=url, REDIS_URL="",
                                     WTF_CSRF_ENABLED=False, RATELIMIT_ENABLED=False, SECRET_KEY=SECRET_KEY,
                                     EMBEDDED_PERIODIC=False))
    large, small = seed(app, url)
    report = Report()
    info = machine() | {"database": url.split("://", 1)[0], "large_client_id": large, "small_client_id": small}
    print(f"\nClientela bench — {info['date']} — {info['cpu']} ×{info['cpus']} — {info['database']}\n", flush=True)
    only = os.environ.get("BENCH_ONLY")
    if only == "client_list":  # one row group, for working on the client list
        measure_client_list(app, report, signed_in_admin(app))
    else:
        measure_pages(app, report, large, small)
        measure_pdf(app, report, large)
        measure_gunicorn(app, report, url, large)
    if not only:
        RESULTS.write_text(json.dumps({"machine": info, "results": report.rows}, indent=2, ensure_ascii=False) + "\n")
        print(f"\nWritten {RESULTS.relative_to(ROOT)}")
    return 0 if all(row["ok"] is not False for row in report.rows) else 1


def scale_main(url: str) -> int:
    from bench import scale

    if os.environ["SCALE"] != "1m" or not url.startswith("postgresql"):
        print("SCALE=1m needs BENCH_DATABASE_URL=postgresql://… (the scale bench seeds PostgreSQL only)",
              file=sys.stderr)
        return 2
    report = Report()
    info = machine() | {"database": "postgresql", "scale": "1m"}
    print(f"\nClientela scale bench — {info['date']} — {info['cpu']} ×{info['cpus']}\n", flush=True)
    scale.run(report, url)
    results = RESULTS.with_name("results-1m.json")
    results.write_text(json.dumps({"machine": info, "results": report.rows}, indent=2, ensure_ascii=False) + "\n")
    print(f"\nWritten {results.relative_to(ROOT)}")
    return 0 if all(row["ok"] is not False for row in report.rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
