"""The product catalogue: its rules, its admin pages, its API, and lines that name a product."""
from __future__ import annotations

from decimal import Decimal

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from app.billing import services as billing
from app.billing.models import Invoice
from app.errors import Refusal
from app.extensions import db
from app.products.models import Product
from app.products.services import archive_product, create_product, update_product
from tests.support.factories import line, login, make_client, make_invoice, make_quote, make_staff_user
from tests.support.admin import line_form
from tests.support.api import api_headers, rison


def make_product(**fields) -> Product:
    data = {"name": "Canone assistenza", "description": "Assistenza mensile", "unit": "mese",
            "unit_price": "250.00", "tax_rate": "22"}
    data.update(fields)
    product = create_product(data)
    db.session.flush()
    return product


@pytest.fixture
def staff(web):
    login(web, make_staff_user("Billing").username)
    web.get("/lang/en")
    return web


# --- the rules ----------------------------------------------------------------------------


def test_a_product_at_zero_percent_needs_a_known_nature_and_a_taxed_one_has_none(app):
    with pytest.raises(Refusal) as refused:
        make_product(tax_rate="0")
    with force_locale("en"):
        assert refused.value.as_dict() == {"vat_nature": "A product with a zero VAT rate needs a nature "
                                                         "(N1 … N7): why no VAT is charged."}
    with pytest.raises(Refusal) as refused:
        make_product(tax_rate="0", vat_nature="N9")
    assert set(refused.value.as_dict()) == {"vat_nature"}
    with pytest.raises(Refusal) as refused:
        make_product(vat_nature="N2.2")
    assert set(refused.value.as_dict()) == {"vat_nature"}
    exempt = make_product(tax_rate="0", vat_nature="n4")
    assert (exempt.tax_rate, exempt.vat_nature) == (Decimal("0"), "N4")


def test_every_wrong_field_is_named_at_once_and_nothing_is_stored(app):
    with pytest.raises(Refusal) as refused:
        make_product(name="  ", unit_price="12,345", tax_rate="150")
    assert set(refused.value.as_dict()) == {"name", "unit_price", "tax_rate"}
    assert db.session.scalars(select(Product)).all() == []


def test_a_product_without_a_rate_takes_the_companys_default(app):
    assert make_product(tax_rate=None).tax_rate == Decimal("22.00")


def test_changing_a_product_changes_no_invoice_already_made(app):
    product = make_product()
    invoice = make_invoice(lines=[{"product_id": product.id, "quantity": "2"}])
    update_product(product, {"unit_price": "300.00", "description": "Assistenza 2027"})
    db.session.flush()
    db.session.expire_all()
    [only] = db.session.get(Invoice, invoice.id).lines
    assert (only.description, only.unit_price, only.amount) == ("Assistenza mensile", Decimal("250.00"),
                                                               Decimal("500.00"))


# --- lines that name a product --------------------------------------------------------------


def test_a_line_naming_a_product_takes_its_description_price_and_rate(app):
    product = make_product(tax_rate="10")
    invoice = make_invoice(lines=[{"product_id": product.id, "quantity": "3"}])
    [only] = invoice.lines
    assert (only.product_id, only.description, only.unit_price, only.tax_rate) == (
        product.id, "Assistenza mensile", Decimal("250.00"), Decimal("10"))
    assert (invoice.subtotal, invoice.tax_total, invoice.total) == (Decimal("750.00"), Decimal("75.00"),
                                                                    Decimal("825.00"))


def test_the_lines_own_values_win_over_the_products(app):
    product = make_product()
    quote = make_quote(lines=[{"product_id": str(product.id), "description": "Assistenza, sconto amici",
                               "unit_price": "200", "quantity": "1"}])
    [only] = quote.lines
    assert (only.description, only.unit_price, only.tax_rate) == ("Assistenza, sconto amici", Decimal("200"),
                                                                  Decimal("22"))


def test_an_archived_product_fills_no_new_line_but_stays_on_documents_that_have_it(app):
    product = make_product()
    quote = make_quote(lines=[{"product_id": product.id}], finalize=True)
    billing.decide_quote(quote, accepted=True)
    archive_product(product)
    db.session.flush()

    with pytest.raises(Refusal) as refused:
        make_invoice(lines=[{"product_id": product.id}])
    with force_locale("en"):
        assert refused.value.as_dict() == {"lines.0.product_id": "This product is archived: choose another one."}

    invoice = billing.convert_quote(quote)  # the quote's lines carry their own values
    assert [(line.product_id, line.description) for line in invoice.lines] == [(product.id, "Assistenza mensile")]


def test_an_unknown_product_is_an_error_at_the_line(app):
    with pytest.raises(Refusal) as refused:
        make_invoice(lines=[line(), {"product_id": 999999, "quantity": "1"}])
    with force_locale("en"):
        assert refused.value.as_dict()["lines.1.product_id"] == "There is no product with this id."


# --- the API --------------------------------------------------------------------------------


def test_the_api_creates_lists_and_changes_products_with_money_as_strings(web):
    headers = api_headers(web)
    response = web.post("/api/v1/product/", json={"name": "Sito web", "unit": "pz", "unit_price": 1200.5,
                                                  "tax_rate": "22"}, headers=headers)
    assert response.status_code == 201, response.get_json()
    created = response.get_json()["result"]
    assert {key: created[key] for key in ("name", "unit", "unit_price", "tax_rate", "vat_nature", "archived")} == {
        "name": "Sito web", "unit": "pz", "unit_price": "1200.50", "tax_rate": "22.00", "vat_nature": "",
        "archived": False}

    response = web.put(f"/api/v1/product/{created['id']}", json={"archived": True, "unit_price": "1300"},
                       headers=headers)
    assert response.status_code == 200
    assert (response.get_json()["result"]["unit_price"], response.get_json()["result"]["name"]) == ("1300.00",
                                                                                                    "Sito web")
    active = web.get("/api/v1/product/?q=" + rison({"filters": [{"col": "archived", "opr": "eq", "value": False}]}),
                     headers=headers).get_json()
    assert active["count"] == 0
    assert web.delete(f"/api/v1/product/{created['id']}", headers=headers).status_code in (404, 405)


def test_the_api_refuses_a_bad_product_per_field_and_stores_nothing(web):
    response = web.post("/api/v1/product/", json={"name": "", "unit_price": "abc", "tax_rate": "0",
                                                  "colour": "red"}, headers=api_headers(web))
    assert response.status_code == 422
    assert set(response.get_json()["message"]) == {"colour"}
    response = web.post("/api/v1/product/", json={"name": "", "unit_price": "abc", "tax_rate": "0"},
                        headers=api_headers(web))
    assert response.status_code == 422
    assert set(response.get_json()["message"]) == {"name", "unit_price", "vat_nature"}
    assert db.session.scalars(select(Product)).all() == []


def test_an_invoice_line_in_the_api_names_its_product(web):
    product = make_product()
    client = make_client()
    db.session.commit()
    response = web.post("/api/v1/invoice/", json={"client_id": client.id, "lines": [{"product_id": product.id}]},
                        headers=api_headers(web))
    assert response.status_code == 201, response.get_json()
    [only] = response.get_json()["result"]["lines"]
    assert (only["product_id"], only["description"], only["unit_price"]) == (product.id, "Assistenza mensile",
                                                                             "250.00")


def test_the_api_refuses_an_unknown_product_on_a_line(web):
    client = make_client()
    db.session.commit()
    response = web.post("/api/v1/invoice/", json={"client_id": client.id, "lines": [{"product_id": 424242}]},
                        headers=api_headers(web))
    assert response.status_code == 422
    assert "lines.0.product_id" in response.get_json()["message"]


# --- the admin ------------------------------------------------------------------------------


def test_the_admin_form_refuses_a_zero_rate_without_nature_at_its_field(staff):
    response = staff.post("/productview/add", data={"name": "Formazione", "unit_price": "80", "tax_rate": "0",
                                                    "vat_nature": "", "unit": "ora", "description": ""})
    assert response.status_code == 200
    assert "needs a nature" in response.get_data(as_text=True)
    assert db.session.scalars(select(Product)).all() == []

    response = staff.post("/productview/add", data={"name": "Formazione", "unit_price": "80", "tax_rate": "0",
                                                    "vat_nature": "N4", "unit": "ora", "description": ""})
    assert response.status_code == 302
    product = db.session.scalars(select(Product)).one()
    assert (product.unit_price, product.vat_nature) == (Decimal("80"), "N4")


def test_the_draft_form_offers_active_products_and_fills_a_line_from_one(staff):
    product = make_product()
    retired = make_product(name="Vecchio canone")
    archive_product(retired)
    invoice = make_invoice(lines=[])
    db.session.commit()
    page = staff.get(f"/invoiceview/edit/{invoice.id}").get_data(as_text=True)
    assert "Canone assistenza" in page and "Vecchio canone" not in page

    form = line_form(invoice, [{"product_id": str(product.id), "description": "", "quantity": "2",
                                "unit_price": "", "discount": "0", "tax_rate": ""}])
    assert staff.post(f"/invoiceview/edit/{invoice.id}", data=form).status_code == 302
    db.session.expire_all()
    [only] = db.session.get(Invoice, invoice.id).lines
    assert (only.product_id, only.description, only.amount) == (product.id, "Assistenza mensile", Decimal("500.00"))


def test_archive_is_an_action_and_the_list_searches_by_name(staff):
    product = make_product()
    make_product(name="Hosting")
    db.session.commit()
    staff.post(f"/productview/action/archive/{product.id}")
    db.session.expire_all()
    assert db.session.get(Product, product.id).archived is True
    page = staff.get("/productview/list/?_flt_2_name=Hosting").get_data(as_text=True)
    assert "Hosting" in page and "Canone assistenza" not in page


def test_the_api_reads_one_product(web):
    product = make_product()
    db.session.commit()
    response = web.get(f"/api/v1/product/{product.id}", headers=api_headers(web))
    assert response.status_code == 200
    assert response.get_json()["result"]["unit_price"] == "250.00"
