"""The company settings page: one row, Admin only, every value checked before it is saved."""
from __future__ import annotations

import io
from decimal import Decimal

import pytest

from app.company.models import CompanySettings
from app.company.services import get_company
from app.extensions import db
from tests.support.admin import settings_form
from tests.support.factories import login, make_staff_user

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def admin(web):
    login(web, make_staff_user("Admin").username)
    web.get("/lang/en")  # assertions read the English messages
    return web


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
