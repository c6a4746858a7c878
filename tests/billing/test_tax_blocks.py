"""The Italian tax blocks: VAT natures, pension fund, withholding, stamp duty, split payment.

The pure rules (`app.billing.totals`) are checked on worked examples and, for random lines,
against an independent reference in exact fractions; the services' part (what a line may
say, what is fixed at finalization) through the real billing rules.
"""
from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from types import SimpleNamespace

import pytest
from flask_babel import force_locale
from hypothesis import given, settings
from hypothesis import strategies as st

from app.billing import services as billing
from app.billing.models import VAT_NATURES
from app.billing.natures import DEFAULT_REFERENCES, STAMP_DUTY_NATURES
from app.billing.signals import document_finalizing
from app.billing.totals import TaxTerms, compute_totals, document_totals, vat_summary
from app.clients.validation import clean_client_fields
from app.company.services import get_company
from app.errors import Refusal
from app.extensions import db
from tests.support.factories import line, make_client, make_invoice

D = Decimal


def item(quantity, price, rate="22", nature="", discount="0", reference=""):
    return SimpleNamespace(quantity=D(quantity), unit_price=D(price), discount=D(discount), tax_rate=D(rate),
                           vat_nature=nature, vat_nature_reference=reference)


# --- worked examples ---------------------------------------------------------------------------

def test_a_freelancer_with_inps_and_ritenuta():
    """1000 of fees, INPS 4 % (40, taxed at 22 %), ritenuta 20 % on 1040: the client pays 1060.80."""
    terms = TaxTerms(withholding_rate=D("20"), pension_fund_type="TC22", pension_fund_rate=D("4"),
                     pension_fund_tax_rate=D("22"))
    totals = compute_totals([item("1", "1000.00")], terms)
    assert totals.pension_fund_amount == D("40.00")
    assert [(b.rate, b.nature, b.taxable, b.tax) for b in totals.taxes] == [(D("22.00"), "", D("1040.00"), D("228.80"))]
    assert (totals.subtotal, totals.tax_total, totals.total) == (D("1000.00"), D("228.80"), D("1268.80"))
    assert totals.withholding_amount == D("208.00")
    assert totals.net_to_pay == D("1060.80")


def test_only_the_inps_contribution_is_subject_to_withholding():
    terms = TaxTerms(withholding_rate=D("20"), pension_fund_type="TC04", pension_fund_rate=D("4"),
                     pension_fund_tax_rate=D("22"))
    totals = compute_totals([item("1", "1000.00")], terms)
    assert totals.withholding_amount == D("200.00")  # 20 % of the fees alone
    assert totals.net_to_pay == D("1268.80") - D("200.00")


def test_a_forfettario_contribution_at_zero_takes_the_lines_nature_and_counts_for_stamp_duty():
    terms = TaxTerms(pension_fund_type="TC22", pension_fund_rate=D("4"), pension_fund_tax_rate=D("0"),
                     stamp_duty_auto=True, stamp_duty_charged=True)
    totals = compute_totals([item("1", "75.00", rate="0", nature="N2.2")], terms)
    # 75 + 3 = 78 without VAT: over 77.47, so 2.00 of stamp duty, charged as an N1 block.
    assert [(b.rate, b.nature, b.taxable) for b in totals.taxes] == [
        (D("0.00"), "N1", D("2.00")), (D("0.00"), "N2.2", D("78.00"))]
    assert totals.stamp_duty_amount == D("2.00")
    assert totals.total == totals.net_to_pay == D("80.00")


@pytest.mark.parametrize(("amount", "stamp"), [("77.47", "0.00"), ("77.48", "2.00")])
def test_stamp_duty_is_due_above_77_47_without_vat(amount, stamp):
    terms = TaxTerms(stamp_duty_auto=True, stamp_duty_charged=False)
    totals = compute_totals([item("1", amount, rate="0", nature="N4"), item("1", "500.00")], terms)
    assert totals.stamp_duty_amount == D(stamp)
    assert totals.total == D(amount) + D("610.00")  # not charged: the company pays it


@pytest.mark.parametrize("nature", ["N3.1", "N3.2", "N6.3", "N7"])
def test_exports_intra_eu_supplies_and_reverse_charge_carry_no_stamp_duty(nature):
    terms = TaxTerms(stamp_duty_auto=True, stamp_duty_charged=True)
    assert compute_totals([item("1", "5000.00", rate="0", nature=nature)], terms).stamp_duty_amount == 0


def test_stamp_duty_off_is_never_applied():
    terms = TaxTerms(stamp_duty_auto=False, stamp_duty_charged=True)
    assert compute_totals([item("1", "5000.00", rate="0", nature="N4")], terms).stamp_duty_amount == 0


def test_under_split_payment_the_client_pays_the_taxable_amount():
    totals = compute_totals([item("2", "500.00")], TaxTerms(split_payment=True))
    assert (totals.total, totals.tax_total, totals.net_to_pay) == (D("1220.00"), D("220.00"), D("1000.00"))


def test_one_summary_block_per_rate_and_nature_citing_a_lines_reference_else_the_default():
    lines = [item("1", "100", rate="0", nature="N4"), item("1", "50", rate="0", nature="N2.1"),
             item("1", "10", rate="0", nature="N4", reference="Art. 10 n. 20"), item("1", "100")]
    blocks = compute_totals(lines).taxes
    assert [(b.rate, b.nature, b.taxable) for b in blocks] == [
        (D("0.00"), "N2.1", D("50.00")), (D("0.00"), "N4", D("110.00")), (D("22.00"), "", D("100.00"))]
    assert blocks[0].nature_reference == DEFAULT_REFERENCES["N2.1"]
    assert blocks[1].nature_reference == "Art. 10 n. 20"  # the first reference a line of the block names


# --- the property: an independent reference in fractions --------------------------------------

def half_up(value: Fraction) -> Fraction:
    cents = value * 100
    sign = -1 if cents < 0 else 1
    whole, rest = divmod(abs(cents), 1)
    return Fraction(sign * (int(whole) + (1 if rest >= Fraction(1, 2) else 0)), 100)


rated = st.sampled_from([("22", ""), ("10", ""), ("4", ""), ("0", "N4"), ("0", "N2.2"), ("0", "N3.1"), ("0", "N6.3")])
lines_strategy = st.lists(
    st.builds(lambda q, p, r: item(q, p, *r),
              st.decimals(min_value=0, max_value=1000, places=3), st.decimals(min_value=0, max_value=5000, places=2),
              rated),
    min_size=1, max_size=8)
terms_strategy = st.builds(
    TaxTerms,
    withholding_rate=st.sampled_from([D("0"), D("20"), D("23"), D("4")]),
    pension_fund_type=st.sampled_from(["", "TC22", "TC04"]),
    pension_fund_rate=st.sampled_from([D("0"), D("4"), D("2")]),
    pension_fund_tax_rate=st.sampled_from([D("22")]),
    stamp_duty_auto=st.booleans(), stamp_duty_charged=st.booleans(), split_payment=st.booleans())


@settings(max_examples=200, deadline=None)
@given(lines=lines_strategy, terms=terms_strategy)
def test_totals_agree_with_an_independent_reference(lines, terms):
    totals = compute_totals(lines, terms)
    net = {}
    for line in lines:
        key = (Fraction(line.tax_rate), line.vat_nature)
        net[key] = net.get(key, 0) + half_up(Fraction(line.quantity) * Fraction(line.unit_price))
    subtotal = sum(net.values(), Fraction(0))
    fund = half_up(subtotal * Fraction(terms.pension_fund_rate) / 100) if terms.pension_fund_type else Fraction(0)
    net[(Fraction(22), "")] = net.get((Fraction(22), ""), 0) + fund
    vat_free = sum((v for (rate, nature), v in net.items() if rate == 0 and nature in STAMP_DUTY_NATURES), Fraction(0))
    stamp = Fraction(2) if terms.stamp_duty_auto and vat_free > Fraction("77.47") else Fraction(0)
    tax = sum((half_up(v * rate / 100) for (rate, _n), v in net.items()), Fraction(0))
    total = subtotal + fund + tax + (stamp if terms.stamp_duty_charged else 0)
    withheld_base = subtotal + (fund if terms.pension_fund_type == "TC22" else 0)
    withholding = half_up(withheld_base * Fraction(terms.withholding_rate) / 100)

    assert totals.subtotal == subtotal and totals.pension_fund_amount == fund
    assert totals.stamp_duty_amount == stamp and totals.tax_total == tax and totals.total == total
    assert totals.withholding_amount == withholding
    assert totals.net_to_pay == total - withholding - (tax if terms.split_payment else 0)
    # The summary is what the totals are made of (what the XML's DatiRiepilogo will say).
    assert sum((b.taxable + b.tax for b in totals.taxes), D(0)) == totals.total
    assert len({(b.rate, b.nature) for b in totals.taxes}) == len(totals.taxes)


# --- lines: natures ------------------------------------------------------------------------------

@pytest.mark.parametrize(("rate", "nature", "field_error"), [
    ("0", "", "needs a VAT nature"),
    ("22", "N4", "only for lines at 0 %"),
    ("0", "N2", "no longer accepted"),
    ("0", "N3", "no longer accepted"),
    ("0", "N6", "no longer accepted"),
    ("0", "N9", "Unknown VAT nature"),
])
def test_a_line_nature_is_checked_at_its_field(app, rate, nature, field_error):
    with pytest.raises(billing.BillingErrors) as refused:
        make_invoice(lines=[line("Voce", tax_rate=rate, vat_nature=nature)])
    assert set(refused.value.errors) == {"lines.0.vat_nature"}
    with force_locale("en"):
        assert field_error in str(refused.value.errors["lines.0.vat_nature"])


def test_every_current_nature_is_accepted_on_a_zero_rate_line(app):
    invoice = make_invoice(lines=[line(f"Voce {n}", tax_rate="0", vat_nature=n) for n in VAT_NATURES])
    assert [l.vat_nature for l in invoice.lines] == list(VAT_NATURES)


# --- clients -------------------------------------------------------------------------------------

def test_a_public_administration_has_a_six_character_office_code():
    base = {"name": "Comune di Prova", "kind": "public_administration", "email": "protocollo@comune.example",
            "country": "IT", "tax_code": "80012340016"}
    assert clean_client_fields({**base, "sdi_code": "UFABCD"}).ok
    assert "sdi_code" in clean_client_fields({**base, "sdi_code": "ABCDEFG"}).errors
    assert "sdi_code" in clean_client_fields({**base, "sdi_code": ""}).errors
    business = {"name": "Rossi", "kind": "business", "email": "a@b.it", "country": "IT", "vat_number": "12345670017"}
    assert "sdi_code" in clean_client_fields({**business, "sdi_code": "ABCDEF"}).errors


def test_italian_businesses_and_public_administrations_withhold_by_default_private_persons_never():
    business = clean_client_fields({"name": "R", "kind": "business", "email": "a@b.it", "vat_number": "12345670017"})
    person = clean_client_fields({"name": "M", "kind": "individual", "email": "m@b.it", "tax_code": "RSSMRA85T10A562S",
                                  "withholding_agent": True, "split_payment": True})
    foreign = clean_client_fields({"name": "G", "kind": "business", "email": "g@b.de", "country": "DE"})
    assert business.values["withholding_agent"] is True
    assert (person.values["withholding_agent"], person.values["split_payment"]) == (False, False)
    assert foreign.values["withholding_agent"] is False
    told = clean_client_fields({"name": "R", "kind": "business", "email": "a@b.it", "vat_number": "12345670017",
                                "withholding_agent": False})
    assert told.values["withholding_agent"] is False


# --- finalization fixes the blocks ------------------------------------------------------------

def freelancer_company():
    company = get_company()
    company.withholding_rate, company.withholding_type, company.withholding_reason = D("20"), "RT01", "A"
    company.pension_fund_type, company.pension_fund_rate, company.pension_fund_tax_rate = "TC22", D("4"), D("22")
    db.session.flush()
    return company


def test_finalizing_snapshots_the_company_settings_and_client_flags(app):
    company = freelancer_company()
    client = make_client(withholding_agent=True)
    invoice = make_invoice(client, lines=[line("Parcella", "1", "1000.00")], finalize=True)
    assert (invoice.withholding_rate, invoice.pension_fund_type) == (D("20.00"), "TC22")
    assert (invoice.total, invoice.withholding_amount, invoice.net_to_pay, invoice.balance) == (
        D("1268.80"), D("208.00"), D("1060.80"), D("1060.80"))
    # Later changes to the settings or the client never alter the issued invoice.
    company.withholding_rate, company.pension_fund_type = D("0"), ""
    client.withholding_agent, client.split_payment = False, True
    billing.record_payment(invoice, amount="60.80")
    db.session.flush()
    db.session.expire_all()
    assert (invoice.total, invoice.net_to_pay, invoice.balance, invoice.status) == (
        D("1268.80"), D("1060.80"), D("1000.00"), "partial")
    assert document_totals(invoice).net_to_pay == invoice.net_to_pay
    assert sum((b.tax for b in vat_summary(invoice)), D(0)) == invoice.tax_total


def test_a_private_person_is_never_withheld(app):
    freelancer_company()
    person = make_client(kind="individual")
    invoice = make_invoice(person, lines=[line("Parcella", "1", "1000.00")], finalize=True)
    assert invoice.withholding_amount == 0 and invoice.net_to_pay == invoice.total == D("1268.80")


def test_the_balance_counts_down_from_the_net_to_pay(app):
    freelancer_company()
    invoice = make_invoice(make_client(), lines=[line("Parcella", "1", "1000.00")], finalize=True)
    with pytest.raises(billing.BillingError) as refused:
        billing.record_payment(invoice, amount="1268.80")  # the total: more than is due
    assert refused.value.field == "amount"
    billing.record_payment(invoice, amount="1060.80")
    assert (invoice.balance, invoice.status) == (D("0.00"), "paid")


def test_a_zero_rate_contribution_needs_a_zero_rate_line(app):
    company = get_company()
    company.pension_fund_type, company.pension_fund_rate, company.pension_fund_tax_rate = "TC22", D("4"), D("0")
    invoice = make_invoice(lines=[line("Parcella", "1", "1000.00")])
    with pytest.raises(billing.BillingError) as refused:
        billing.finalize_invoice(invoice)
    assert refused.value.field == "lines" and invoice.number is None


def test_a_receiver_of_document_finalizing_can_refuse_before_a_number_is_taken(app):
    def refuse(document, **_kwargs):
        raise Refusal("SdI 00425", "number")

    invoice = make_invoice()
    document_finalizing.connect(refuse)
    try:
        with pytest.raises(Refusal):
            billing.finalize_invoice(invoice)
    finally:
        document_finalizing.disconnect(refuse)
    assert invoice.number is None and invoice.sequence is None
