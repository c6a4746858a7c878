"""Aging of receivables: the buckets of days past due, their labels, and their SQL.

One definition for the business dashboard and the client's statement (portal and PDF), so
both cut at the same days and say the same words. Due today is still current.
"""
from __future__ import annotations

import datetime as dt

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, literal

from app.billing.models import Invoice

# (key, fewest days past due, most days past due); None means open-ended.
AGING_BUCKETS = (("current", None, 0), ("1_30", 1, 30), ("31_60", 31, 60), ("61_90", 61, 90), ("90_plus", 91, None))
AGING_KEYS = tuple(key for key, _fewest, _most in AGING_BUCKETS)
AGING_LABELS = {
    "current": _l("Not yet due"),
    "1_30": _l("1–30 days"),
    "31_60": _l("31–60 days"),
    "61_90": _l("61–90 days"),
    "90_plus": _l("Over 90 days"),
}


def past_due_between(today: dt.date, fewest: int | None, most: int | None):
    """SQL: invoices that are between `fewest` and `most` days past due (None: no bound)."""
    conditions = []
    if fewest is not None:
        conditions.append(Invoice.due_date <= today - dt.timedelta(days=fewest))
    if most is not None:
        conditions.append(Invoice.due_date >= today - dt.timedelta(days=most))
    return and_(*conditions)


def bucket_expression(today: dt.date, due_date=Invoice.due_date):
    """SQL naming the aging bucket of an invoice (or of another row's `due_date` column, the
    home rollup's) by its days past due."""
    bounded = [(due_date >= today - dt.timedelta(days=most), literal(key))
               for key, _fewest, most in AGING_BUCKETS if most is not None]
    return case(*bounded, else_=literal(AGING_KEYS[-1]))


def bucket_of(today: dt.date, due_date: dt.date) -> str:
    """The aging bucket of one due date, cut as `bucket_expression` cuts it."""
    days_past_due = (today - due_date).days
    for key, _fewest, most in AGING_BUCKETS:
        if most is not None and days_past_due <= most:
            return key
    return AGING_KEYS[-1]
