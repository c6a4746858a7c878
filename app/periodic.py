"""Work that runs on a clock: overdue marks and reminders, outbox retries, quote expiry,
recurring invoices, Stripe reconciling.

Every `clientela worker` runs a small ticker thread. At each tick it claims the current
period of each task with one Redis `SET NX` (key = task + period number) and enqueues the task
only if the claim is its own: with any number of workers on any number of hosts, each task
is enqueued once per period. The tasks are idempotent anyway, so a lost claim costs nothing.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable

from flask import Flask

from app.extensions import db
from app.jobs import queue, redis_connection

log = logging.getLogger(__name__)
TICK_SECONDS = 30


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

    requeue_stale_emails()
    db.session.commit()


def generate_recurring_job() -> None:
    from app.recurring.services import generate_due

    generate_due()  # commits each period's invoice on its own


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
    PeriodicTask("retry-outbox", 5 * 60, retry_outbox_job),
    PeriodicTask("stripe-reconcile", 15 * 60, reconcile_stripe_job),
    # Hourly: the client summary counts by date only what fell due since the last run.
    PeriodicTask("mark-overdue", 3600, mark_overdue_job),
    # Hourly: a day's invoices go out early in the day; each period is made once however often.
    PeriodicTask("generate-recurring", 3600, generate_recurring_job),
    PeriodicTask("send-reminders", 24 * 3600, send_reminders_job),
    PeriodicTask("expire-quotes", 24 * 3600, expire_quotes_job),
)


def enqueue_due_tasks(now: float | None = None) -> list[str]:
    """Enqueue each task whose current period nobody has claimed yet; returns their names."""
    now = time.time() if now is None else now
    redis, job_queue = redis_connection(), queue()
    enqueued = []
    for task in TASKS:
        period = int(now // task.every_seconds)
        claim = f"clientela:periodic:{job_queue.name}:{task.name}:{period}"
        if redis.set(claim, "1", nx=True, ex=task.every_seconds * 2):
            job_queue.enqueue(task.run, job_id=f"periodic-{task.name}-{period}")
            enqueued.append(task.name)
    return enqueued


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
