"""Quantities, discounts and VAT rates read in the reader's notation, never as `1E+1`."""
from __future__ import annotations

from app.extensions import db
from tests.support.factories import line, login, make_client, make_invoice, make_staff_user
from tests.support.portal import sign_in


def _invoice():
    client = make_client("Numeri S.r.l.", language="it")
    invoice = make_invoice(client, finalize=True, lines=[
        line("Giornate", quantity="10", unit_price="500.00", tax_rate="10", discount="5"),
        line("Ore", quantity="1355.5", unit_price="2.00", tax_rate="22"),
    ])
    db.session.commit()
    return client, invoice


def test_the_admin_document_page_shows_round_and_large_numbers_in_italian(web):
    _client, invoice = _invoice()
    login(web, make_staff_user("Billing").username)
    web.get("/lang/it")

    html = web.get(f"/invoiceview/show/{invoice.id}").get_data(as_text=True)

    assert "E+" not in html
    assert ">10<" in html and ">5<" in html and "1.355,5" in html
    assert "IVA 10% su" in html


def test_the_portal_invoice_shows_them_in_the_clients_language(web):
    client, invoice = _invoice()
    sign_in(web, client.contacts[0])

    html = web.get(f"/portal/invoices/{invoice.id}").get_data(as_text=True)

    assert "E+" not in html
    assert ">10<" in html and "5%" in html and "1.355,5" in html and "10%" in html
