"""Our own record of what happened with Stripe.

- `CheckoutSession`: every Checkout Session this app created. Only these can pay an invoice,
  and only for the amount and currency recorded here.
- `StripeEvent`: every verified webhook event, unique by Stripe's event id and written in the
  same transaction as its effect, so a redelivered event changes nothing. Events that changed
  nothing because something was wrong (unknown session, wrong amount…) keep the reason in
  `outcome`/`detail`, which staff read in the admin.
- `StripeRefund`: every Stripe refund applied, unique by Stripe's refund id, pointing at the
  negative Payment row (`billing.record_refund`) that gives the money back on the invoice.
"""
from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal

from flask_appbuilder import Model
from sqlalchemy import DateTime, ForeignKey, Integer, Numeric, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.billing.models import Invoice, Payment
from app.clients.models import Client, Contact
from app.money import MONEY_PRECISION


class CheckoutStatus(str, enum.Enum):
    OPEN = "open"  # created, the client may still be paying
    COMPLETE = "complete"  # paid and recorded as a Payment
    EXPIRED = "expired"  # Stripe closed it unpaid
    FAILED = "failed"  # an asynchronous payment method failed
    NEEDS_ATTENTION = "needs_attention"  # Stripe says paid but we could not record it: staff decide


class EventOutcome(str, enum.Enum):
    APPLIED = "applied"
    NOTHING_TO_DO = "nothing_to_do"  # already applied by another path, not paid yet, an event we ignore
    REFUSED = "refused"  # changed nothing because something did not match: staff should look


class CheckoutSession(Model):
    __tablename__ = "checkout_session"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    stripe_id: Mapped[str] = mapped_column(String(255), unique=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id"), index=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id", ondelete="SET NULL"), nullable=True,
                                                   index=True)
    amount_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    url: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default=CheckoutStatus.OPEN.value, index=True)
    payment_intent: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payment.id"), nullable=True, index=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())
    fulfilled_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)

    invoice: Mapped[Invoice] = relationship()
    client: Mapped[Client] = relationship()
    contact: Mapped[Contact | None] = relationship()
    payment: Mapped[Payment | None] = relationship()

    def __repr__(self) -> str:
        return self.stripe_id


class StripeEvent(Model):
    __tablename__ = "stripe_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(255), unique=True)
    type: Mapped[str] = mapped_column(String(100))
    outcome: Mapped[str] = mapped_column(String(20), default=EventOutcome.APPLIED.value, index=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    client_id: Mapped[int | None] = mapped_column(ForeignKey("client.id", ondelete="SET NULL"), nullable=True,
                                                  index=True)
    processed_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())

    client: Mapped[Client | None] = relationship()

    def __repr__(self) -> str:
        return f"{self.type} {self.event_id}"


class StripeRefund(Model):
    __tablename__ = "stripe_refund"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    stripe_id: Mapped[str] = mapped_column(String(255), unique=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payment.id"), index=True)  # the payment refunded
    adjustment_id: Mapped[int] = mapped_column(ForeignKey("payment.id"), index=True)  # the negative Payment row
    amount: Mapped[Decimal] = mapped_column(Numeric(*MONEY_PRECISION))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())

    payment: Mapped[Payment] = relationship(foreign_keys=[payment_id])
    adjustment: Mapped[Payment] = relationship(foreign_keys=[adjustment_id])
