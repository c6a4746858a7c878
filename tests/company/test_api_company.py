"""GET|PUT /api/v1/company/: Admin only; a PUT changes only what it names; errors per field."""
from __future__ import annotations

from decimal import Decimal

from app.company.services import get_company
from app.extensions import db
from tests.support.api import api_headers


def test_admin_reads_the_settings_with_the_einvoicing_defaults(web):
    response = web.get("/api/v1/company/", headers=api_headers(web, "Admin"))
    assert response.status_code == 200
    result = response.get_json()["result"]
    assert (result["regime_fiscale"], result["withholding_rate"], result["withholding_type"]) == ("RF01", "0.00", "RT01")
    assert (result["pension_fund_type"], result["pension_fund_tax_rate"], result["stamp_duty"]) == ("", "22.00", "auto")
    assert (result["einvoice_channel"], result["sdi_pec_address"]) == ("export", "sdi01@pec.fatturapa.it")
    assert result["stamp_duty_charged_to_client"] is True


def test_a_put_changes_only_the_fields_it_names(web):
    company = get_company()
    company.legal_name = "Studio Verdi"
    db.session.commit()
    response = web.put("/api/v1/company/", json={
        "regime_fiscale": "RF19", "withholding_rate": "20", "pension_fund_type": "TC22", "pension_fund_rate": "4",
        "einvoice_channel": "pec", "stamp_duty_charged_to_client": False,
    }, headers=api_headers(web, "Admin"))
    assert response.status_code == 200, response.get_json()
    result = response.get_json()["result"]
    assert (result["regime_fiscale"], result["withholding_rate"], result["legal_name"]) == ("RF19", "20.00", "Studio Verdi")
    db.session.expire_all()
    company = get_company()
    assert (company.pension_fund_type, company.pension_fund_rate, company.einvoice_channel) == ("TC22", Decimal("4.00"), "pec")
    assert company.stamp_duty_charged_to_client is False


def test_invalid_values_are_422_per_field_and_change_nothing(web):
    response = web.put("/api/v1/company/", json={
        "regime_fiscale": "RF03", "withholding_type": "RT09", "withholding_rate": "120", "pension_fund_type": "TC23",
        "stamp_duty": "sometimes", "einvoice_channel": "fax", "sdi_pec_address": "not an address",
        "vat_number": "123", "iban": "IT00", "invoice_number_format": "{nope}", "colour": "blue",
        "legal_name": "Cambiato",
    }, headers=api_headers(web, "Admin"))
    assert response.status_code == 422
    assert set(response.get_json()["message"]) == {
        "regime_fiscale", "withholding_type", "withholding_rate", "pension_fund_type", "stamp_duty",
        "einvoice_channel", "sdi_pec_address", "vat_number", "iban", "invoice_number_format", "colour"}
    db.session.expire_all()
    assert get_company().legal_name != "Cambiato"


def test_only_admin_reaches_the_company_settings(web):
    assert web.get("/api/v1/company/").status_code == 401
    headers = api_headers(web, "Billing")
    assert web.get("/api/v1/company/", headers=headers).status_code == 403
    assert web.put("/api/v1/company/", json={"regime_fiscale": "RF19"}, headers=headers).status_code == 403
