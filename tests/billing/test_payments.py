"""Manual payments move an invoice's status and balance; bad or excessive amounts change nothing."""
from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.activity.models import Activity
from app.billing import services as billing
from app.billing.models import Invoice, Payment
from app.billing.services import BillingError
from app.extensions import db
from tests.support.factories import make_invoice, run_concurrently


def payments_count(invoice: Invoice) -> int:
    return db.session.scalar(select(func.count()).select_from(Payment).where(Payment.invoice_id == invoice.id))


def test_a_partial_payment_makes_the_invoice_partial_and_lowers_the_balance(app):
    invoice = make_invoice(finalize=True)
    payment = billing.record_payment(invoice, amount="50.00", date=dt.date(2026, 5, 10), method="cash",
                                     reference=" ricevuta 12 ")
    assert invoice.status == "partial"
    assert (invoice.amount_paid, invoice.balance) == (Decimal("50.00"), Decimal("72.00"))
    assert (payment.amount, payment.method, payment.reference) == (Decimal("50.00"), "cash", "ricevuta 12")
    assert payment.client_id == invoice.client_id


def test_paying_the_balance_makes_the_invoice_paid(app):
    invoice = make_invoice(finalize=True)
    billing.record_payment(invoice, amount="22.00")
    billing.record_payment(invoice, amount="100.00")
    db.session.commit()
    db.session.expire_all()
    fresh = db.session.get(Invoice, invoice.id)
    assert fresh.status == "paid"
    assert (fresh.amount_paid, fresh.balance) == (Decimal("122.00"), Decimal("0.00"))
    kinds = db.session.scalars(select(Activity.kind).where(Activity.invoice_id == invoice.id)).all()
    assert kinds.count("payment_recorded") == 2 and "invoice_paid" in kinds


def test_an_overpayment_is_refused_at_amount_and_nothing_changes(app):
    invoice = make_invoice(finalize=True)
    billing.record_payment(invoice, amount="100.00")
    with pytest.raises(BillingError) as error:
        billing.record_payment(invoice, amount="22.01")
    assert error.value.field == "amount"
    assert "22,00\xa0€" in str(error.value.message)  # the balance due, formatted for the reader
    assert (invoice.status, invoice.balance) == ("partial", Decimal("22.00"))
    assert payments_count(invoice) == 1


@pytest.mark.parametrize("amount", ["0", "0.00", "-5.00", "10.001", "abc", "", "NaN", "Infinity"])
def test_zero_negative_three_decimal_and_non_numeric_amounts_are_refused(app, amount):
    invoice = make_invoice(finalize=True)
    with pytest.raises(BillingError) as error:
        billing.record_payment(invoice, amount=amount)
    assert error.value.field == "amount"
    assert (invoice.status, invoice.balance) == ("sent", Decimal("122.00"))
    assert payments_count(invoice) == 0


def test_a_float_amount_is_refused(app):
    invoice = make_invoice(finalize=True)
    with pytest.raises(BillingError):
        billing.record_payment(invoice, amount=10.5)


def test_an_unknown_method_is_refused_at_method(app):
    invoice = make_invoice(finalize=True)
    with pytest.raises(BillingError) as error:
        billing.record_payment(invoice, amount="10.00", method="barter")
    assert error.value.field == "method"


@pytest.mark.parametrize("state", ["draft", "paid", "cancelled"])
def test_only_an_open_invoice_receives_payments(app, state):
    invoice = make_invoice(finalize=state != "draft")
    if state == "paid":
        billing.record_payment(invoice, amount="122.00")
    if state == "cancelled":
        billing.cancel_invoice(invoice)
    before = payments_count(invoice)
    with pytest.raises(BillingError) as error:
        billing.record_payment(invoice, amount="1.00")
    assert error.value.field == "amount"
    assert invoice.status == state
    assert payments_count(invoice) == before


def test_a_stripe_payment_intent_is_recorded_once(app):
    invoice = make_invoice(finalize=True)
    billing.record_payment(invoice, amount="10.00", method="stripe", stripe_payment_intent="pi_123")
    db.session.commit()
    with pytest.raises(Exception):
        billing.record_payment(invoice, amount="10.00", method="stripe", stripe_payment_intent="pi_123")
        db.session.commit()
    db.session.rollback()
    assert payments_count(invoice) == 1


@pytest.mark.postgres_only
def test_concurrent_payments_cannot_overpay(app):
    invoice_id = make_invoice(finalize=True).id  # 122.00
    db.session.commit()

    loaded = threading.Barrier(10)

    def pay(_index: int) -> str:
        # Each request has already loaded the invoice (and its payments) before any pays:
        # released together, a thread that starts late could otherwise read a paid invoice.
        stale = db.session.get(Invoice, invoice_id)
        assert stale.balance == Decimal("122.00") and stale.payments == []
        loaded.wait(timeout=30)
        try:
            billing.record_payment(stale, amount="20.00")
        except BillingError as error:
            return f"refused at {error.field}"
        db.session.commit()
        return "paid"

    outcomes = run_concurrently(app, 10, pay)
    assert sorted(map(str, outcomes)) == ["paid"] * 6 + ["refused at amount"] * 4
    db.session.expire_all()
    fresh = db.session.get(Invoice, invoice_id)
    assert (fresh.amount_paid, fresh.balance, fresh.status) == (Decimal("120.00"), Decimal("2.00"), "partial")
    assert payments_count(fresh) == 6
