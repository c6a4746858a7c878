"""The company settings page: one row, Admin only, every value checked before it is saved."""
from __future__ import annotations

import io
from decimal import Decimal

import pytest

from app.company.models import CompanySettings
from app.company.services import get_company
from app.extensions import db
from tests.support.factories import VALID_PARTITE_IVA, login, make_staff_user

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
VALID_IBAN = "IT60 X054 2811 1010 0000 0123 456"


@pytest.fixture
def admin(web):
    login(web, make_staff_user("Admin").username)
    web.get("/lang/en")  # assertions read the English messages
    return web


def settings_form(**overrides) -> dict[str, object]:
    data = {
        "legal_name": "Studio Bianchi S.r.l.", "address": "Corso Italia 10", "city": "Milano", "province": "MI",
        "postal_code": "20122", "country": "IT", "vat_number": VALID_PARTITE_IVA[0], "tax_code": "",
        "iban": VALID_IBAN, "bank_name": "Banca", "email": "info@bianchi.it", "phone": "", "website": "",
        "currency": "eur", "default_tax_rate": "22", "payment_terms_days": "30", "quote_validity_days": "30",
        "invoice_number_format": "{year}/{seq:04d}", "quote_number_format": "P{year}/{seq:04d}", "locale": "it",
        "sender_email": "", "support_email": "", "default_terms": "",
        "credit_note_number_format": "NC{year}/{seq:04d}", "regime_fiscale": "RF01", "withholding_rate": "0",
        "withholding_type": "RT01", "withholding_reason": "A", "pension_fund_type": "", "pension_fund_rate": "0",
        "pension_fund_tax_rate": "22", "stamp_duty": "auto", "stamp_duty_charged_to_client": "y",
        "einvoice_channel": "export", "sdi_pec_address": "sdi01@pec.fatturapa.it", "transmitter_id": "",
    }
    data.update(overrides)
    return data


def saved() -> CompanySettings:
    db.session.expire_all()
    return get_company()


def test_the_menu_entry_opens_the_one_settings_row(admin):
    response = admin.get("/companysettingsview/list/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/companysettingsview/edit/1")
    assert "La mia azienda S.r.l." in admin.get("/companysettingsview/edit/1").get_data(as_text=True)


def test_valid_settings_are_saved_normalized(admin):
    get_company()
    db.session.commit()
    response = admin.post("/companysettingsview/edit/1", data=settings_form(default_tax_rate="10"))
    assert response.status_code == 302
    company = saved()
    assert (company.legal_name, company.iban, company.currency) == (
        "Studio Bianchi S.r.l.", "IT60X0542811101000000123456", "EUR")
    assert company.default_tax_rate == Decimal("10.00")


@pytest.mark.parametrize("field, value, message", [
    ("vat_number", "12345678901", "This is not a valid Italian VAT number"),
    ("iban", "IT00 X054 2811 1010 0000 0123 456", "This is not a valid IBAN."),
    ("invoice_number_format", "{year}/0001", "The format needs {seq}"),
    ("quote_number_format", "P{anno}/{seq}", "Use only {year}, {yy} and {seq}"),
    ("default_tax_rate", "140", "The tax rate is a percentage between 0 and 100."),
    ("payment_terms_days", "-1", "Use a number of days between 0 and 365."),
])
def test_invalid_settings_are_refused_at_the_field_and_nothing_is_saved(admin, field, value, message):
    get_company()
    db.session.commit()
    response = admin.post("/companysettingsview/edit/1", data=settings_form(**{field: value}))
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and message in page
    assert 'value="Studio Bianchi S.r.l."' in page  # what was typed comes back
    assert saved().legal_name == "La mia azienda S.r.l."


def test_a_png_logo_is_stored_in_the_row(admin):
    get_company()
    db.session.commit()
    admin.post("/companysettingsview/edit/1", data=settings_form(logo=(io.BytesIO(PNG), "logo.png")),
               content_type="multipart/form-data")
    company = saved()
    assert (company.logo, company.logo_mime) == (PNG, "image/png")

    admin.post("/companysettingsview/edit/1", data=settings_form(), content_type="multipart/form-data")
    assert saved().logo == PNG  # no new file keeps the logo

    admin.post("/companysettingsview/edit/1", data=settings_form(remove_logo="y"), content_type="multipart/form-data")
    assert saved().logo is None


@pytest.mark.parametrize("content, message", [
    (b"<svg xmlns='http://www.w3.org/2000/svg'></svg>", "The logo must be a PNG or JPEG image."),
    (PNG + b"\x00" * (1024 * 1024), "The logo must be at most 1 MB."),
])
def test_a_logo_is_checked_by_content_and_size(admin, content, message):
    get_company()
    db.session.commit()
    response = admin.post("/companysettingsview/edit/1", data=settings_form(logo=(io.BytesIO(content), "logo.png")),
                          content_type="multipart/form-data")
    assert message in response.get_data(as_text=True)
    assert saved().logo is None


def test_the_settings_row_cannot_be_deleted(admin):
    get_company()
    db.session.commit()
    admin.post("/companysettingsview/delete/1")
    assert db.session.get(CompanySettings, 1) is not None
