"""`POST /webhooks/stripe`: Stripe's events, verified and applied once.

The signature is checked on the raw body with the SDK (default tolerance: an old, replayed
delivery is refused). The event id goes into `stripe_event` under a unique constraint in the
same transaction as the event's effect: a redelivered event, or the same event delivered ten
times at once, inserts once and applies once; the others meet the constraint and answer 200.
An error while applying answers 500 and stores nothing, so Stripe delivers the event again.
"""
from __future__ import annotations

import logging

import stripe
from flask import Blueprint, abort, current_app, jsonify, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.extensions import csrf, db
from app.payments.models import StripeEvent
from app.payments.services import handle_event, stripe_configured

log = logging.getLogger(__name__)

bp = Blueprint("stripe_webhooks", __name__)


@bp.post("/webhooks/stripe")
@csrf.exempt
def stripe_webhook():
    if not stripe_configured():
        abort(404)
    payload = request.get_data()  # the exact bytes Stripe signed
    try:
        event = stripe.Webhook.construct_event(
            payload, request.headers.get("Stripe-Signature"), current_app.config["STRIPE_WEBHOOK_SECRET"]
        )
    except (ValueError, stripe.SignatureVerificationError) as error:
        log.warning("refused a Stripe webhook: %s", error)
        return jsonify(error="invalid payload or signature"), 400
    data = event.to_dict()
    event_id, kind = data.get("id"), data.get("type")
    if not event_id or not kind:
        return jsonify(error="not an event"), 400

    if db.session.scalar(select(StripeEvent.id).where(StripeEvent.event_id == event_id)) is not None:
        return jsonify(received=True, duplicate=True)
    row = StripeEvent(event_id=event_id, type=kind)
    db.session.add(row)
    try:
        db.session.flush()  # concurrent deliveries of this event wait here, then fail on the unique id
        result = handle_event(data)
        row.outcome, row.detail, row.client_id = result.outcome, result.detail[:2000], result.client_id
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        if db.session.scalar(select(StripeEvent.id).where(StripeEvent.event_id == event_id)) is not None:
            return jsonify(received=True, duplicate=True)
        log.exception("Stripe event %s collided with another write; Stripe will deliver it again", event_id)
        return jsonify(error="try again"), 500
    except Exception:
        db.session.rollback()
        log.exception("Stripe event %s (%s) failed; Stripe will deliver it again", event_id, kind)
        return jsonify(error="try again"), 500
    return jsonify(received=True, outcome=result.outcome)

