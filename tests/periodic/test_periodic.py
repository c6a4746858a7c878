"""Periodic tasks are enqueued once per period however many workers tick, and they run."""
from __future__ import annotations

import datetime as dt

from app.billing.models import Quote
from app.extensions import db
from app.jobs import lease_seconds, redis_connection
from app.periodic import enqueue_due_tasks, run_periodic, tasks
from tests.support.factories import make_client, make_quote
from tests.support.jobs import run_worker

DAY = 24 * 3600


def test_every_capability_registers_its_periodic_tasks(app):
    assert sorted(task.name for task in tasks()) == [
        "expire-quotes", "generate-recurring", "mark-overdue", "retry-outbox", "sdi-receipts", "send-reminders",
        "stripe-reconcile"]


def test_every_task_is_enqueued_once_per_period_whoever_ticks(rq_queue):
    now = 1_900_000_000.0
    first = enqueue_due_tasks(now)
    assert sorted(first) == sorted(task.name for task in tasks())
    assert enqueue_due_tasks(now) == [], "a second worker ticking in the same period enqueues nothing"
    assert rq_queue.count == len(tasks())

    fifteen_seconds_later = enqueue_due_tasks(now + 15)
    assert fifteen_seconds_later == ["retry-outbox"], "the outbox sweep runs every 15 s"
    assert sorted(enqueue_due_tasks(now + DAY)) == sorted(task.name for task in tasks())


def test_the_daily_quote_expiry_runs_on_the_worker(app, rq_queue):
    quote = make_quote(make_client(), issue_date=dt.date.today() - dt.timedelta(days=60),
                       valid_until=dt.date.today() - dt.timedelta(days=1), finalize=True)
    db.session.commit()

    enqueue_due_tasks()
    run_worker(app)

    db.session.expire_all()
    assert db.session.get(Quote, quote.id).status == "expired"


def _claim_of(rq_queue, name: str, now: float) -> str:
    [task] = [task for task in tasks() if task.name == name]
    return f"clientela:periodic:{rq_queue.name}:{name}:{int(now // task.every_seconds)}"


def test_a_periodic_run_lost_with_its_worker_is_taken_over_once_its_lease_lapses(app, rq_queue):
    now = 1_900_000_000.0
    enqueue_due_tasks(now)
    claim = _claim_of(rq_queue, "expire-quotes", now)
    redis = redis_connection()
    # The run's worker took the job and renewed its lease, then was killed: the job is off the
    # queue, the lease still live for a moment.
    rq_queue.empty()
    redis.set(f"{claim}:lease", "killed worker", ex=lease_seconds())
    assert "expire-quotes" not in enqueue_due_tasks(now + 5), "its lease is live: maybe still running"

    redis.delete(f"{claim}:lease")  # the lease lapsed: nobody renews it
    later = now + lease_seconds() + 1
    assert "expire-quotes" in enqueue_due_tasks(later)
    assert "expire-quotes" not in enqueue_due_tasks(later), "taken over by one ticker only"
    job_ids = rq_queue.get_job_ids()
    assert any(job_id.startswith("periodic-expire-quotes-") and job_id.endswith("-2") for job_id in job_ids)


def test_a_finished_periodic_run_is_not_run_again_and_a_waiting_one_is_not_doubled(app, rq_queue):
    now = 1_900_000_000.0
    enqueue_due_tasks(now)
    claim = _claim_of(rq_queue, "expire-quotes", now)
    later = now + lease_seconds() + 1
    assert "expire-quotes" not in enqueue_due_tasks(later), "its job is still waiting in the queue"

    run_periodic("expire-quotes", claim)  # what the worker runs: the task, then "done"
    rq_queue.empty()
    assert redis_connection().get(claim) == b"done"
    assert "expire-quotes" not in enqueue_due_tasks(later)
