"""The client rule: tax IDs for the client's country, Italian address parts, SDI and PEC.

Each invalid value gets a translated message at its own field; valid values come back
normalized, the way they are printed on invoices.
"""
from __future__ import annotations

import pytest
from flask_babel import force_locale
from flask_babel.speaklater import LazyString

from app.clients.validation import clean_client_fields
from tests.support.factories import VALID_CODICE_FISCALE


def business(**fields) -> dict[str, object]:
    return {"name": "Rossi S.r.l.", "kind": "business", "email": "amministrazione@rossi.it", "country": "IT",
            "vat_number": "12345670017", **fields}


def individual(**fields) -> dict[str, object]:
    return {"name": "Mario Rossi", "kind": "individual", "email": "mario@rossi.it", "country": "IT",
            "tax_code": VALID_CODICE_FISCALE, **fields}


def errors_of(data) -> dict[str, str]:
    return {key: str(value) for key, value in clean_client_fields(data).errors.items()}


# --- Partita IVA and EU VAT numbers ---------------------------------------------------------


@pytest.mark.parametrize("raw", ["12345670017", "IT12345670017", "it 123 456 700 17", "IT-12345670017"])
def test_an_italian_vat_number_is_accepted_with_or_without_the_it_prefix_and_stored_as_11_digits(app, raw):
    result = clean_client_fields(business(vat_number=raw))
    assert result.ok, result.errors
    assert result.values["vat_number"] == "12345670017"


@pytest.mark.parametrize("raw", ["12345670018", "1234567001", "ABCDEFGHIJK", "DE136695976", "00000000000"])
def test_an_invalid_italian_vat_number_is_refused_at_vat_number(app, raw):
    assert set(errors_of(business(vat_number=raw))) == {"vat_number"}


@pytest.mark.parametrize("country, raw, stored", [
    ("DE", "DE136695976", "DE136695976"),
    ("DE", "136695976", "DE136695976"),
    ("FR", "fr 40 303 265 045", "FR40303265045"),
    ("ES", "ESA12345674", "ESA12345674"),
    ("AT", "ATU13585627", "ATU13585627"),
])
def test_an_eu_vat_number_is_checked_for_the_clients_country_and_kept_with_its_prefix(app, country, raw, stored):
    result = clean_client_fields(business(country=country, vat_number=raw, province="", postal_code=""))
    assert result.ok, result.errors
    assert result.values["vat_number"] == stored


@pytest.mark.parametrize("country, raw", [("DE", "DE136695977"), ("FR", "FR00303265045"), ("ES", "ES123")])
def test_an_invalid_eu_vat_number_is_refused_at_vat_number(app, country, raw):
    assert set(errors_of(business(country=country, vat_number=raw))) == {"vat_number"}


def test_a_vat_number_of_another_country_than_the_clients_is_refused(app):
    assert set(errors_of(business(country="DE", vat_number="FR40303265045"))) == {"vat_number"}


@pytest.mark.parametrize("raw", ["094259216", "EL094259216", "GR094259216"])
def test_a_greek_vat_number_uses_the_el_prefix(app, raw):
    result = clean_client_fields(business(country="GR", vat_number=raw))
    assert result.ok, result.errors
    assert result.values["vat_number"] == "EL094259216"


def test_an_italian_business_needs_a_vat_number(app):
    assert "vat_number" in errors_of(business(vat_number=""))


def test_a_client_outside_the_eu_may_have_any_tax_number(app):
    result = clean_client_fields(business(country="CH", vat_number="CHE-123.456.788 MWST"))
    assert result.ok, result.errors


# --- codice fiscale ---------------------------------------------------------------------------


def test_an_italian_individual_gives_a_valid_codice_fiscale_normalized_to_upper_case(app):
    result = clean_client_fields(individual(tax_code=" rssmra85t10a562s "))
    assert result.ok, result.errors
    assert result.values["tax_code"] == "RSSMRA85T10A562S"
    assert result.values["vat_number"] == ""


@pytest.mark.parametrize("raw", ["RSSMRA85T10A562X", "RSSMRA85T10A56", "12345670017", ""])
def test_an_italian_individual_without_a_valid_personal_codice_fiscale_is_refused_at_tax_code(app, raw):
    assert set(errors_of(individual(tax_code=raw))) == {"tax_code"}


def test_a_company_codice_fiscale_may_be_its_11_digits(app):
    result = clean_client_fields(business(tax_code="12345670017"))
    assert result.ok, result.errors


# --- address, SDI, PEC ------------------------------------------------------------------------


def test_italian_address_parts_are_normalized(app):
    result = clean_client_fields(business(postal_code=" 20121 ", province="mi", sdi_code="m5uxcr1",
                                          pec="Rossi@PEC.it"))
    assert result.ok, result.errors
    assert (result.values["postal_code"], result.values["province"], result.values["sdi_code"]) == (
        "20121", "MI", "M5UXCR1")
    assert result.values["pec"] == "Rossi@pec.it"


@pytest.mark.parametrize("field, value", [
    ("postal_code", "2012"), ("postal_code", "ABCDE"), ("province", "Milano"), ("province", "M1"),
    ("sdi_code", "ABC"), ("sdi_code", "ABCDEFGH"), ("sdi_code", "ABC-123"), ("pec", "non-una-pec"),
    ("email", "mario@"), ("email", ""), ("country", "Italia"), ("currency", "EURO"), ("language", "de"),
    ("name", "  "), ("kind", "alien"),
])
def test_each_invalid_value_is_refused_at_its_own_field(app, field, value):
    assert set(errors_of(business(**{field: value}))) == {field}


def test_a_foreign_address_keeps_its_own_postal_code_and_state(app):
    result = clean_client_fields(business(country="DE", vat_number="DE136695976", postal_code="10115",
                                          province="Berlin"))
    assert result.ok, result.errors
    assert result.values["province"] == "Berlin"


def test_an_empty_sdi_code_and_pec_are_allowed(app):
    assert clean_client_fields(business(sdi_code="", pec="")).ok


def test_several_errors_are_reported_together(app):
    assert set(errors_of(business(vat_number="123", postal_code="1", pec="x"))) == {"vat_number", "postal_code", "pec"}


def test_messages_go_through_babel_and_are_translated_when_read(app):
    error = clean_client_fields(business(vat_number="12345670018")).errors["vat_number"]
    assert isinstance(error, LazyString)  # rendered in the reader's language, wherever it is shown
    with force_locale("en"):
        assert "not a valid Italian VAT number" in str(error)
