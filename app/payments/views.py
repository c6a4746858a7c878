"""The client's side of paying online, under /portal (same session, scoping and headers as the
portal): Pay now, the page Stripe sends the client back to, and the one for a cancelled checkout.

Every invoice is loaded through the portal's `scoped()`, so another client's invoice is a 404.
"""
from __future__ import annotations

import logging

import stripe
from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.billing.models import Invoice
from app.extensions import db
from app.periodic import PeriodicTask
from app.periodic import register as register_periodic
from app.payments.models import CheckoutSession, CheckoutStatus
from app.payments.reconcile import reconcile_stripe_job
from app.payments.services import (
    PaymentError,
    can_pay_online,
    create_checkout,
    fulfil_checkout_session,
    retrieve_session,
    stripe_configured,
)
from app.portal.security import current_contact, portal_login_required, scoped
from app.portal.views import use_portal_pages

log = logging.getLogger(__name__)

bp = Blueprint("payments", __name__, url_prefix="/portal")
use_portal_pages(bp)


def _scoped_invoice(invoice_id: int) -> Invoice:
    invoice = db.session.scalar(scoped(Invoice).where(Invoice.id == invoice_id))
    if invoice is None:
        abort(404)
    return invoice


@bp.post("/invoices/<int:invoice_id>/pay")
@portal_login_required
def pay(invoice_id: int):
    """Open a Stripe Checkout for the balance due and send the client there (303)."""
    invoice = _scoped_invoice(invoice_id)
    try:
        url = create_checkout(invoice, current_contact())
    except PaymentError as error:
        db.session.rollback()
        flash(str(error.message), "error")
        return redirect(url_for("portal.invoice", invoice_id=invoice_id), 303)
    db.session.commit()
    return redirect(url, 303)


@bp.get("/invoices/<int:invoice_id>/paid")
def paid(invoice_id: int):
    """Stripe's success_url. The webhook may be late or lost: re-read the session and fulfil it
    here too (the same function, so still exactly once). Done before the sign-in check, so a
    client whose portal session ran out still gets the payment recorded."""
    record = _record_for(invoice_id, request.args.get("session_id", ""))
    if record is not None and record.status == CheckoutStatus.OPEN.value:
        try:
            fulfil_checkout_session(retrieve_session(record.stripe_id))
            db.session.commit()
        except IntegrityError:  # the webhook recorded it at the same moment
            db.session.rollback()
        except stripe.StripeError:
            db.session.rollback()
            log.warning("could not re-read Checkout Session %s; the webhook or reconcile will", record.stripe_id)
    if current_contact() is None:
        return redirect(url_for("portal.login"))
    invoice = _scoped_invoice(invoice_id)
    state = record.status if record is not None else "unknown"
    return render_template("portal/pay_success.html", invoice=invoice, state=state)


def _record_for(invoice_id: int, stripe_id: str) -> CheckoutSession | None:
    if not stripe_id or not stripe_configured():
        return None
    return db.session.scalar(
        select(CheckoutSession).where(CheckoutSession.stripe_id == stripe_id, CheckoutSession.invoice_id == invoice_id)
    )


@bp.get("/invoices/<int:invoice_id>/pay/cancelled")
@portal_login_required
def cancelled(invoice_id: int):
    """Stripe's cancel_url: back on the invoice, nothing charged."""
    _scoped_invoice(invoice_id)
    flash(_("Payment cancelled: nothing was charged. You can pay whenever you like."), "info")
    return redirect(url_for("portal.invoice", invoice_id=invoice_id))


def init_app(app: Flask) -> None:
    """Register the portal pages and the webhook, the periodic Stripe reconciling, and the
    template helpers that show Pay now (portal) and the "online payments are not configured"
    notice (admin)."""
    from app.payments.webhooks import bp as webhooks_bp

    register_periodic(app, PeriodicTask("stripe-reconcile", 15 * 60, reconcile_stripe_job))
    app.register_blueprint(bp)
    app.register_blueprint(webhooks_bp)
    app.add_template_global(can_pay_online, "can_pay_online")
    app.add_template_global(stripe_configured, "stripe_configured")
    app.add_template_global(stripe_notice_once, "stripe_notice_once")


def stripe_notice_once() -> bool:
    """The dashboard says "online payments are not configured" once per signed-in session, not
    on every return to it; an open invoice's page, which it concerns, says it every time."""
    if stripe_configured() or session.get("stripe_notice_shown"):
        return False
    session["stripe_notice_shown"] = True
    return True
