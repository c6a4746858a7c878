"""Recurring invoices on the clock (`app.periodic`): every period due is invoiced, once."""
from __future__ import annotations

from flask import Flask

from app.periodic import PeriodicTask, register
from app.recurring.services import generate_due


def generate_recurring_job() -> None:
    generate_due()  # commits each period's invoice on its own


def init_app(app: Flask) -> None:
    # Hourly: a day's invoices go out early in the day; each period is made once however often.
    register(app, PeriodicTask("generate-recurring", 3600, generate_recurring_job))
