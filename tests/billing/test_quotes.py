"""A quote's life: draft → sent → accepted | rejected | expired; an accepted quote becomes an invoice."""
from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.billing import services as billing
from app.billing.models import Invoice, Quote, QuoteLine
from app.billing.services import BillingError
from app.extensions import db
from tests.support.factories import TODAY, line, make_quote, run_concurrently


def accepted_quote(**options) -> Quote:
    quote = make_quote(finalize=True, **options)
    billing.decide_quote(quote, accepted=True)
    return quote


def test_a_new_quote_is_a_draft_valid_for_the_company_validity_period(app):
    quote = make_quote(issue_date=dt.date(2026, 5, 1))
    assert quote.status == "draft" and quote.number is None
    assert quote.valid_until == dt.date(2026, 5, 31)
    assert quote.total == Decimal("122.00")


def test_a_sent_quote_can_be_accepted_with_the_time_recorded(app):
    quote = accepted_quote()
    assert quote.status == "accepted"
    assert quote.decided_at is not None


def test_a_sent_quote_can_be_rejected_with_a_reason(app):
    quote = make_quote(finalize=True)
    billing.decide_quote(quote, accepted=False, reason="  Troppo caro  ")
    assert (quote.status, quote.decision_reason) == ("rejected", "Troppo caro")


@pytest.mark.parametrize("state", ["draft", "accepted", "rejected"])
def test_only_a_sent_quote_can_be_decided(app, state):
    quote = make_quote(finalize=state != "draft")
    if state != "draft":
        billing.decide_quote(quote, accepted=state == "accepted")
    with pytest.raises(BillingError) as error:
        billing.decide_quote(quote, accepted=True)
    assert error.value.field == "status"
    assert quote.status == state


def test_a_quote_past_its_validity_cannot_be_accepted(app):
    quote = make_quote(issue_date=TODAY - dt.timedelta(days=40), valid_until=TODAY - dt.timedelta(days=1),
                       finalize=True)
    with pytest.raises(BillingError):
        billing.decide_quote(quote, accepted=True)
    assert quote.status == "sent"


def test_expire_quotes_marks_only_sent_quotes_past_their_validity(app):
    past = {"issue_date": TODAY - dt.timedelta(days=40), "valid_until": TODAY - dt.timedelta(days=1)}
    stale = make_quote(**past, finalize=True)
    still_valid = make_quote(valid_until=TODAY, finalize=True)
    stale_draft = make_quote(**past)
    assert billing.expire_quotes() == 1
    assert (stale.status, still_valid.status, stale_draft.status) == ("expired", "sent", "draft")
    assert billing.expire_quotes() == 0


def test_a_sent_quotes_lines_are_locked(app):
    quote = make_quote(finalize=True)
    with pytest.raises(BillingError):
        billing.set_lines(quote, [line("Altro")])
    db.session.commit()
    quote.lines.append(QuoteLine(description="Extra", quantity=Decimal(1), unit_price=Decimal(1)))
    with pytest.raises(billing.LockedDocumentError):
        db.session.flush()
    db.session.rollback()


def test_an_accepted_quote_converts_into_a_draft_invoice_with_the_same_lines_and_a_link(app):
    quote = accepted_quote(lines=[line("Sito web", "1", "1500.00", discount="10"), line("Hosting", "12", "9.90")],
                           notes="Come da accordi")
    invoice = billing.convert_quote(quote)
    db.session.commit()
    assert invoice.status == "draft" and invoice.number is None
    assert invoice.quote_id == quote.id
    assert invoice.client_id == quote.client_id
    assert [(l.description, l.quantity, l.unit_price, l.discount, l.tax_rate) for l in invoice.lines] == [
        (l.description, l.quantity, l.unit_price, l.discount, l.tax_rate) for l in quote.lines
    ]
    assert (invoice.subtotal, invoice.total) == (quote.subtotal, quote.total)
    assert invoice.notes == "Come da accordi"
    assert quote.invoices == [invoice]


def test_a_quote_converts_only_once(app):
    quote = accepted_quote()
    billing.convert_quote(quote)
    db.session.commit()
    db.session.expire_all()
    with pytest.raises(BillingError) as error:
        billing.convert_quote(db.session.get(Quote, quote.id))
    assert error.value.field == "status"
    assert db.session.scalar(select(func.count()).select_from(Invoice).where(Invoice.quote_id == quote.id)) == 1


@pytest.mark.parametrize("state", ["draft", "sent", "rejected"])
def test_a_quote_that_was_not_accepted_does_not_convert(app, state):
    quote = make_quote(finalize=state != "draft")
    if state == "rejected":
        billing.decide_quote(quote, accepted=False)
    with pytest.raises(BillingError):
        billing.convert_quote(quote)
    assert quote.invoices == []


@pytest.mark.postgres_only
def test_converting_the_same_quote_concurrently_makes_one_invoice(app):
    quote_id = accepted_quote().id
    db.session.commit()

    loaded = threading.Barrier(6)

    def convert(_index: int) -> str:
        stale = db.session.get(Quote, quote_id)
        assert stale.invoices == []
        loaded.wait(timeout=30)  # every request has read the quote before any converts it
        try:
            billing.convert_quote(stale)
        except BillingError as error:
            return f"refused at {error.field}"
        db.session.commit()
        return "converted"

    outcomes = run_concurrently(app, 6, convert)
    assert sorted(map(str, outcomes)) == ["converted"] + ["refused at status"] * 5
    assert db.session.scalar(select(func.count()).select_from(Invoice).where(Invoice.quote_id == quote_id)) == 1
