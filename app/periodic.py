"""Work that runs on a clock: overdue marks and reminders, outbox retries, quote expiry,
recurring invoices, Stripe reconciling, SdI receipts from the PEC mailbox.

Every `clientela worker` runs a small ticker thread. At each tick it claims the current
period of each task with one Redis `SET NX` (key = task + period number) and enqueues the task
only if the claim is its own: with any number of workers on any number of hosts, each task
is enqueued once per period. The run holds a lease on the claim that its worker renews; a
run lost with its worker (no lease, not done) is taken over by the next tick, once. The tasks
are idempotent anyway.

Without Redis (the embedded default) there is no worker: the web process runs the same tasks
itself, on a daemon thread that `create_app` starts with the first request it serves (so only
processes that serve requests tick, never `flask db upgrade` or `clientela demo`). There the
claim is a row in `periodic_claim`, whose primary key (task, period) lets exactly one of any
number of web processes insert it; the one that did runs the task in its own thread.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable

from flask import Flask, current_app
from flask_appbuilder import Model
from sqlalchemy import BigInteger, DateTime, String, delete, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.jobs import keep_alive, lease_seconds, queue, redis_connection

log = logging.getLogger(__name__)
TICK_SECONDS = 5
# The embedded default claims periods with a database insert: a calmer clock there.
EMBEDDED_TICK_SECONDS = 30


@dataclass(frozen=True)
class PeriodicTask:
    """`run` is a module-level function: RQ enqueues it by its import path."""

    name: str
    every_seconds: int
    run: Callable[[], None]


def register(app: Flask, task: PeriodicTask) -> None:
    """Add `task` to the app's clock. The kernel knows no capability: each registers its own
    tasks in its init_app (billing's quote expiry, mail's retries and reminders …)."""
    app.extensions.setdefault("clientela.periodic", {})[task.name] = task


def tasks() -> list[PeriodicTask]:
    """The current app's periodic tasks, in the order they were registered."""
    return list(current_app.extensions.get("clientela.periodic", {}).values())


DONE = "done"
MAX_RUNS = 3  # a period's task is run again after a lost run at most twice


def enqueue_due_tasks(now: float | None = None) -> list[str]:
    """Enqueue each task whose current period nobody has claimed yet, or whose run was lost
    (its worker died: no lease, not done, not waiting in the queue); returns their names."""
    now = time.time() if now is None else now
    redis, job_queue = redis_connection(), queue()
    enqueued = []
    for task in tasks():
        period = int(now // task.every_seconds)
        claim = f"clientela:periodic:{job_queue.name}:{task.name}:{period}"
        if redis.set(claim, _claim_value(now, 1), nx=True, ex=task.every_seconds * 2 + 60):
            _enqueue(job_queue, task, claim, f"periodic-{task.name}-{period}")
            enqueued.append(task.name)
        elif _take_over(redis, job_queue, claim, now):
            runs = int(redis.get(claim).decode().split(":")[1])
            _enqueue(job_queue, task, claim, f"periodic-{task.name}-{period}-{runs}")
            enqueued.append(task.name)
    return enqueued


def _claim_value(now: float, runs: int) -> str:
    return f"{now:.3f}:{runs}"


def _enqueue(job_queue, task: PeriodicTask, claim: str, job_id: str) -> None:
    # At the front: a clock task (the outbox sweep above all) must not wait behind a backlog.
    job_queue.enqueue(run_periodic, task.name, claim, job_id=job_id, at_front=True)


def _take_over(redis, job_queue, claim: str, now: float) -> bool:
    """Claim a period's task again when its run was lost: not done, its lease lapsed (or it
    never started) for longer than a lease, no job waiting. The claim is one conditional
    write (WATCH/MULTI), so of many tickers one takes it over."""
    from redis.exceptions import WatchError

    with redis.pipeline() as pipe:
        try:
            pipe.watch(claim, f"{claim}:lease")
            value = pipe.get(claim)
            if value is None or value.decode() == DONE or pipe.exists(f"{claim}:lease"):
                return False
            claimed_at, runs = value.decode().split(":")
            if int(runs) >= MAX_RUNS or now - float(claimed_at) < lease_seconds():
                return False
            if any(job_id.startswith(_job_prefix(claim)) for job_id in job_queue.get_job_ids()):
                return False
            pipe.multi()
            pipe.set(claim, _claim_value(now, int(runs) + 1), keepttl=True)
            pipe.execute()
            return True
        except WatchError:  # another ticker changed the claim first
            return False


def _job_prefix(claim: str) -> str:
    *_, name, period = claim.split(":")
    return f"periodic-{name}-{period}"


def run_periodic(name: str, claim: str) -> None:
    """The job that runs a periodic task under a lease on its period's claim: renewed while
    the worker lives, so a killed run is taken over by the next tick once the lease lapses."""
    redis = redis_connection()
    lease = f"{claim}:lease"
    seconds = lease_seconds()
    token = f"{time.time():.3f}"
    redis.set(lease, token, ex=seconds)
    with keep_alive(lambda: redis.set(lease, token, ex=seconds, xx=True), seconds / 3):
        next(task for task in tasks() if task.name == name).run()
    redis.set(claim, DONE, keepttl=True)
    redis.delete(lease)
def start_ticker(app: Flask, stop: threading.Event) -> threading.Thread:
    """A daemon thread that calls `enqueue_due_tasks` every TICK_SECONDS until `stop` is set."""

    def loop() -> None:
        while not stop.is_set():
            try:
                with app.app_context():
                    enqueue_due_tasks()
            except Exception:  # Redis away for a moment: the next tick tries again
                log.exception("periodic tick failed")
            stop.wait(TICK_SECONDS)

    thread = threading.Thread(target=loop, name="clientela-periodic", daemon=True)
    thread.start()
    return thread


class PeriodicClaim(Model):
    """Who runs a task this period, in the embedded default: one row per (task, period), and
    the primary key refuses the second process that tries."""

    __tablename__ = "periodic_claim"

    task: Mapped[str] = mapped_column(String(64), primary_key=True)
    period: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # Claims older than CLAIMS_KEPT are deleted; only the current period's can still refuse anyone.
    claimed_at: Mapped[dt.datetime] = mapped_column(DateTime)


CLAIMS_KEPT = dt.timedelta(days=3)  # longer than the longest period (a day)
_embedded_lock = threading.Lock()


def claim_period(task: PeriodicTask, now: float) -> bool:
    """Insert this period's claim for `task` in its own transaction; False if someone has it."""
    claimed_at = dt.datetime.fromtimestamp(now, dt.timezone.utc).replace(tzinfo=None)
    try:
        with db.engine.begin() as connection:
            connection.execute(insert(PeriodicClaim).values(
                task=task.name, period=int(now // task.every_seconds), claimed_at=claimed_at))
    except IntegrityError:
        return False
    return True


def run_due_tasks(now: float | None = None) -> list[str]:
    """The embedded default's tick: run, here and now, each task whose current period this
    process claimed first; returns their names. A failing task is logged and does not keep the
    others from running; its next period is tried as usual."""
    now = time.time() if now is None else now
    ran = []
    for task in tasks():
        if not claim_period(task, now):
            continue
        try:
            task.run()
            log.info("periodic task %s ran (period %d)", task.name, int(now // task.every_seconds))
            ran.append(task.name)
        except Exception:
            db.session.rollback()
            log.exception("periodic task %s failed", task.name)
    oldest = dt.datetime.fromtimestamp(now, dt.timezone.utc).replace(tzinfo=None) - CLAIMS_KEPT
    with db.engine.begin() as connection:
        connection.execute(delete(PeriodicClaim).where(PeriodicClaim.claimed_at < oldest))
    return ran


@dataclass(frozen=True)
class EmbeddedTicker:
    stop: threading.Event
    thread: threading.Thread


def start_embedded_ticker(app: Flask, tick_seconds: float = EMBEDDED_TICK_SECONDS) -> EmbeddedTicker:
    """Start this app's embedded ticker once (later calls return the running one); it is kept
    in `app.extensions["clientela_periodic"]`, and setting its `stop` ends it."""
    with _embedded_lock:
        if "clientela_periodic" in app.extensions:
            return app.extensions["clientela_periodic"]
        stop = threading.Event()

        def tick_until_stopped() -> None:
            while not stop.is_set():
                try:
                    with app.app_context():
                        run_due_tasks()
                except Exception:  # the database away for a moment: the next tick tries again
                    log.exception("embedded periodic tick failed")
                stop.wait(tick_seconds)

        thread = threading.Thread(target=tick_until_stopped, name="clientela-embedded-periodic", daemon=True)
        ticker = app.extensions["clientela_periodic"] = EmbeddedTicker(stop, thread)
        thread.start()
        return ticker


def init_app(app: Flask) -> None:
    """Without Redis, and unless EMBEDDED_PERIODIC is off, tick in this web process from its
    first request on (gunicorn's workers each start their own after the fork; claims keep
    them from running a task twice)."""
    if app.config.get("REDIS_URL") or not app.config.get("EMBEDDED_PERIODIC"):
        return

    @app.before_request
    def _start_ticker() -> None:
        if "clientela_periodic" not in app.extensions:
            start_embedded_ticker(app, app.config.get("EMBEDDED_PERIODIC_TICK_SECONDS", EMBEDDED_TICK_SECONDS))
