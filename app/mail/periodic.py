"""Mail's work on the clock (`app.periodic`): stuck outbox emails retried, overdue reminders sent."""
from __future__ import annotations

from flask import Flask

from app.extensions import db
from app.mail.reminders import send_reminders
from app.mail.services import requeue_stale_emails
from app.periodic import PeriodicTask, register


def send_reminders_job() -> None:
    send_reminders()  # commits once per invoice


def retry_outbox_job() -> None:
    requeue_stale_emails()
    db.session.commit()


def init_app(app: Flask) -> None:
    register(app, PeriodicTask("retry-outbox", 5 * 60, retry_outbox_job))
    register(app, PeriodicTask("send-reminders", 24 * 3600, send_reminders_job))
