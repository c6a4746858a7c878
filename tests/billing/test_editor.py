"""The one-page invoice and quote editor, server side: a new document exists only once saved,
a refused save gives back everything typed with the error at its row and field, and numbers
and dates are read in the reader's notation (Italian 1.355,25 and 15/12/2026; English in English)."""
from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.billing.models import Invoice, Quote
from app.company.services import get_company
from app.extensions import db
from app.products.services import create_product
from tests.support.factories import login, make_client, make_invoice, make_staff_user

LONG_NOTE = "Consegna in due tranche.\n" + "Riferimento ordine 2026/118, " * 40


def _staff(web, language: str):
    user = make_staff_user("Billing")
    login(web, user.username)
    web.get(f"/lang/{language}")
    return web


@pytest.fixture
def italian(web):
    return _staff(web, "it")


@pytest.fixture
def english(web):
    return _staff(web, "en")


def editor_form(lines, **fields) -> dict[str, str]:
    data = {"issue_date": "15/12/2026", "due_date": "14/01/2027", "notes": "", "terms": ""}
    for index, line in enumerate(lines):
        for name, value in {"product_id": "", "discount": "0", "vat_nature": "", "vat_nature_reference": "",
                            **line}.items():
            data[f"lines-{index}-{name}"] = value
    data.update(fields)
    return data


def make_product():
    return create_product({"name": "Canone assistenza", "description": "Assistenza mensile", "unit": "mese",
                           "unit_price": "250.00", "tax_rate": "22"})


def count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count(model.id)))


def test_new_opens_the_empty_editor_and_stores_nothing(italian):
    client = make_client("Rossi S.r.l.")
    db.session.commit()
    for kind in ("invoice", "quote"):
        opened = italian.post(f"/{kind}view/new/{client.id}")  # the client page's button
        assert opened.status_code == 303
        page = italian.get(opened.headers["Location"])
        assert page.status_code == 200 and "Rossi S.r.l." in page.get_data(as_text=True)
    assert count(Invoice) == 0 and count(Quote) == 0, "an abandoned editor leaves nothing behind"


def test_the_empty_editor_shows_the_default_vat_rate_and_the_locale_for_the_script(italian):
    company = get_company()
    company.default_tax_rate = Decimal("22.00")
    client = make_client()
    db.session.commit()
    page = italian.get(f"/invoiceview/add?client_id={client.id}").get_data(as_text=True)
    assert re.search(r'name="lines-0-tax_rate"[^>]*value="22"', page), "the rate is shown, not applied silently"
    assert 'id="editor-line-template"' in page and 'name="lines-__INDEX__-description"' in page
    config = json.loads(re.search(r'<script type="application/json" id="editor-config">(.*?)</script>',
                                  page, re.DOTALL).group(1))
    assert (config["decimal"], config["group"], config["default_tax_rate"]) == (",", ".", "22.00")
    assert config["money"]["suffix"].strip() == "€"
    assert '<script src="/static/admin/editor.js"' in page


def test_saving_three_lines_creates_the_invoice_once_with_the_servers_totals(italian):
    client = make_client("Bianchi S.p.A.")
    db.session.commit()
    response = italian.post(f"/invoiceview/add?client_id={client.id}", data=editor_form([
        {"description": "Progettazione", "quantity": "1", "unit_price": "1.355,25", "tax_rate": "22"},
        {"description": "Sviluppo", "quantity": "2,5", "unit_price": "100", "discount": "10", "tax_rate": "22"},
        {"description": "Manuale", "quantity": "3", "unit_price": "19,99", "tax_rate": "10"},
    ], notes=LONG_NOTE))
    invoice = db.session.scalars(select(Invoice)).one()
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/invoiceview/show/{invoice.id}")
    assert [line.description for line in invoice.lines] == ["Progettazione", "Sviluppo", "Manuale"]
    assert (invoice.issue_date, invoice.due_date) == (dt.date(2026, 12, 15), dt.date(2027, 1, 14))
    assert invoice.lines[0].unit_price == Decimal("1355.25") and invoice.lines[1].quantity == Decimal("2.5")
    # 1355.25 + 225.00 at 22 %, 59.97 at 10 %
    assert (invoice.subtotal, invoice.tax_total, invoice.total) == (
        Decimal("1640.22"), Decimal("353.66"), Decimal("1993.88"))
    assert invoice.notes == LONG_NOTE and invoice.client_id == client.id
    assert count(Invoice) == 1


def test_a_refused_line_keeps_every_row_and_the_note_and_saves_nothing(italian):
    client = make_client()
    db.session.commit()
    response = italian.post(f"/invoiceview/add?client_id={client.id}", data=editor_form([
        {"description": "Prima riga", "quantity": "1", "unit_price": "100", "tax_rate": "22"},
        {"description": "Riga enorme", "quantity": "20", "unit_price": "99999999999", "tax_rate": "22"},
        {"description": "Terza riga", "quantity": "2", "unit_price": "5,50", "tax_rate": "10"},
    ], notes=LONG_NOTE))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    for typed in ("Prima riga</textarea>", "Riga enorme</textarea>", "Terza riga</textarea>", 'value="5,50"',
                  'value="99999999999"', 'value="15/12/2026"', 'value="14/01/2027"'):
        assert typed in page, typed
    assert re.search(r'name="lines-1-quantity"[^>]*>\s*<span class="help-block">', page), "the error is at its row"
    assert LONG_NOTE.split("\n")[1][:60] in page, "the long note comes back"
    assert count(Invoice) == 0


def test_the_too_large_amount_is_shown_at_its_row(italian):
    """set_lines' own refusal (the line's amount overflows the column), not the form's, lands at
    the row it names; every other row and field stays as typed."""
    invoice = make_invoice()
    db.session.commit()
    response = italian.post(f"/invoiceview/edit/{invoice.id}", data=editor_form([
        {"description": "Ok", "quantity": "1", "unit_price": "10", "tax_rate": "22"},
        {"description": "Troppo", "quantity": "999999999", "unit_price": "999999999999", "tax_rate": "22"},
    ], notes=LONG_NOTE))
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    row = re.search(r'<td class="line-number has-error">\s*<input[^>]*name="lines-1-quantity"[^>]*>\s*'
                    r'<span class="help-block">([^<]+)</span>', page)
    assert row, "the error sits at the second row's quantity"
    assert "Ok</textarea>" in page and LONG_NOTE[:40] in page
    db.session.expire_all()
    saved = db.session.get(Invoice, invoice.id)
    assert [line.description for line in saved.lines] == ["Consulenza"] and saved.notes != LONG_NOTE


def test_an_unreadable_number_is_refused_at_its_field_as_typed(italian):
    client = make_client()
    db.session.commit()
    response = italian.post(f"/quoteview/add?client_id={client.id}", data={
        **editor_form([{"description": "Riga", "quantity": "1", "unit_price": "1,355.25", "tax_rate": "22"}]),
        "valid_until": "31/12/2026"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and 'value="1,355.25"' in page
    assert re.search(r'name="lines-0-unit_price"[^>]*>\s*<span class="help-block">[^<]*1\.355,25', page)
    assert count(Quote) == 0


def test_italian_dates_and_amounts_on_a_draft_and_the_payment_form(italian):
    invoice = make_invoice()
    db.session.commit()
    response = italian.post(f"/invoiceview/edit/{invoice.id}", data=editor_form([
        {"description": "Consulenza", "quantity": "1", "unit_price": "1.355,25", "tax_rate": "22"}]))
    assert response.status_code == 302
    db.session.expire_all()
    invoice = db.session.get(Invoice, invoice.id)
    assert (invoice.issue_date, invoice.total) == (dt.date(2026, 12, 15), Decimal("1653.41"))

    page = italian.get(f"/invoiceview/edit/{invoice.id}").get_data(as_text=True)
    assert 'value="1.355,25"' in page and 'value="15/12/2026"' in page, "shown as the reader types them"

    italian.post(f"/invoiceview/action/finalize/{invoice.id}")
    form = italian.get(f"/invoiceview/payment/{invoice.id}").get_data(as_text=True)
    assert 'value="1.653,41"' in form
    response = italian.post(f"/invoiceview/payment/{invoice.id}", data={
        "amount": "1.000,50", "date": "20/12/2026", "method": "bank_transfer", "reference": ""})
    assert response.status_code == 302
    db.session.expire_all()
    [payment] = db.session.get(Invoice, invoice.id).payments
    assert (payment.amount, payment.date) == (Decimal("1000.50"), dt.date(2026, 12, 20))


def test_english_forms_read_english(english):
    client = make_client()
    db.session.commit()
    response = english.post(f"/invoiceview/add?client_id={client.id}", data=editor_form([
        {"description": "Design", "quantity": "1", "unit_price": "1,355.25", "tax_rate": "22"}],
        issue_date="12/15/2026", due_date="01/14/2027"))
    assert response.status_code == 302
    invoice = db.session.scalars(select(Invoice)).one()
    assert (invoice.issue_date, invoice.due_date, invoice.subtotal) == (
        dt.date(2026, 12, 15), dt.date(2027, 1, 14), Decimal("1355.25"))
    page = english.get(f"/invoiceview/edit/{invoice.id}").get_data(as_text=True)
    assert 'value="1,355.25"' in page and 'value="12/15/2026"' in page

    refused = english.post(f"/invoiceview/add?client_id={client.id}", data=editor_form([
        {"description": "Design", "quantity": "1", "unit_price": "1.355,25", "tax_rate": "22"}],
        issue_date="32/13/2026"))
    text = refused.get_data(as_text=True)
    assert refused.status_code == 200 and "Type a date as mm/dd/yyyy." in text and "Type a number such as 1,355.25." in text
    assert count(Invoice) == 1


def test_the_product_picker_carries_what_a_product_fills_in(italian):
    product = make_product()
    client = make_client()
    db.session.commit()
    page = italian.get(f"/invoiceview/add?client_id={client.id}").get_data(as_text=True)
    option = re.search(rf'<option value="{product.id}"[^>]*>', page).group(0)
    assert f'data-description="{product.description}"' in option
    assert 'data-unit_price="250,00"' in option and 'data-tax_rate="22"' in option


def test_the_lists_new_asks_for_the_client_first(italian):
    make_client("Verdi Arredi S.r.l.")
    make_client("Neri Impianti S.r.l.")
    db.session.commit()
    page = italian.get("/invoiceview/add?q=verdi").get_data(as_text=True)
    assert "Verdi Arredi S.r.l." in page and "Neri Impianti" not in page
    assert count(Invoice) == 0
