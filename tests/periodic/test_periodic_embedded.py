"""Without Redis the web processes run the periodic tasks themselves, each task once per period
however many processes tick (claims in the database, no Redis)."""
from __future__ import annotations

import datetime as dt
import logging
import time

import pytest
from sqlalchemy import func, select

from app import create_app
from app.billing.models import Quote
from app.extensions import db
from app.periodic import PeriodicClaim, run_due_tasks, tasks
from tests.support.factories import make_client, make_quote



def every_task() -> list[str]:
    return sorted(task.name for task in tasks())


@pytest.fixture
def another_web_process(app):
    """A second app on the same database, as a second gunicorn worker or node would be."""
    made = []

    def make(**overrides):
        settings = {"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"], "REDIS_URL": "",
                    "PUBLIC_BASE_URL": "http://clientela.test", **overrides}
        other = create_app("config.TestConfig", **settings)
        made.append(other)
        return other

    yield make
    for other in made:
        ticker = other.extensions.get("clientela_periodic")
        if ticker is not None:
            ticker.stop.set()
            ticker.thread.join(30)
        with other.app_context():
            db.session.remove()
            db.engine.dispose()


def _runs(caplog) -> list[tuple[str, int]]:
    return sorted(record.args for record in caplog.records
                  if record.name == "app.periodic" and record.msg.startswith("periodic task %s ran"))


def test_two_processes_run_each_task_once_per_period(app, another_web_process):
    quote = make_quote(make_client(), issue_date=dt.date.today() - dt.timedelta(days=60),
                       valid_until=dt.date.today() - dt.timedelta(days=1), finalize=True)
    db.session.commit()
    other = another_web_process()
    now = 1_900_000_000.0

    assert sorted(run_due_tasks(now)) == every_task()
    with other.app_context():
        assert run_due_tasks(now) == [], "the other process finds every period claimed"
        later = now + 5 * 60
        new_periods = sorted(task.name for task in tasks()
                             if int(later // task.every_seconds) != int(now // task.every_seconds))
        assert "retry-outbox" in new_periods and "send-reminders" not in new_periods
        assert sorted(run_due_tasks(later)) == new_periods, "five minutes later, only the tasks in a new period"
    assert run_due_tasks(now + 5 * 60) == []
    assert sorted(run_due_tasks(now + 24 * 3600)) == every_task()

    db.session.expire_all()
    assert db.session.get(Quote, quote.id).status == "expired", "the daily expiry really ran"


def test_the_tickers_of_two_web_processes_start_with_their_first_request_and_never_both_run_a_task(
        app, another_web_process, caplog):
    caplog.set_level(logging.INFO, logger="app.periodic")
    first = another_web_process(EMBEDDED_PERIODIC=True, EMBEDDED_PERIODIC_TICK_SECONDS=0.05)
    second = another_web_process(EMBEDDED_PERIODIC=True, EMBEDDED_PERIODIC_TICK_SECONDS=0.05)
    assert "clientela_periodic" not in first.extensions, "no ticker before the process serves anything"

    started = time.time()
    for process in (first, second):
        assert process.test_client().get("/healthz").status_code == 200
    tickers = [process.extensions["clientela_periodic"] for process in (first, second)]
    assert all(ticker.thread.is_alive() for ticker in tickers)
    time.sleep(1.5)  # some thirty ticks each
    for ticker in tickers:
        ticker.stop.set()
        ticker.thread.join(30)
    finished = time.time()

    runs = _runs(caplog)
    assert len(runs) == len(set(runs)), f"a task ran twice in one period: {runs}"
    assert sorted({name for name, _period in runs}) == every_task()
    expected = {(task.name, period) for task in tasks()
                for period in range(int(started // task.every_seconds), int(finished // task.every_seconds) + 1)}
    assert set(runs) == expected, "each task once per period, no more and no fewer"
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(PeriodicClaim)) == len(expected)


def test_no_embedded_ticker_with_redis_or_with_the_flag_off(app, another_web_process):
    with_redis = another_web_process(EMBEDDED_PERIODIC=True, REDIS_URL="redis://127.0.0.1:6379/6")
    switched_off = another_web_process(EMBEDDED_PERIODIC=False)

    for process in (with_redis, switched_off, app):
        assert process.test_client().get("/healthz").status_code == 200
        assert "clientela_periodic" not in process.extensions
