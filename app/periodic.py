"""Work that runs on a clock: overdue marks and reminders, outbox retries, quote expiry,
Stripe reconciling.

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

from flask import Flask, current_app

from app.jobs import queue, redis_connection

log = logging.getLogger(__name__)
TICK_SECONDS = 30


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


def enqueue_due_tasks(now: float | None = None) -> list[str]:
    """Enqueue each task whose current period nobody has claimed yet; returns their names."""
    now = time.time() if now is None else now
    redis, job_queue = redis_connection(), queue()
    enqueued = []
    for task in tasks():
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
