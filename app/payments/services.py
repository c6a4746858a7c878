"""The rules of paying online, callable without HTTP.

- `create_checkout` opens a Stripe Checkout Session for an invoice's balance due and records it.
- `fulfil_checkout_session` is THE one place a paid Checkout Session becomes a Payment: the
  webhook, the success page and reconciliation all call it, with the session as Stripe says it
  is now. It is idempotent (one Payment per PaymentIntent, checked under the invoice's row lock,
  backed by a unique constraint).
- `apply_refund` records a Stripe refund once (unique by refund id) as a negative payment.
- `handle_event` routes a verified webhook event to them.

Only Checkout Sessions recorded in `CheckoutSession` count, and only for the amount and currency
recorded there; anything else changes no payment and is written down for staff (the event's
outcome in the admin, and a timeline entry when we know the client). Functions add to the
current transaction and leave the commit to the caller.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Mapping

import stripe
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.activity import services as activity
from app.billing.models import OPEN_INVOICE_STATUSES, Invoice, Payment, PaymentMethod
from app.billing.services import BillingError, lock_invoice, record_payment, record_refund
from app.clients.models import Contact
from app.extensions import db
from app.money import ZERO, to_cents
from app.payments.models import CheckoutSession, CheckoutStatus, EventOutcome, StripeRefund

log = logging.getLogger(__name__)

# Two clicks on Pay now within this window get the same Checkout Session back from Stripe.
IDEMPOTENCY_WINDOW_SECONDS = 15 * 60
CHECKOUT_EVENTS = ("checkout.session.completed", "checkout.session.async_payment_succeeded")
REFUND_EVENTS = ("refund.created", "refund.updated", "refund.failed", "charge.refund.updated")

# Why an online payment changed nothing: stored as a code on the timeline, translated when read.
PROBLEMS = {
    "unknown_session": _l("Stripe reports a Checkout Session Clientela did not create."),
    "amount_mismatch": _l("Stripe reports a different amount or currency than the checkout Clientela opened."),
    "invoice_mismatch": _l("The Stripe session names a different invoice."),
    "not_payable": _l("The client paid online, but the invoice no longer accepts this payment "
                      "(already paid, cancelled or a smaller balance): refund or settle it by hand."),
    "no_payment_intent": _l("Stripe reports the session paid but names no payment."),
    "refund_unknown_payment": _l("Stripe reports a refund of a payment Clientela did not record."),
    "refund_refused": _l("Stripe reports a refund Clientela could not record on the invoice."),
    "refund_reversed": _l("Stripe reports that a recorded refund failed or was cancelled: check it in Stripe."),
}

activity.MESSAGES.setdefault(
    "online_payment_problem",
    lambda p: _("Online payment for invoice %(number)s needs attention: %(reason)s",
                number=p.get("number", ""), reason=PROBLEMS.get(p.get("reason", ""), p.get("reason", ""))),
)


class PaymentError(Exception):
    """Online payment cannot start (not configured, nothing to pay, Stripe unreachable)."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Result:
    """What a webhook event or a fulfilment did: kept on the StripeEvent row for staff."""

    outcome: str
    detail: str = ""
    client_id: int | None = None

    @property
    def applied(self) -> bool:
        return self.outcome == EventOutcome.APPLIED.value


def _applied(detail: str, client_id: int | None) -> Result:
    return Result(EventOutcome.APPLIED.value, detail, client_id)


def _nothing(detail: str, client_id: int | None = None) -> Result:
    return Result(EventOutcome.NOTHING_TO_DO.value, detail, client_id)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


# ---------------------------------------------------------------- configuration

def stripe_configured() -> bool:
    """Pay now exists only with both keys: without the webhook secret nothing would confirm payments."""
    config = current_app.config
    return bool(config.get("STRIPE_SECRET_KEY") and config.get("STRIPE_WEBHOOK_SECRET"))


def stripe_client() -> stripe.StripeClient:
    """The official SDK's client; STRIPE_API_BASE points it at another Stripe-compatible API."""
    config = current_app.config
    base = config.get("STRIPE_API_BASE")
    return stripe.StripeClient(
        config["STRIPE_SECRET_KEY"],
        base_addresses={"api": base.rstrip("/")} if base else None,
        max_network_retries=2,  # safe: every POST carries an idempotency key
    )


def can_pay_online(invoice: Invoice) -> bool:
    return stripe_configured() and invoice.status in OPEN_INVOICE_STATUSES and invoice.balance > ZERO


# ---------------------------------------------------------------- starting a payment

def create_checkout(invoice: Invoice, contact: Contact) -> str:
    """Open a Checkout Session for the invoice's balance due; return the URL to send the client to."""
    if not stripe_configured():
        raise PaymentError(_l("Online payment is not available: please pay by bank transfer."))
    if contact.client_id != invoice.client_id:  # the portal scopes already; a rule holds without HTTP too
        raise PaymentError(_l("This invoice cannot be paid online."))
    if invoice.status not in OPEN_INVOICE_STATUSES or invoice.balance <= ZERO:
        raise PaymentError(_l("This invoice has nothing left to pay."))
    amount_cents = to_cents(invoice.balance)
    currency = (invoice.currency or "EUR").lower()
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    metadata = {"invoice_id": str(invoice.id), "client_id": str(invoice.client_id), "contact_id": str(contact.id)}
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": [{
            "quantity": 1,
            "price_data": {
                "currency": currency,
                "unit_amount": amount_cents,
                "product_data": {"name": _("Invoice %(number)s", number=invoice.number)},
            },
        }],
        "metadata": metadata,
        "payment_intent_data": {"metadata": metadata},
        "client_reference_id": f"invoice-{invoice.id}",
        "customer_email": contact.email,
        "locale": "en" if (invoice.client.language or "it").startswith("en") else "it",
        "success_url": f"{base}/portal/invoices/{invoice.id}/paid?session_id={{CHECKOUT_SESSION_ID}}",
        "cancel_url": f"{base}/portal/invoices/{invoice.id}/pay/cancelled",
    }
    window = int(time.time() // IDEMPOTENCY_WINDOW_SECONDS)
    idempotency_key = f"clientela-checkout-{invoice.id}-{amount_cents}{currency}-{contact.id}-{window}"
    try:
        session = stripe_client().v1.checkout.sessions.create(params, {"idempotency_key": idempotency_key})
    except stripe.StripeError:
        log.exception("Stripe refused or did not answer a Checkout Session for invoice %s", invoice.id)
        raise PaymentError(_l("The payment service is not answering. Please try again in a few minutes.")) from None
    record = db.session.scalar(select(CheckoutSession).where(CheckoutSession.stripe_id == session.id))
    if record is None:
        db.session.add(CheckoutSession(
            stripe_id=session.id, invoice_id=invoice.id, client_id=invoice.client_id, contact_id=contact.id,
            amount_cents=amount_cents, currency=currency, url=session.url or "", status=CheckoutStatus.OPEN.value,
            created_at=_now(),  # UTC from Python, as reconcile compares it with Python's clock
        ))
    return session.url


# ---------------------------------------------------------------- fulfilment

def _problem(record: CheckoutSession | None, invoice_id: int | None, client_id: int | None, reason: str,
             detail: str) -> Result:
    """Change nothing, but say so: a log line, the record's note and the client's timeline."""
    log.warning("online payment problem (%s): %s", reason, detail)
    if record is not None:
        record.detail = detail[:2000]
    if client_id is not None:
        number = db.session.scalar(select(Invoice.number).where(Invoice.id == invoice_id)) if invoice_id else ""
        activity.record("online_payment_problem", client_id, invoice_id=invoice_id, actor="Stripe",
                        reason=reason, number=number or "")
    return Result(EventOutcome.REFUSED.value, f"{reason}: {detail}", client_id)


def _payment_intent_id(value: object) -> str | None:
    if isinstance(value, Mapping):
        return value.get("id")
    return value or None


def fulfil_checkout_session(session: Mapping[str, Any]) -> Result:
    """Record the payment of a Checkout Session Stripe reports paid, exactly once.

    `session` is the Checkout Session as a plain dict, as Stripe says it is now (re-read from the
    API by every caller). Sessions this app did not create, or whose amount, currency or invoice
    differ from our record, change nothing."""
    stripe_id = session.get("id") or ""
    record = db.session.scalar(select(CheckoutSession).where(CheckoutSession.stripe_id == stripe_id))
    if record is None:
        return _problem(None, None, None, "unknown_session",
                        f"Checkout Session {stripe_id} was not created by Clientela; nothing recorded.")
    if record.status == CheckoutStatus.COMPLETE.value:
        return _nothing("already recorded", record.client_id)
    if session.get("payment_status") != "paid":
        if session.get("status") == "expired" and record.status == CheckoutStatus.OPEN.value:
            record.status = CheckoutStatus.EXPIRED.value
        return _nothing(f"not paid (status {session.get('status')}, payment {session.get('payment_status')})",
                        record.client_id)
    if (session.get("metadata") or {}).get("invoice_id") != str(record.invoice_id):
        return _problem(record, record.invoice_id, record.client_id, "invoice_mismatch",
                        f"{stripe_id} names invoice {(session.get('metadata') or {}).get('invoice_id')!r}, "
                        f"recorded for {record.invoice_id}.")
    amount, currency = session.get("amount_total"), (session.get("currency") or "").lower()
    if amount != record.amount_cents or currency != record.currency:
        return _problem(record, record.invoice_id, record.client_id, "amount_mismatch",
                        f"{stripe_id} reports {amount} {currency}, recorded {record.amount_cents} {record.currency}.")
    payment_intent = _payment_intent_id(session.get("payment_intent"))
    if not payment_intent:
        return _problem(record, record.invoice_id, record.client_id, "no_payment_intent", f"{stripe_id}.")

    invoice = lock_invoice(record.invoice_id)  # the webhook and the success page may race here
    existing = db.session.scalar(select(Payment).where(Payment.stripe_payment_intent == payment_intent))
    if existing is None:
        try:
            existing = record_payment(invoice, amount=Decimal(amount).scaleb(-2), date=dt.date.today(),
                                      method=PaymentMethod.STRIPE.value, reference=f"Stripe {stripe_id}",
                                      stripe_payment_intent=payment_intent)
        except BillingError as error:
            record.status = CheckoutStatus.NEEDS_ATTENTION.value
            record.payment_intent = payment_intent
            return _problem(record, record.invoice_id, record.client_id, "not_payable",
                            f"{stripe_id} ({payment_intent}) paid {amount} {currency}: {error.message}")
        outcome = _applied(f"payment {payment_intent} recorded on invoice {invoice.number}", record.client_id)
    else:
        outcome = _nothing("already recorded", record.client_id)
    record.status = CheckoutStatus.COMPLETE.value
    record.payment_intent = payment_intent
    record.payment_id = existing.id
    record.fulfilled_at = record.fulfilled_at or _now()
    return outcome


def fail_checkout_session(session: Mapping[str, Any]) -> Result:
    """An asynchronous payment method (SEPA debit…) failed: the invoice stays open."""
    record = db.session.scalar(select(CheckoutSession).where(CheckoutSession.stripe_id == session.get("id")))
    if record is None:
        return _problem(None, None, None, "unknown_session",
                        f"Checkout Session {session.get('id')} was not created by Clientela.")
    if record.status != CheckoutStatus.OPEN.value:
        return _nothing(f"session already {record.status}", record.client_id)
    record.status = CheckoutStatus.FAILED.value
    activity.record("online_payment_failed", record.client_id, invoice_id=record.invoice_id, actor="Stripe",
                    number=record.invoice.number)
    return _applied("asynchronous payment failed", record.client_id)


def retrieve_session(stripe_id: str) -> dict[str, Any]:
    return stripe_client().v1.checkout.sessions.retrieve(stripe_id).to_dict()


# ---------------------------------------------------------------- refunds

def _payment_for(payment_intent: str | None) -> Payment | None:
    """Our Payment for a PaymentIntent. If a refund arrives before the payment's own event,
    find the Checkout Session for it and fulfil that first (events can arrive in any order)."""
    if not payment_intent:
        return None
    payment = db.session.scalar(select(Payment).where(Payment.stripe_payment_intent == payment_intent))
    if payment is not None:
        return payment
    sessions = stripe_client().v1.checkout.sessions.list({"payment_intent": payment_intent, "limit": 3})
    for session in sessions.data:
        known = db.session.scalar(select(CheckoutSession.id).where(CheckoutSession.stripe_id == session.id))
        if known is not None:
            fulfil_checkout_session(session.to_dict())
    return db.session.scalar(select(Payment).where(Payment.stripe_payment_intent == payment_intent))


def apply_refund(refund: Mapping[str, Any]) -> Result:
    """Record a succeeded Stripe refund once, as a negative payment on the invoice it refunds."""
    refund_id = refund.get("id") or ""
    status = refund.get("status")
    recorded = db.session.scalar(select(StripeRefund).where(StripeRefund.stripe_id == refund_id))
    if recorded is not None:
        if status in ("failed", "canceled"):
            invoice = recorded.payment.invoice
            return _problem(None, invoice.id, invoice.client_id, "refund_reversed", f"{refund_id} is {status}.")
        return _nothing("refund already recorded", recorded.payment.client_id)
    if status != "succeeded":
        return _nothing(f"refund {refund_id} is {status}")
    payment = _payment_for(_payment_intent_id(refund.get("payment_intent")))
    if payment is None:
        return _problem(None, None, None, "refund_unknown_payment",
                        f"{refund_id} refunds {refund.get('payment_intent')}, not a Clientela payment.")
    invoice = payment.invoice
    if (refund.get("currency") or "").lower() != (invoice.currency or "").lower():
        return _problem(None, invoice.id, invoice.client_id, "refund_refused",
                        f"{refund_id} is in {refund.get('currency')}, the invoice in {invoice.currency}.")
    try:
        adjustment = record_refund(payment, amount=Decimal(refund.get("amount") or 0).scaleb(-2),
                                   date=dt.date.today(), reference=f"Stripe {refund_id}")
    except BillingError as error:
        return _problem(None, invoice.id, invoice.client_id, "refund_refused", f"{refund_id}: {error.message}")
    db.session.add(StripeRefund(stripe_id=refund_id, payment_id=payment.id, adjustment_id=adjustment.id,
                                amount=-adjustment.amount))
    return _applied(f"refund {refund_id} recorded on invoice {invoice.number}", invoice.client_id)


def apply_charge_refunds(charge: Mapping[str, Any]) -> Result:
    """charge.refunded: apply each refund of the charge (listed from the API when the event
    does not carry them), each once by its id."""
    refunds = (charge.get("refunds") or {}).get("data")
    if refunds is None:
        listed = stripe_client().v1.refunds.list({"charge": charge.get("id"), "limit": 100})
        refunds = [refund.to_dict() for refund in listed.data]
    results = [apply_refund(refund) for refund in refunds]
    for result in results:
        if result.applied:
            return result
    return results[0] if results else _nothing(f"no refunds listed for {charge.get('id')}")


# ---------------------------------------------------------------- events

def handle_event(event: Mapping[str, Any]) -> Result:
    """Apply one verified webhook event. Checkout Sessions are re-read from Stripe, so an old or
    out-of-order event acts on the session as it is now."""
    kind = event.get("type", "")
    obj = (event.get("data") or {}).get("object") or {}
    if kind.startswith("checkout.session."):
        record = db.session.scalar(select(CheckoutSession.id).where(CheckoutSession.stripe_id == obj.get("id")))
        if record is None:  # never ask Stripe about sessions that are not ours
            return _problem(None, None, None, "unknown_session",
                            f"{kind} for Checkout Session {obj.get('id')}, not created by Clientela.")
        if kind in CHECKOUT_EVENTS or kind == "checkout.session.expired":
            return fulfil_checkout_session(retrieve_session(obj["id"]))
        if kind == "checkout.session.async_payment_failed":
            return fail_checkout_session(obj)
    if kind == "charge.refunded":
        return apply_charge_refunds(obj)
    if kind in REFUND_EVENTS:
        return apply_refund(obj)
    return _nothing(f"{kind} is not an event Clientela acts on")
