"""What staff see of Stripe: every webhook event with what it did (or why it changed nothing),
and every Checkout Session opened. Read-only; readable with the Payment read permission."""
from __future__ import annotations

from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext

from app.fab.base import ClientelaModelView
from app.payments.models import CheckoutSession, CheckoutStatus, EventOutcome, StripeEvent
from app.security.roles import READ_WRITE

OUTCOME_LABELS = {EventOutcome.APPLIED.value: _l("Applied"), EventOutcome.NOTHING_TO_DO.value: _l("Nothing to do"),
                  EventOutcome.REFUSED.value: _l("Refused: to be checked")}
CHECKOUT_STATUS_LABELS = {
    CheckoutStatus.OPEN.value: lazy_pgettext("checkout", "Open"), CheckoutStatus.COMPLETE.value: _l("Paid"),
    CheckoutStatus.EXPIRED.value: _l("Expired"), CheckoutStatus.FAILED.value: _l("Failed"),
    CheckoutStatus.NEEDS_ATTENTION.value: _l("Needs attention"),
}


class StripeEventView(ClientelaModelView):
    datamodel = SQLAInterface(StripeEvent)
    class_permission_name = "Payment"
    method_permission_name = READ_WRITE
    base_permissions = ["can_read"]
    list_title = _l("Stripe events")
    show_title = _l("Stripe event")
    label_columns = {"event_id": _l("Event"), "type": _l("Type"), "outcome": _l("Outcome"), "detail": _l("Detail"),
                     "client": _l("Client"), "processed_at": _l("Received")}
    list_columns = ["processed_at", "type", "outcome", "detail", "client"]
    show_columns = ["processed_at", "event_id", "type", "outcome", "detail", "client"]
    search_columns = ["type", "outcome", "event_id"]
    order_columns = ["processed_at", "type", "outcome"]
    formatters_columns = {"outcome": lambda outcome: OUTCOME_LABELS.get(outcome, outcome)}
    base_order = ("processed_at", "desc")


class CheckoutSessionView(ClientelaModelView):
    datamodel = SQLAInterface(CheckoutSession)
    class_permission_name = "Payment"
    method_permission_name = READ_WRITE
    base_permissions = ["can_read"]
    list_title = _l("Stripe checkouts")
    show_title = _l("Stripe checkout")
    label_columns = {"created_at": _l("Opened"), "invoice": _l("Invoice"), "client": _l("Client"),
                     "amount_cents": _l("Amount (cents)"), "currency": _l("Currency"), "status": _l("Status"),
                     "detail": _l("Detail"), "stripe_id": _l("Stripe session"), "payment_intent": _l("PaymentIntent"),
                     "fulfilled_at": _l("Recorded")}
    list_columns = ["created_at", "invoice", "client", "amount_cents", "currency", "status", "detail"]
    show_columns = ["created_at", "stripe_id", "invoice", "client", "amount_cents", "currency", "status",
                    "payment_intent", "fulfilled_at", "detail"]
    search_columns = ["status", "stripe_id"]
    order_columns = ["created_at", "status"]
    formatters_columns = {"status": lambda status: CHECKOUT_STATUS_LABELS.get(status, status)}
    base_order = ("created_at", "desc")


def register(appbuilder) -> None:
    appbuilder.add_view(CheckoutSessionView, "Stripe checkouts", label=_l("Stripe checkouts"), icon="fa-credit-card",
                        category="Online payments", category_label=_l("Online payments"))
    appbuilder.add_view(StripeEventView, "Stripe events", label=_l("Stripe events"), icon="fa-bolt",
                        category="Online payments")
