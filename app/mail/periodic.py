"""Mail's work on the clock (`app.periodic`): stuck outbox emails retried, overdue reminders sent."""
from __future__ import annotations

from flask import Flask

from app.extensions import db
from app.mail.outbox import requeue_stale_emails
from app.mail.reminders import send_reminders
from app.periodic import PeriodicTask, register


def send_reminders_job() -> None:
    send_reminders()  # commits once per invoice


def retry_outbox_job() -> None:
    requeue_stale_emails(every_failed=False)  # failures wait out their backoff
    db.session.commit()


def init_app(app: Flask) -> None:
    # The outbox sweep: lost jobs, lapsed leases and due retries are queued again within seconds.
    register(app, PeriodicTask("retry-outbox", 15, retry_outbox_job))
    register(app, PeriodicTask("send-reminders", 24 * 3600, send_reminders_job))
