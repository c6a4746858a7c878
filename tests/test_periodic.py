"""Periodic tasks are enqueued once per period however many workers tick, and they run."""
from __future__ import annotations

import datetime as dt

from app.billing.models import Quote
from app.extensions import db
from app.periodic import enqueue_due_tasks, tasks
from tests.support.factories import make_client, make_quote
from tests.support.jobs import run_worker

DAY = 24 * 3600


def test_every_capability_registers_its_periodic_tasks(app):
    assert sorted(task.name for task in tasks()) == [
        "expire-quotes", "mark-overdue", "retry-outbox", "send-reminders", "stripe-reconcile"]


def test_every_task_is_enqueued_once_per_period_whoever_ticks(rq_queue):
    now = 1_900_000_000.0
    first = enqueue_due_tasks(now)
    assert sorted(first) == sorted(task.name for task in tasks())
    assert enqueue_due_tasks(now) == [], "a second worker ticking in the same period enqueues nothing"
    assert rq_queue.count == len(tasks())

    five_minutes_later = enqueue_due_tasks(now + 5 * 60)
    assert five_minutes_later == ["retry-outbox"]
    assert sorted(enqueue_due_tasks(now + DAY)) == sorted(task.name for task in tasks())


def test_the_daily_quote_expiry_runs_on_the_worker(app, rq_queue):
    quote = make_quote(make_client(), issue_date=dt.date.today() - dt.timedelta(days=60),
                       valid_until=dt.date.today() - dt.timedelta(days=1), finalize=True)
    db.session.commit()

    enqueue_due_tasks()
    run_worker(app)

    db.session.expire_all()
    assert db.session.get(Quote, quote.id).status == "expired"
