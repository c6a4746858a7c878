"""The admin's forms read and show numbers and dates the way the reader writes them: products,
recurring schedules, company settings, and the date picker they share (app/fab/fields.py,
app/fab/widgets.py). A refused form comes back exactly as typed, dates included."""
from __future__ import annotations

import datetime as dt
import html
import re
from decimal import Decimal
from pathlib import Path

import pytest
from babel import Locale
from sqlalchemy import select

from app.company.services import get_company
from app.extensions import db
from app.products.models import Product
from app.recurring.models import RecurringInvoice
from tests.support.admin import settings_form
from tests.support.browser import sign_in_staff
from tests.support.factories import login, make_client, make_staff_user

DATEPICKER_IT = Path(__file__).resolve().parents[2] / "app" / "static" / "admin" / "datepicker-it.js"


def _staff(web, role: str, language: str):
    login(web, make_staff_user(role).username)
    web.get(f"/lang/{language}")
    return web


@pytest.fixture
def italian(web):
    return _staff(web, "Admin", "it")


@pytest.fixture
def english(web):
    return _staff(web, "Admin", "en")


def value_of(page: str, name: str) -> str:
    """What the form's input `name` shows (its value attribute)."""
    tag = re.search(rf'<input[^>]*\bname="{re.escape(name)}"[^>]*>', page)
    assert tag, f"no input {name}"
    value = re.search(r'\bvalue="([^"]*)"', tag.group(0))
    return html.unescape(value.group(1)) if value else ""


def errors_of(page: str) -> str:
    """The fields' error boxes, as one text."""
    boxes = re.findall(r'<div class="alert alert-danger">(.*?)</div>', page, re.DOTALL)
    return html.unescape(" ".join(" ".join(box.split()) for box in boxes))


# --- products -----------------------------------------------------------------------------


def product_form(**fields) -> dict[str, str]:
    return {"name": "Canone assistenza", "description": "", "unit": "mese", "unit_price": "250",
            "tax_rate": "22", "vat_nature": "", **fields}


def test_a_product_takes_an_italian_price_and_rate_and_shows_them_back_in_italian(italian):
    response = italian.post("/productview/add", data=product_form(unit_price="1.355,25", tax_rate="12,5"))
    assert response.status_code == 302, errors_of(response.get_data(as_text=True))
    product = db.session.scalars(select(Product)).one()
    assert (product.unit_price, product.tax_rate) == (Decimal("1355.25"), Decimal("12.5"))

    page = italian.get(f"/productview/edit/{product.id}").get_data(as_text=True)
    assert (value_of(page, "unit_price"), value_of(page, "tax_rate")) == ("1.355,25", "12,5")
    shown = italian.get("/productview/list/").get_data(as_text=True)
    assert "1.355,25" in shown and "12,5" in shown and "12.50" not in shown


@pytest.mark.parametrize(("typed", "stored"), [("1355,25", "1355.25"), ("1355.25", "1355.25"), ("1.355", "1355")])
def test_an_italian_price_may_be_typed_without_grouping_or_with_the_keypads_dot(italian, typed, stored):
    assert italian.post("/productview/add", data=product_form(unit_price=typed)).status_code == 302
    assert db.session.scalars(select(Product)).one().unit_price == Decimal(stored)


def test_a_product_form_in_english_reads_and_shows_english_notation(english):
    response = english.post("/productview/add", data=product_form(unit_price="1,355.25", tax_rate="12.5"))
    assert response.status_code == 302
    product = db.session.scalars(select(Product)).one()
    assert (product.unit_price, product.tax_rate) == (Decimal("1355.25"), Decimal("12.5"))
    page = english.get(f"/productview/edit/{product.id}").get_data(as_text=True)
    assert (value_of(page, "unit_price"), value_of(page, "tax_rate")) == ("1,355.25", "12.5")


def test_a_refused_product_keeps_what_was_typed_and_says_it_once_with_an_italian_example(italian):
    response = italian.post("/productview/add", data=product_form(name="", unit_price="1.355,25", tax_rate="22x"))
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and db.session.scalars(select(Product)).all() == []
    assert (value_of(page, "name"), value_of(page, "unit_price"), value_of(page, "tax_rate")) == ("", "1.355,25", "22x")
    errors = errors_of(page)
    assert "Scrivi un numero come 1.355,25." in errors
    assert "percentuale" not in errors  # the rate's range check does not repeat the same error

    response = italian.post("/productview/add", data=product_form(unit_price="12,345"))
    assert "Il prezzo unitario deve essere un importo come 120,50." in errors_of(response.get_data(as_text=True))


def test_the_api_still_reads_canonical_numbers_and_cites_them_canonically(web):
    from tests.support.api import api_headers

    headers = api_headers(web, "Billing", language="it")
    response = web.post("/api/v1/product/", json={"name": "Corso", "unit_price": "1,355.25", "tax_rate": "22"},
                        headers=headers)
    assert response.status_code == 422
    assert response.get_json()["message"]["unit_price"] == ["Il prezzo unitario deve essere un importo come 120.50."]
    response = web.post("/api/v1/product/", json={"name": "Corso", "unit_price": "1355.25", "tax_rate": "22"},
                        headers=headers)
    assert response.status_code == 201, response.get_json()
    assert db.session.scalars(select(Product)).one().unit_price == Decimal("1355.25")


# --- recurring invoices -------------------------------------------------------------------


def schedule_form(**fields) -> dict[str, str]:
    return {"frequency": "monthly", "start_date": "15/12/2026", "end_date": "", "notes": "",
            "lines-0-description": "Canone", "lines-0-quantity": "1", "lines-0-unit_price": "500",
            "lines-0-discount": "0", "lines-0-tax_rate": "22", "lines-0-product_id": "", **fields}


@pytest.mark.parametrize(("language", "typed", "shown"), [
    ("it", ("15/12/2026", "31/12/27"), ("15/12/2026", "31/12/2027")),
    ("en", ("12/15/2026", "2027-12-31"), ("12/15/2026", "12/31/2027")),
])
def test_a_schedule_takes_dates_in_the_readers_pattern_and_shows_them_back_so(web, language, typed, shown):
    staff = _staff(web, "Billing", language)
    client = make_client()
    db.session.commit()
    response = staff.post(f"/recurringinvoiceview/add?client_id={client.id}",
                          data=schedule_form(start_date=typed[0], end_date=typed[1]))
    assert response.status_code == 302, errors_of(response.get_data(as_text=True))
    made = db.session.scalars(select(RecurringInvoice)).one()
    assert (made.start_date, made.end_date, made.next_date) == (dt.date(2026, 12, 15), dt.date(2027, 12, 31),
                                                                dt.date(2026, 12, 15))
    page = staff.get(f"/recurringinvoiceview/edit/{made.id}").get_data(as_text=True)
    assert (value_of(page, "start_date"), value_of(page, "end_date")) == shown


def test_a_new_schedule_offers_today_in_the_readers_pattern(italian):
    client = make_client()
    db.session.commit()
    page = italian.get(f"/recurringinvoiceview/add?client_id={client.id}").get_data(as_text=True)
    assert value_of(page, "start_date") == dt.date.today().strftime("%d/%m/%Y")


@pytest.mark.parametrize("refusal", [
    {"end_date": "31/02/2027"},           # an impossible end date
    {"end_date": "01/12/2026"},           # an end before the start (the rule, not the field)
    {"lines-0-description": ""},          # a line without description
    {"lines-0-unit_price": "abc"},        # a line's bad amount
])
def test_a_refused_schedule_comes_back_with_every_date_as_typed_never_today(italian, refusal):
    client = make_client()
    db.session.commit()
    form = schedule_form(**{"start_date": "15/12/2026", "end_date": "31/12/2027", "notes": "Nota lunga\nsu due righe",
                            **refusal})
    response = italian.post(f"/recurringinvoiceview/add?client_id={client.id}", data=form)
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and db.session.scalars(select(RecurringInvoice)).all() == []
    assert value_of(page, "start_date") == "15/12/2026"
    assert value_of(page, "end_date") == form["end_date"]
    assert value_of(page, "start_date") != dt.date.today().strftime("%d/%m/%Y")
    assert "Nota lunga\nsu due righe" in html.unescape(page)


def test_an_unreadable_date_says_how_to_write_it_once(italian):
    client = make_client()
    db.session.commit()
    page = italian.post(f"/recurringinvoiceview/add?client_id={client.id}",
                        data=schedule_form(start_date="15 dicembre")).get_data(as_text=True)
    assert value_of(page, "start_date") == "15 dicembre"
    errors = errors_of(page)
    assert errors.count("Scrivi una data come gg/mm/aaaa.") == 1 and "YYYY-MM-DD" not in errors


def test_a_schedules_lines_show_quantities_rates_and_prices_in_italian(italian):
    from app.recurring import services as recurring
    from tests.support.factories import line

    made = recurring.create_schedule(make_client(), {"start_date": dt.date(2026, 12, 15), "lines": [
        line("Assistenza", quantity="2.5", unit_price="1355.25", discount="10", tax_rate="22")]})
    db.session.commit()
    page = italian.get(f"/recurringinvoiceview/show/{made.id}").get_data(as_text=True)
    row = re.search(r"<td>\s*Assistenza\s*</td>(.*?)</tr>", page, re.DOTALL).group(1)
    cells = [" ".join(cell.split()) for cell in re.findall(r"<td>(.*?)</td>", row, re.DOTALL)]
    assert cells[:4] == ["2,5", "1.355,25 €", "10", "22"], cells
    assert "15 dic 2026" in page


# --- company settings ---------------------------------------------------------------------


def test_company_rates_take_italian_decimals_and_show_them_back_in_italian(italian):
    get_company()
    db.session.commit()
    response = italian.post("/companysettingsview/edit/1", data=settings_form(
        default_tax_rate="5,5", withholding_rate="20", pension_fund_type="TC22", pension_fund_rate="4",
        pension_fund_tax_rate="22"))
    assert response.status_code == 302, errors_of(response.get_data(as_text=True))
    db.session.expire_all()
    company = get_company()
    assert (company.default_tax_rate, company.withholding_rate, company.pension_fund_rate) == (
        Decimal("5.5"), Decimal(20), Decimal(4))
    page = italian.get("/companysettingsview/edit/1").get_data(as_text=True)
    assert (value_of(page, "default_tax_rate"), value_of(page, "withholding_rate")) == ("5,5", "20")
    assert "oltre 77,47 EUR" in page and "77.47" not in page


def test_company_rates_in_english(english):
    get_company()
    db.session.commit()
    response = english.post("/companysettingsview/edit/1", data=settings_form(default_tax_rate="5.5"))
    assert response.status_code == 302, errors_of(response.get_data(as_text=True))
    db.session.expire_all()
    assert get_company().default_tax_rate == Decimal("5.5")
    page = english.get("/companysettingsview/edit/1").get_data(as_text=True)
    assert value_of(page, "default_tax_rate") == "5.5" and "over 77.47 EUR" in page


def test_refused_company_settings_keep_every_typed_number(italian):
    get_company()
    db.session.commit()
    response = italian.post("/companysettingsview/edit/1", data=settings_form(
        default_tax_rate="5,5", withholding_rate="venti", pension_fund_rate="150"))
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert (value_of(page, "default_tax_rate"), value_of(page, "withholding_rate"),
            value_of(page, "pension_fund_rate")) == ("5,5", "venti", "150")
    errors = errors_of(page)
    assert errors.count("Scrivi un numero come 1.355,25.") == 1
    db.session.expire_all()
    assert get_company().default_tax_rate == Decimal(22)


# --- the date picker ----------------------------------------------------------------------


def test_the_date_picker_writes_the_italian_pattern_with_italian_names(italian):
    client = make_client()
    db.session.commit()
    page = italian.get(f"/recurringinvoiceview/add?client_id={client.id}").get_data(as_text=True)
    picker = re.search(r'<div[^>]*clientela-date[^>]*>\s*<input[^>]*name="start_date"[^>]*>', page).group(0)
    for attribute in ('data-provide="datepicker"', 'data-date-format="dd/mm/yyyy"', 'data-date-language="it"',
                      'data-date-week-start="1"', 'data-date-force-parse="false"', 'placeholder="gg/mm/aaaa"'):
        assert attribute in picker
    assert "appbuilder_date" not in picker  # FAB's ab.js would make it an ISO picker
    script = re.search(r'<script src="([^"]*datepicker-it\.js)"', page).group(1)
    assert page.index("bootstrap-datepicker.min.js") < page.index(script)
    assert italian.get(script).status_code == 200


def test_the_date_picker_in_english_writes_month_first(english):
    client = make_client()
    db.session.commit()
    page = english.get(f"/recurringinvoiceview/add?client_id={client.id}").get_data(as_text=True)
    picker = re.search(r'<div[^>]*clientela-date[^>]*>\s*<input[^>]*name="start_date"[^>]*>', page).group(0)
    for attribute in ('data-date-format="mm/dd/yyyy"', 'data-date-language="en"', 'placeholder="mm/dd/yyyy"'):
        assert attribute in picker


def test_the_pickers_italian_names_are_cldrs():
    script = DATEPICKER_IT.read_text(encoding="utf-8")
    italian = Locale.parse("it")

    def listed(key: str) -> list[str]:
        return re.findall(r'"([^"]+)"', re.search(rf"\b{key}: \[([^\]]*)\]", script).group(1))

    assert listed("months") == [italian.months["format"]["wide"][month] for month in range(1, 13)]
    assert listed("monthsShort") == [italian.months["format"]["abbreviated"][month] for month in range(1, 13)]
    # bootstrap-datepicker counts from Sunday, Babel from Monday.
    assert listed("days") == [italian.days["format"]["wide"][(day + 6) % 7] for day in range(7)]
    assert listed("daysShort") == [italian.days["format"]["abbreviated"][(day + 6) % 7] for day in range(7)]


@pytest.mark.browser
def test_in_chromium_the_picker_speaks_italian_and_writes_what_it_shows(live_server, browser_page):
    page = browser_page
    staff = make_staff_user("Billing")
    client = make_client()
    db.session.commit()
    sign_in_staff(page, live_server, staff.username)
    page.goto(f"{live_server}/lang/it")

    page.goto(f"{live_server}/recurringinvoiceview/add?client_id={client.id}")
    start = page.locator("input[name=start_date]")
    assert start.input_value() == dt.date.today().strftime("%d/%m/%Y")
    start.click()
    start.fill("01/03/2027")
    start.press("End")  # a key the picker reads the typed date on
    picker = page.locator(".datepicker-dropdown .datepicker-days")
    picker.wait_for(state="visible")
    assert picker.locator("th.datepicker-switch").inner_text() == "marzo 2027"
    assert picker.locator("th.dow").all_inner_texts() == ["lu", "ma", "me", "gi", "ve", "sa", "do"]
    picker.locator("td.day:not(.old):not(.new)", has_text="15").first.click()
    assert start.input_value() == "15/03/2027"

    # Typed text the picker cannot read is left as typed (the server says how to write it).
    end = page.locator("input[name=end_date]")
    end.fill("fine marzo")
    page.locator("textarea[name=notes]").click()
    assert end.input_value() == "fine marzo"
