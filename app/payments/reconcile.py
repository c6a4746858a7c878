"""Reconciliation: the safety net under webhooks.

A webhook can be lost (endpoint down for longer than Stripe retries, a misconfigured secret)
and the client may close the tab before the success page. `reconcile_open_sessions` re-reads
every Checkout Session still open after a while and hands it to the same fulfilment function,
so a completed payment is recorded (once) and an expired session is closed. Run it from the
scheduler: `flask --app app clientela stripe-reconcile` every 15 minutes (docs/payments.md).
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

import stripe
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.payments.models import CheckoutSession, CheckoutStatus
from app.payments.services import fulfil_checkout_session, retrieve_session, stripe_configured

log = logging.getLogger(__name__)

DEFAULT_AFTER = dt.timedelta(minutes=15)


@dataclass
class ReconcileSummary:
    checked: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    errors: int = 0


def reconcile_open_sessions(after: dt.timedelta = DEFAULT_AFTER) -> ReconcileSummary:
    """Re-read sessions open for longer than `after`; one transaction per session, so one
    unreachable session does not hold back the others."""
    cutoff = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - after
    stripe_ids = db.session.scalars(
        select(CheckoutSession.stripe_id)
        .where(CheckoutSession.status == CheckoutStatus.OPEN.value, CheckoutSession.created_at <= cutoff)
        .order_by(CheckoutSession.id)
    ).all()
    db.session.rollback()
    summary = ReconcileSummary()
    for stripe_id in stripe_ids:
        summary.checked += 1
        try:
            result = fulfil_checkout_session(retrieve_session(stripe_id))
            db.session.commit()
        except IntegrityError:  # a webhook recorded it meanwhile
            db.session.rollback()
            continue
        except stripe.StripeError:
            db.session.rollback()
            summary.errors += 1
            log.warning("could not re-read Checkout Session %s", stripe_id, exc_info=True)
            continue
        summary.outcomes[result.outcome] = summary.outcomes.get(result.outcome, 0) + 1
    return summary


def reconcile_job(after_minutes: int = int(DEFAULT_AFTER.total_seconds() // 60)) -> None:
    """The same, as a job for RQ (`enqueue(reconcile_job)`); idempotent like every job."""
    reconcile_open_sessions(dt.timedelta(minutes=after_minutes))


def reconcile_stripe_job() -> None:
    """The periodic `stripe-reconcile` task: nothing to re-read without Stripe keys."""
    if stripe_configured():
        reconcile_job()
