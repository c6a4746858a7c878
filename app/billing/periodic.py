"""Billing's work on the clock (`app.periodic`): invoices fall overdue, quotes expire."""
from __future__ import annotations

from flask import Flask

from app.billing.accounts import mark_overdue_invoices
from app.billing.services import expire_quotes
from app.extensions import db
from app.periodic import PeriodicTask, register


def expire_quotes_job() -> None:
    expire_quotes()
    db.session.commit()


def mark_overdue_job() -> None:
    mark_overdue_invoices()
    db.session.commit()


def init_app(app: Flask) -> None:
    # Hourly: the client summary counts by date only what fell due since the last run.
    register(app, PeriodicTask("mark-overdue", 3600, mark_overdue_job))
    register(app, PeriodicTask("expire-quotes", 24 * 3600, expire_quotes_job))
