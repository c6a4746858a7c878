"""Random steps through the billing rules, for the seeded stories that check a rollup
against the documents after every step (tests/billing/test_client_accounts.py, test_home_rollups.py)."""
from __future__ import annotations

import random
from decimal import Decimal

from sqlalchemy import select

from app.billing import services as billing
from app.billing.models import Payment, Quote
from app.extensions import db
from tests.support.factories import TODAY


class DocumentStory:
    """Steps shared by the stories; each picks its document with the story's seeded random."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def some(self, model, *conditions):
        rows = db.session.scalars(select(model).where(*conditions).order_by(model.id)).all()
        return self.rng.choice(rows) if rows else None

    def refund(self) -> None:
        if payment := self.some(Payment, Payment.refunded_payment_id.is_(None)):
            refunded = -sum((p.amount for p in db.session.scalars(
                select(Payment).where(Payment.refunded_payment_id == payment.id))), Decimal(0))
            left = payment.amount - refunded
            if left > 0:
                billing.record_refund(payment, amount=min(left, Decimal(self.rng.randint(1, 100))))

    def send_quote(self) -> None:
        if quote := self.some(Quote, Quote.status == "draft"):
            billing.finalize_quote(quote)

    def decide_quote(self) -> None:
        if quote := self.some(Quote, Quote.status == "sent", Quote.valid_until >= TODAY):
            billing.decide_quote(quote, accepted=self.rng.random() < 0.5)

    def convert_quote(self) -> None:
        quote = self.some(Quote, Quote.status == "accepted")
        if quote and not quote.invoices:
            billing.convert_quote(quote)

    def expire_quotes(self) -> None:
        billing.expire_quotes()
