"""Totals: each line rounded half-up to the cent, tax per rate on that rate's net sum, never a float.

The property tests compare `app.billing.totals` with a reference written independently here
in exact fractions, on random lines; the worked examples pin known Italian results.
"""
from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from fractions import Fraction
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.billing import services as billing
from app.billing.totals import compute_totals, document_totals, line_amount
from app.extensions import db
from app.money import round_cents, to_decimal
from tests.support.factories import line, make_client, make_invoice, make_quote

# --- an independent reference: exact fractions, half-up by hand ------------------------------


def half_up_cents(value: Fraction) -> Fraction:
    """Round to the cent, halves away from zero (the Italian and commercial rule)."""
    cents = value * 100
    sign = -1 if cents < 0 else 1
    whole, rest = divmod(abs(cents), 1)
    return Fraction(sign * (int(whole) + (1 if rest >= Fraction(1, 2) else 0)), 100)


def reference_line(quantity: Decimal, price: Decimal, discount: Decimal) -> Fraction:
    return half_up_cents(Fraction(quantity) * Fraction(price) * (1 - Fraction(discount) / 100))


def reference_totals(lines) -> tuple[Fraction, Fraction, dict[Fraction, Fraction]]:
    taxable: dict[Fraction, Fraction] = defaultdict(Fraction)
    for item in lines:
        taxable[Fraction(item.tax_rate)] += reference_line(item.quantity, item.unit_price, item.discount)
    taxes = {rate: half_up_cents(amount * rate / 100) for rate, amount in taxable.items()}
    return sum(taxable.values(), Fraction(0)), sum(taxes.values(), Fraction(0)), taxes


# --- strategies: the values a form or the API accepts ----------------------------------------

quantities = st.decimals(min_value=0, max_value=100000, places=3, allow_nan=False, allow_infinity=False)
prices = st.decimals(min_value=-100000, max_value=1000000, places=2, allow_nan=False, allow_infinity=False)
discounts = st.decimals(min_value=0, max_value=100, places=2, allow_nan=False, allow_infinity=False)
rates = st.sampled_from([Decimal("0"), Decimal("4"), Decimal("5"), Decimal("10"), Decimal("22"), Decimal("22.00"),
                         Decimal("8.5"), Decimal("19"), Decimal("20")])
lines_strategy = st.lists(
    st.builds(SimpleNamespace, quantity=quantities, unit_price=prices, discount=discounts, tax_rate=rates),
    min_size=0,
    max_size=12,
)


def is_cents(value: Decimal) -> bool:
    return isinstance(value, Decimal) and value == value.quantize(Decimal("0.01")) and value.as_tuple().exponent == -2


@given(quantity=quantities, price=prices, discount=discounts)
def test_a_line_amount_is_quantity_times_price_less_discount_rounded_half_up_to_cents(quantity, price, discount):
    amount = line_amount(quantity, price, discount)
    assert is_cents(amount)
    assert Fraction(amount) == reference_line(quantity, price, discount)


@given(lines=lines_strategy)
def test_tax_is_computed_per_rate_on_that_rates_net_sum_and_total_is_net_plus_tax(lines):
    totals = compute_totals(lines)
    subtotal, tax_total, taxes = reference_totals(lines)
    assert Fraction(totals.subtotal) == subtotal
    assert Fraction(totals.tax_total) == tax_total
    assert totals.total == totals.subtotal + totals.tax_total
    assert {Fraction(t.rate): Fraction(t.tax) for t in totals.taxes} == taxes
    for value in (totals.subtotal, totals.tax_total, totals.total, *(t.tax for t in totals.taxes)):
        assert is_cents(value)


@given(lines=lines_strategy)
def test_the_tax_summary_has_one_row_per_rate_however_the_rate_is_written(lines):
    totals = compute_totals(lines)
    assert len(totals.taxes) == len({Decimal(item.tax_rate) for item in lines})
    assert sum((t.taxable for t in totals.taxes), Decimal(0)) == totals.subtotal


def test_money_is_never_a_float():
    with pytest.raises(TypeError):
        line_amount(1.5, "10.00")
    with pytest.raises(TypeError):
        to_decimal(0.1)


def test_decimal_strings_go_in_with_a_point_or_an_italian_comma():
    assert line_amount("2", "10,55") == Decimal("21.10")
    assert line_amount(" 1.5 ", "3.33", "10") == Decimal("4.50")


def test_half_a_cent_rounds_up_and_a_negative_half_cent_rounds_away_from_zero():
    assert round_cents(Decimal("0.125")) == Decimal("0.13")
    assert round_cents(Decimal("-0.125")) == Decimal("-0.13")
    assert line_amount("1", "0.05", "50") == Decimal("0.03")  # 0.025


# --- worked Italian examples ------------------------------------------------------------------


def item(quantity, price, rate="22", discount="0"):
    return SimpleNamespace(quantity=Decimal(quantity), unit_price=Decimal(price), tax_rate=Decimal(rate),
                           discount=Decimal(discount))


def test_one_hundred_euro_at_22_percent_is_122():
    totals = compute_totals([item("1", "100.00")])
    assert (totals.subtotal, totals.tax_total, totals.total) == (Decimal("100.00"), Decimal("22.00"), Decimal("122.00"))


def test_vat_is_rounded_once_on_the_rates_sum_not_line_by_line():
    # Three lines of 0.10 at 22%: per line 0.022 → 0.02 each (0.06), on the sum 0.30 × 22% = 0.066 → 0.07.
    totals = compute_totals([item("1", "0.10")] * 3)
    assert totals.tax_total == Decimal("0.07")
    assert totals.total == Decimal("0.37")


def test_a_mixed_rate_invoice_has_a_tax_summary_per_rate():
    # Consulenza 3 h × 80 at 22% less 10%; libri 2 × 15.50 at 4%; esente 50 at 0%.
    totals = compute_totals([
        item("3", "80.00", "22", "10"),
        item("2", "15.50", "4"),
        item("1", "50.00", "0"),
    ])
    assert [(t.rate, t.taxable, t.tax) for t in totals.taxes] == [
        (Decimal("0.00"), Decimal("50.00"), Decimal("0.00")),
        (Decimal("4.00"), Decimal("31.00"), Decimal("1.24")),
        (Decimal("22.00"), Decimal("216.00"), Decimal("47.52")),
    ]
    assert (totals.subtotal, totals.tax_total, totals.total) == (Decimal("297.00"), Decimal("48.76"), Decimal("345.76"))


def test_380_50_at_22_percent_is_464_21():
    totals = compute_totals([item("1", "380.50")])
    assert (totals.tax_total, totals.total) == (Decimal("83.71"), Decimal("464.21"))


def test_a_fractional_quantity_is_rounded_on_the_line():
    # 1.333 h × 45.00 = 59.985 → 59.99; VAT 22% of 59.99 = 13.1978 → 13.20.
    totals = compute_totals([item("1.333", "45.00")])
    assert (totals.subtotal, totals.tax_total, totals.total) == (Decimal("59.99"), Decimal("13.20"), Decimal("73.19"))


# --- stored totals follow every edit ----------------------------------------------------------


def stored_matches_recomputed(document) -> None:
    db.session.flush()
    db.session.expire_all()
    fresh = db.session.get(type(document), document.id)
    expected = document_totals(fresh)
    assert (fresh.subtotal, fresh.tax_total, fresh.total) == (expected.subtotal, expected.tax_total, expected.total)
    for stored_line in fresh.lines:
        assert stored_line.amount == line_amount(stored_line.quantity, stored_line.unit_price, stored_line.discount)
    if hasattr(fresh, "balance"):
        assert fresh.net_to_pay == expected.net_to_pay
        assert fresh.balance == fresh.net_to_pay - fresh.amount_paid - fresh.amount_credited


line_inputs = st.lists(
    st.builds(lambda q, p, d, r: line("Voce", q, p, r, d), quantities, prices, discounts, rates), min_size=1, max_size=5
)


@settings(max_examples=25, deadline=None)
@given(edits=st.lists(line_inputs, min_size=1, max_size=3))
def test_stored_totals_equal_recomputed_totals_after_any_edit(app, edits):
    invoice = make_invoice()
    quote = make_quote(invoice.client)
    for lines in edits:
        billing.set_lines(invoice, lines)
        billing.set_lines(quote, lines)
        stored_matches_recomputed(invoice)
        stored_matches_recomputed(quote)
    db.session.rollback()


def test_stored_money_reads_back_as_decimal_strings(app):
    invoice = make_invoice(lines=[line("Sito", "1", "380.50")])
    db.session.commit()
    db.session.expire_all()
    fresh = db.session.get(type(invoice), invoice.id)
    assert isinstance(fresh.total, Decimal)
    assert str(fresh.total) == "464.21"
    assert str(fresh.lines[0].unit_price) == "380.50"
