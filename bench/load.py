"""`make load` (python -m bench.load): two web nodes and two workers under a mixed load, on loopback.

Seeds a PostgreSQL database with the demo generator (no PDF rendered yet), starts a real SMTP
sink (aiosmtpd), `LOAD_NODES` gunicorn nodes (`gunicorn app:app`) and `LOAD_WORKERS` RQ
workers (`flask --app app clientela worker`) on that database and one Redis, then runs the
users of bench/loadmix.py against the nodes in turn for `LOAD_SECONDS` (or `LOAD_MAX_REQUESTS`
requests). Samples the job queue meanwhile, waits for it to drain, checks that every email the
run queued reached the sink once and that the sends and the emails agree, and prints a table
per endpoint (writing it with the rest to `LOAD_OUTPUT`/results.json). Exits non-zero on any
error, a queue not drained within `LOAD_DRAIN_SECONDS`, or an email missing or doubled.

Every process it starts runs in its own process group and is killed on the way out, whatever
the way (an error, Ctrl-C, SIGTERM, the hard limit `LOAD_TIMEOUT`). See docs/performance.md,
"Load run".
"""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections import Counter, deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from bench.__main__ import ensure_postgres_database, free_port, machine
from bench.loadmix import Dataset, Recorder, run_users

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SECRET_KEY = "load-run-secret-key-not-for-production"
STAFF_USER, STAFF_PASSWORD = "load", "load-" + "x" * 12
# The daily reminders are a burst of their own (one email per overdue invoice), not this mix:
# with a step no demo invoice reaches, every email at the sink is one the users asked for.
NO_REMINDERS = "36500"


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


@dataclass(frozen=True)
class Settings:
    """Everything a run takes from the environment (all optional)."""

    database_url: str = field(default_factory=lambda: os.environ.get(
        "LOAD_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/clientela_load"))
    redis_url: str = field(default_factory=lambda: os.environ.get("LOAD_REDIS_URL", "redis://127.0.0.1:6379/8"))
    users: int = field(default_factory=lambda: _int("LOAD_USERS", 12))
    seconds: int = field(default_factory=lambda: _int("LOAD_SECONDS", 60))
    max_requests: int = field(default_factory=lambda: _int("LOAD_MAX_REQUESTS", 50_000))
    nodes: int = field(default_factory=lambda: _int("LOAD_NODES", 2))
    web_workers: int = field(default_factory=lambda: _int("LOAD_WEB_WORKERS", 2))  # gunicorn -w, per node
    workers: int = field(default_factory=lambda: _int("LOAD_WORKERS", 2))
    clients: int = field(default_factory=lambda: _int("LOAD_CLIENTS", 2000))
    invoices_per_client: int = field(default_factory=lambda: _int("LOAD_INVOICES_PER_CLIENT", 3))
    first_port: int = field(default_factory=lambda: _int("LOAD_PORT", 0))  # 0: free ports
    drain_seconds: int = field(default_factory=lambda: _int("LOAD_DRAIN_SECONDS", 180))
    output: Path = field(default_factory=lambda: Path(os.environ.get("LOAD_OUTPUT") or ROOT / "instance" / "load"))

    @property
    def timeout(self) -> int:
        """The hard limit for the whole run: seeding, start-up, load, drain, with room to spare."""
        return _int("LOAD_TIMEOUT", self.seconds + self.drain_seconds + 300)

    def ports(self) -> list[int]:
        """The nodes' ports, then the SMTP sink's."""
        if self.first_port:
            return [self.first_port + i for i in range(self.nodes + 1)]
        return [free_port() for _ in range(self.nodes + 1)]


class HardTimeout(Exception):
    pass


class NotReady(RuntimeError):
    """A wait ran out of time (a process that died is another RuntimeError, never this one)."""


# ── seeding ───────────────────────────────────────────────────────────────────────────────

def seed(app, settings: Settings, portal_users: int) -> Dataset:
    """A fresh database at the run's size: the demo generator's clients, invoices, quotes and
    payments (no e-invoice files, no PDF rendered), a staff user with the Billing role, the
    periodic tasks' marks, statistics; then the ids the users pick from and one magic link per
    portal user (each a different client's primary contact)."""
    from flask_appbuilder import Model
    from sqlalchemy import select

    from app.billing.accounts import mark_overdue_invoices
    from app.billing.models import Invoice
    from app.billing.services import expire_quotes
    from app.clients.models import Client, Contact
    from app.demo import create_demo_data
    from app.extensions import db
    from app.portal.tokens import issue_sign_in_link
    from app.security.setup import ensure_roles

    with app.app_context():
        start = time.perf_counter()
        Model.metadata.drop_all(db.engine)
        Model.metadata.create_all(db.engine)
        ensure_roles()
        create_demo_data(settings.clients, settings.invoices_per_client, seed=17, einvoices=False)
        sm = app.appbuilder.sm
        sm.add_user(STAFF_USER, "Load", "Staff", "load@clientela.local", sm.find_role("Billing"), STAFF_PASSWORD)
        mark_overdue_invoices()
        expire_quotes()
        db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE" if connection.dialect.name == "postgresql" else "ANALYZE")

        rows = db.session.execute(select(Invoice.id, Invoice.client_id, Invoice.status).order_by(Invoice.id)).all()
        issued = [row for row in rows if row.status in ("sent", "partial", "paid")]
        drafts = [row.id for row in rows if row.status == "draft"]
        rng = random.Random(17)
        again = [row.id for row in issued]
        rng.shuffle(drafts)
        rng.shuffle(again)
        by_client: dict[int, list[int]] = {}
        for row in issued:
            by_client.setdefault(row.client_id, []).append(row.id)
        portal = []
        for client_id in rng.sample(sorted(by_client), min(portal_users, len(by_client))):
            contact = db.session.scalars(select(Contact).where(Contact.client_id == client_id)
                                         .order_by(Contact.is_primary.desc(), Contact.id)).first()
            contact.portal_enabled = True
            portal.append((urlsplit(issue_sign_in_link(contact)).path, by_client[client_id]))
        db.session.commit()
        data = Dataset(client_ids=list(db.session.scalars(select(Client.id))), invoice_ids=[row.id for row in rows],
                       issued_invoice_ids=[row.id for row in issued], to_send=deque(drafts + again), portal=portal)
        db.engine.dispose()
    print(f"Seeded {settings.clients:,} clients, {len(rows):,} invoices in {time.perf_counter() - start:.0f} s",
          flush=True)
    return data


# ── processes ─────────────────────────────────────────────────────────────────────────────

class Processes:
    """The nodes and workers, each in a process group of its own, logging to a file."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.started: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen:
        with open(self.log_dir / f"{name}.log", "wb") as log:
            process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True)
        self.started.append((name, process))
        return process

    def check_alive(self) -> None:
        for name, process in self.started:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}: see {self.log_dir / name}.log")

    def stop(self) -> None:
        """SIGTERM to every group, then SIGKILL to what is left after 10 s."""
        for _, process in self.started:
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for _, process in self.started:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            _signal_group(process, signal.SIGKILL)  # the group's children too (work horses, gunicorn workers)
            process.wait()

    def log_errors(self) -> list[str]:
        """The first line of each traceback and every ERROR line the processes logged."""
        found = []
        for name, _ in self.started:
            lines = (self.log_dir / f"{name}.log").read_text(errors="replace").splitlines()
            for number, line in enumerate(lines):
                if line.startswith("Traceback") or "[ERROR]" in line or " ERROR " in line:
                    found.append(f"{name}.log:{number + 1}: {line.strip()[:200]}")
        return found


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass


def wait_until(ready, seconds: float, what: str, processes: Processes) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        processes.check_alive()
        try:
            if ready():
                return
        except OSError:
            pass
        time.sleep(0.25)
    raise NotReady(f"{what} not ready after {seconds:.0f} s")


def healthy(port: int) -> bool:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
        return response.status == 200


# ── the job queue and the emails ──────────────────────────────────────────────────────────

class QueueSampler(threading.Thread):
    """Every second: the jobs waiting, running or scheduled (retries) on the run's queue."""

    def __init__(self, job_queue) -> None:
        super().__init__(name="load-queue-sampler", daemon=True)
        self.queue = job_queue
        self.samples: list[tuple[float, int]] = []
        self.stopped = threading.Event()
        self.origin = time.perf_counter()

    def pending(self) -> int:
        return (self.queue.count + self.queue.started_job_registry.count
                + self.queue.scheduled_job_registry.count)

    def run(self) -> None:
        while not self.stopped.is_set():
            self.samples.append((round(time.perf_counter() - self.origin, 1), self.pending()))
            self.stopped.wait(1)


def outbox_statuses(app, after_id: int) -> Counter:
    """The run's emails (outbox rows past `after_id`) by (kind, status)."""
    from sqlalchemy import func, select

    from app.extensions import db
    from app.mail.models import OutboxEmail

    with app.app_context():
        rows = db.session.execute(select(OutboxEmail.kind, OutboxEmail.status, func.count())
                                  .where(OutboxEmail.id > after_id).group_by(OutboxEmail.kind, OutboxEmail.status))
        counts = Counter({(kind, status): n for kind, status, n in rows})
        db.session.remove()
        return counts


def outbox_message_ids(app, after_id: int) -> set[str]:
    from sqlalchemy import select

    from app.extensions import db
    from app.mail.models import OutboxEmail

    with app.app_context():
        ids = set(db.session.scalars(select(OutboxEmail.message_id).where(OutboxEmail.id > after_id)))
        db.session.remove()
        return ids


def last_outbox_id(app) -> int:
    from sqlalchemy import func, select

    from app.extensions import db
    from app.mail.models import OutboxEmail

    with app.app_context():
        value = db.session.scalar(select(func.max(OutboxEmail.id))) or 0
        db.session.remove()
        return value


# ── the run ───────────────────────────────────────────────────────────────────────────────

def run(settings: Settings) -> dict:
    from redis import Redis
    from rq import Queue, Worker

    from app import create_app
    from config import sqlalchemy_url
    from tests.support.smtp import SmtpServer

    url = sqlalchemy_url(settings.database_url)
    if url.startswith("postgresql"):
        ensure_postgres_database(url)
    settings.output.mkdir(parents=True, exist_ok=True)
    *node_ports, smtp_port = settings.ports()
    queue_name = f"clientela-load-{uuid.uuid4().hex[:8]}"
    app = create_app("config.Config", SQLALCHEMY_DATABASE_URI=url, REDIS_URL="", EMBEDDED_PERIODIC=False,
                     SECRET_KEY=SECRET_KEY, PUBLIC_BASE_URL=f"http://127.0.0.1:{node_ports[0]}")
    data = seed(app, settings, portal_users=(settings.users + 1) // 2)
    first_email = last_outbox_id(app)

    sink = SmtpServer(port=smtp_port)
    processes = Processes(settings.output)
    job_queue = Queue(queue_name, connection=Redis.from_url(settings.redis_url))
    sampler = QueueSampler(job_queue)
    env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": settings.redis_url, "JOBS_QUEUE": queue_name,
           "SECRET_KEY": SECRET_KEY, "PUBLIC_BASE_URL": f"http://127.0.0.1:{node_ports[0]}",
           "MAIL_SERVER": sink.host, "MAIL_PORT": str(smtp_port), "MAIL_USE_TLS": "false", "MAIL_USE_SSL": "false",
           "REMINDER_DAYS": NO_REMINDERS, "PYTHONUNBUFFERED": "1"}
    try:
        sink.start()
        started = time.perf_counter()
        for number, port in enumerate(node_ports, 1):
            processes.start(f"node{number}", [str(BIN / "gunicorn"), "app:app", "-w", str(settings.web_workers),
                                              "-b", f"127.0.0.1:{port}", "--timeout", "60",
                                              "--graceful-timeout", "5", "--no-control-socket"], env)
        for number in range(1, settings.workers + 1):
            processes.start(f"worker{number}", [str(BIN / "flask"), "--app", "app", "clientela", "worker",
                                                "--name", f"{queue_name}-{number}"], env)
        for port in node_ports:
            wait_until(lambda port=port: healthy(port), 90, f"node on port {port}", processes)
        wait_until(lambda: Worker.count(queue=job_queue) >= settings.workers, 90, "workers", processes)
        print(f"Started {settings.nodes} nodes and {settings.workers} workers in {time.perf_counter() - started:.0f} s; "
              f"{settings.users} users for {settings.seconds} s …", flush=True)

        load_before, cpu_before = os.getloadavg(), time.process_time()
        recorder = Recorder(settings.max_requests)
        sampler.start()
        seconds = run_users(node_ports, data, (STAFF_USER, STAFF_PASSWORD), settings.users, settings.seconds,
                            recorder)
        load_end = time.perf_counter()
        # What this process (the users, the sink, the sampler) took from the machine's CPUs.
        load_after, client_cpu = os.getloadavg(), time.process_time() - cpu_before
        pending_at_end = sampler.pending()

        def drained() -> bool:
            statuses = outbox_statuses(app, first_email)
            waiting = sum(n for (_, status), n in statuses.items() if status in ("queued", "sending"))
            return waiting == 0 and sampler.pending() == 0

        drain_seconds = None
        try:
            wait_until(drained, settings.drain_seconds, "the job queue", processes)
            drain_seconds = round(time.perf_counter() - load_end, 1)
        except NotReady:
            pass
        sampler.stopped.set()
        statuses = outbox_statuses(app, first_email)
        expected = outbox_message_ids(app, first_email)
        with sink.lock:
            arrived = Counter(message["Message-ID"] for message in sink.messages)
        emails = {
            "sends": data.sends,
            "queued": sum(statuses.values()),
            "by_kind_and_status": {f"{kind} {status}": n for (kind, status), n in sorted(statuses.items())},
            "delivered": sum(n for message_id, n in arrived.items() if message_id in expected),
            "missing_at_sink": len(expected - set(arrived)),
            "delivered_twice": sum(1 for message_id, n in arrived.items() if n > 1),
            "unexpected_at_sink": sum(1 for message_id in arrived if message_id not in expected),
            "failed_jobs": job_queue.failed_job_registry.count,
        }
        endpoints = recorder.table(seconds)
        errors = sum(row["errors"] for row in endpoints)
        report = {
            "machine": machine() | {"load_average_before": load_before, "load_average_after": load_after,
                                    "load_tool_cpu_seconds": round(client_cpu, 1)},
            "settings": {key: str(value) for key, value in asdict(settings).items()},
            "seconds": round(seconds, 1), "requests": recorder.requests,
            "per_second": round(sum(row["requests"] for row in endpoints) / seconds, 1),
            "errors": errors, "endpoints": endpoints,
            "queue": {"max_pending": max((n for _, n in sampler.samples), default=0),
                      "pending_at_end_of_load": pending_at_end, "drained_after_seconds": drain_seconds,
                      "samples": sampler.samples},
            "emails": emails,
            "server_log_errors": processes.log_errors(),
        }
        report["ok"] = bool(errors == 0 and drain_seconds is not None and data.sends > 0
                            and emails["delivered"] == data.sends
                            and emails["queued"] == data.sends and emails["missing_at_sink"] == 0
                            and emails["delivered_twice"] == 0 and not report["server_log_errors"])
        return report
    finally:
        signal.alarm(0)  # the clean-up below is bounded on its own
        sampler.stopped.set()
        stopping = time.perf_counter()
        processes.stop()
        print(f"Stopped every process in {time.perf_counter() - stopping:.1f} s", flush=True)
        sink.stop()
        job_queue.delete(delete_jobs=True)


def print_report(report: dict) -> None:
    m, q, e = report["machine"], report["queue"], report["emails"]
    print(f"\nClientela load run — {m['date']} — {m['cpu']} ×{m['cpus']} — load average "
          f"{m['load_average_before'][0]:.2f} before, {m['load_average_after'][0]:.2f} after — the load tool "
          f"used {m['load_tool_cpu_seconds']} CPU s in {report['seconds']} s\n")
    print("| endpoint | requests | errors | req/s | p50 ms | p95 ms | p99 ms | max ms |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for row in report["endpoints"]:
        print(f"| {row['endpoint']} | {row['requests']} | {row['errors']} | {row['per_second']} | {row['p50_ms']} "
              f"| {row['p95_ms']} | {row['p99_ms']} | {row['max_ms']} |")
    print(f"| all | {report['requests']} | {report['errors']} | {report['per_second']} | | | | |")
    for row in report["endpoints"]:
        for error in row["first_errors"]:
            print(f"  error, {row['endpoint']}: {error}")
    print(f"\nqueue: at most {q['max_pending']} jobs pending, {q['pending_at_end_of_load']} when the load ended, "
          f"drained {q['drained_after_seconds']} s after it" if q["drained_after_seconds"] is not None
          else f"\nqueue: NOT drained ({q['pending_at_end_of_load']} pending when the load ended)")
    print(f"emails: {e['sends']} sends, {e['queued']} queued, {e['delivered']} delivered at the sink, "
          f"{e['missing_at_sink']} missing, {e['delivered_twice']} twice, {e['failed_jobs']} failed jobs "
          f"({', '.join(f'{k}: {n}' for k, n in e['by_kind_and_status'].items())})")
    for line in report["server_log_errors"][:10]:
        print(f"  server log: {line}")
    print("\nok" if report["ok"] else "\nFAILED")


def main() -> int:
    os.environ.setdefault("SECRET_KEY", SECRET_KEY)  # before config.py reads it (else it writes instance/secret_key)
    settings = Settings()

    def stop(signum, _frame):
        raise HardTimeout(f"the hard limit of {settings.timeout} s") if signum == signal.SIGALRM else SystemExit(143)

    signal.signal(signal.SIGALRM, stop)
    signal.signal(signal.SIGTERM, stop)
    signal.alarm(settings.timeout)
    try:
        report = run(settings)
    finally:
        signal.alarm(0)
    (settings.output / "results.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print_report(report)
    print(f"Written {settings.output / 'results.json'}")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
