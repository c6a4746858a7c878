"""Billing's work on the clock (`app.periodic`): invoices fall overdue, quotes expire."""
from __future__ import annotations

from flask import Flask

from app.billing.accounts import mark_overdue_invoices
from app.billing.rollups import fold_old_receivables
from app.billing.services import expire_quotes
from app.extensions import db
from app.periodic import PeriodicTask, register


def expire_quotes_job() -> None:
    expire_quotes()
    db.session.commit()


def mark_overdue_job() -> int:
    """Returns how many invoices were marked."""
    marked = mark_overdue_invoices()
    db.session.commit()
    # Its own transaction: the rows shared by every writer stay locked for a moment only.
    fold_old_receivables()
    db.session.commit()
    return marked


def init_app(app: Flask) -> None:
    # Hourly: the client summary counts by date only what fell due since the last run, and
    # the home page's receivables keep a bounded number of days.
    register(app, PeriodicTask("mark-overdue", 3600, mark_overdue_job))
    register(app, PeriodicTask("expire-quotes", 24 * 3600, expire_quotes_job))
