"""Work that runs on a clock: overdue marks and reminders, outbox retries, quote expiry,
Stripe reconciling.

Every `clientela worker` runs a small ticker thread. At each tick it claims the current
period of each task with one Redis `SET NX` (key = task + period number) and enqueues the task
only if the claim is its own: with any number of workers on any number of hosts, each task
is enqueued once per period. The run holds a lease on the claim that its worker renews; a
run lost with its worker (no lease, not done) is taken over by the next tick, once. The tasks
are idempotent anyway.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable

from flask import Flask

from app.extensions import db
from app.jobs import keep_alive, lease_seconds, queue, redis_connection

log = logging.getLogger(__name__)
TICK_SECONDS = 5


def expire_quotes_job() -> None:
    from app.billing.services import expire_quotes

    expire_quotes()
    db.session.commit()


def mark_overdue_job() -> None:
    from app.billing.accounts import mark_overdue_invoices

    mark_overdue_invoices()
    db.session.commit()


def send_reminders_job() -> None:
    from app.mail.reminders import send_reminders

    send_reminders()


def retry_outbox_job() -> None:
    from app.mail.services import requeue_stale_emails

    requeue_stale_emails(every_failed=False)  # failures wait out their backoff
    db.session.commit()


def reconcile_stripe_job() -> None:
    from app.payments.reconcile import reconcile_job
    from app.payments.services import stripe_configured

    if stripe_configured():
        reconcile_job()


@dataclass(frozen=True)
class PeriodicTask:
    name: str
    every_seconds: int
    run: Callable[[], None]


TASKS = (
    # The outbox sweep: lost jobs, lapsed leases and due retries are queued again within seconds.
    PeriodicTask("retry-outbox", 15, retry_outbox_job),
    PeriodicTask("stripe-reconcile", 15 * 60, reconcile_stripe_job),
    # Hourly: the client summary counts by date only what fell due since the last run.
    PeriodicTask("mark-overdue", 3600, mark_overdue_job),
    PeriodicTask("send-reminders", 24 * 3600, send_reminders_job),
    PeriodicTask("expire-quotes", 24 * 3600, expire_quotes_job),
)
TASKS_BY_NAME = {task.name: task for task in TASKS}
DONE = "done"
MAX_RUNS = 3  # a period's task is run again after a lost run at most twice


def enqueue_due_tasks(now: float | None = None) -> list[str]:
    """Enqueue each task whose current period nobody has claimed yet, or whose run was lost
    (its worker died: no lease, not done, not waiting in the queue); returns their names."""
    now = time.time() if now is None else now
    redis, job_queue = redis_connection(), queue()
    enqueued = []
    for task in TASKS:
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
        TASKS_BY_NAME[name].run()
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
