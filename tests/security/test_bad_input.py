"""A tour of bad and unusual input through the admin forms, the API and the portal.

Each input gets a clear field error in the reader's language, or is stored and shown back
exactly as typed (escaped in HTML, as text in the PDF); what was already saved is never lost,
and nothing answers with a 500.
"""
from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from tests.support import factories
from app.billing.models import Invoice, Payment
from app.clients.models import Client
from app.company.services import get_company
from app.extensions import db
from app.tickets.models import Ticket, TicketAttachment
from tests.support.admin import client_form
from tests.support.api import api_headers
from tests.support.pdf import pdf_text
from tests.support.portal import sign_in
from tests.support.tickets import PDF, PNG

ARABIC = "شركة النور للتجارة"
HEBREW = "חברת האור בע\"מ"
EMOJI = "Pizzeria 🍕 Da Mario ☕"
ACCENTS = "Società Cooperativa Àèìòù – «Ω» 東京"
MARKUP = "<script>alert(1)</script> & <b>grassetto</b>"


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def admin(web):
    factories.login(web, factories.make_staff_user("Admin").username)
    return web


@pytest.fixture
def english(web) -> dict[str, str]:
    return api_headers(web, "Admin", language="en")


# --- admin forms ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", [ARABIC, HEBREW, EMOJI, ACCENTS, MARKUP])
def test_a_client_name_in_any_script_is_stored_and_shown_back_escaped(admin, name):
    response = admin.post("/clientview/add", data=client_form(name=name))
    assert response.status_code == 302
    client = db.session.scalar(select(Client).where(Client.name == name))
    assert client is not None, "stored exactly as typed"
    page = admin.get(f"/clients/{client.id}/dashboard").get_data(as_text=True)
    assert str(__import__("markupsafe").escape(name)) in page
    assert "<script>alert(1)</script>" not in page


def test_a_too_long_client_name_is_a_field_error_and_keeps_everything_typed(admin):
    existing = factories.make_client("Già Salvato S.r.l.")
    db.session.commit()
    response = admin.post("/clientview/add", data=client_form(name="N" * 5000, city="Torino Ω"),
                          headers={"Accept-Language": "it"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "200" in page and ("caratteri" in page or "characters" in page), "the limit is named at the field"
    assert "Torino Ω" in page, "what was typed comes back"
    assert count(Client) == 1 and db.session.get(Client, existing.id).name == "Già Salvato S.r.l."


@pytest.mark.parametrize("field,value", [("lines-0-unit_price", "1e400"), ("lines-0-quantity", "-3"),
                                         ("lines-0-unit_price", "dieci"), ("lines-0-tax_rate", "250"),
                                         ("issue_date", "31/02/2026"), ("lines-0-discount", "101")])
def test_a_bad_line_or_date_in_the_draft_form_is_refused_and_the_saved_lines_stay(admin, field, value):
    invoice = factories.make_invoice()
    db.session.commit()
    data = {"issue_date": invoice.issue_date.isoformat(), "due_date": invoice.due_date.isoformat(), "notes": "",
            "terms": "", "lines-0-description": "Riga nuova", "lines-0-quantity": "1", "lines-0-unit_price": "10",
            "lines-0-discount": "0", "lines-0-tax_rate": "22", field: value}
    response = admin.post(f"/invoiceview/edit/{invoice.id}", data=data)
    assert response.status_code == 200, "the form comes back with the error"
    if field != "issue_date":  # a date the picker cannot read comes back empty, with its error
        assert value in response.get_data(as_text=True)
    db.session.expire_all()
    saved = db.session.get(Invoice, invoice.id)
    assert [line.description for line in saved.lines] == ["Consulenza"] and saved.total == factories.money("122.00")


def test_a_logo_over_one_megabyte_is_a_field_error_and_the_old_logo_stays(admin):
    company = get_company()
    company.logo, company.logo_mime = PNG, "image/png"
    db.session.commit()
    big = PNG + bytes(1024 * 1024)
    form = admin.get(f"/companysettingsview/edit/{company.id}")
    assert form.status_code == 200
    response = admin.post(f"/companysettingsview/edit/{company.id}", data={
        "legal_name": "Studio Rossi", "currency": "EUR", "default_tax_rate": "22", "payment_terms_days": "30",
        "quote_validity_days": "30", "invoice_number_format": "{year}/{seq:04d}",
        "quote_number_format": "P{year}/{seq:04d}", "locale": "it", "logo": (io.BytesIO(big), "logo.png"),
    }, content_type="multipart/form-data", headers={"Accept-Language": "en"})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "The logo must be at most 1 MB." in page or "Il logo non può superare 1 MB." in page
    db.session.expire_all()
    assert get_company().logo == PNG


# --- the REST API ------------------------------------------------------------------------------------

@pytest.mark.parametrize("body,field", [
    ({"name": 42, "kind": "business", "email": "a@b.it"}, "name"),
    ({"name": "Ok", "kind": "business", "email": ["a@b.it"]}, "email"),
    ({"name": "Ok", "kind": "corporation", "email": "a@b.it"}, "kind"),
    ({"name": "Ok", "kind": "business", "email": "a@b.it", "contacts": "Maria"}, "contacts"),
    ({"name": "N" * 5000, "kind": "business", "email": "a@b.it", "vat_number": factories.VALID_PARTITE_IVA[1]},
     "name"),
    ({"name": "Ok", "kind": "business", "email": "a@b.it", "vat_number": factories.VALID_PARTITE_IVA[1],
      "contacts": [{"name": "M" * 300, "email": "m@b.it"}]}, "contacts"),
])
def test_wrong_json_types_for_a_client_are_field_errors(web, english, body, field):
    before = count(Client)
    response = web.post("/api/v1/client/", json=body, headers=english)
    assert 400 <= response.status_code < 500
    message = response.get_json()["message"]
    assert any(key == field or key.startswith(field + ".") for key in message), message
    assert count(Client) == before


@pytest.mark.parametrize("lines,field", [
    ("not a list", "lines"),
    ([{"description": "x", "quantity": "1", "unit_price": [1], "tax_rate": "22"}], "lines.0.unit_price"),
    ([{"description": "x", "quantity": "1", "unit_price": "1e400", "tax_rate": "22"}], "lines.0.unit_price"),
    ([{"description": "x", "quantity": "99999999999999999999", "unit_price": "99999999999999999999",
       "tax_rate": "22"}], "lines.0"),
    ([{"description": "x", "quantity": "1", "unit_price": "NaN", "tax_rate": "22"}], "lines.0.unit_price"),
    ([{"description": "x", "quantity": "1", "unit_price": "10", "tax_rate": True}], "lines.0.tax_rate"),
])
def test_wrong_types_and_absurd_amounts_on_invoice_lines_are_field_errors(web, english, lines, field):
    client = factories.make_client()
    db.session.commit()
    response = web.post("/api/v1/invoice/", json={"client_id": client.id, "lines": lines}, headers=english)
    assert response.status_code == 422, response.get_json()
    message = response.get_json()["message"]
    assert any(key.startswith(field) for key in message), message
    assert count(Invoice) == 0


@pytest.mark.parametrize("when", ["0001-01-01", "1899-12-31", "2999-12-31", "9999-12-31"])
def test_dates_far_in_the_past_or_future_are_stored_as_given_or_refused_clearly(web, english, when):
    client = factories.make_client()
    db.session.commit()
    response = web.post("/api/v1/invoice/", json={"client_id": client.id, "issue_date": when, "due_date": when,
                                                  "lines": [factories.line()]}, headers=english)
    assert response.status_code in (201, 422), response.status_code
    if response.status_code == 201:
        invoice = response.get_json()["result"]
        assert (invoice["issue_date"], invoice["due_date"]) == (when, when)
        assert web.get(f"/api/v1/invoice/{invoice['id']}", headers=english).get_json()["result"]["issue_date"] == when
    else:
        assert "issue_date" in response.get_json()["message"]


@pytest.mark.parametrize("amount", ["0", "0.00", "-5", "1e10", "12.345", "", None, [], {"value": 1}])
def test_a_zero_negative_or_malformed_payment_is_refused_and_the_balance_stays(web, english, amount):
    invoice = factories.make_invoice(finalize=True)
    db.session.commit()
    response = web.post(f"/api/v1/invoice/{invoice.id}/payment", json={"amount": amount}, headers=english)
    assert response.status_code == 422, response.get_json()
    assert "amount" in response.get_json()["message"]
    db.session.expire_all()
    assert count(Payment) == 0 and db.session.get(Invoice, invoice.id).balance == factories.money("122.00")


def test_unicode_and_markup_in_notes_and_lines_come_back_intact_in_the_api_page_and_pdf(web, english, admin):
    description = f"{ACCENTS} {MARKUP}"
    client = factories.make_client(EMOJI)
    db.session.commit()
    response = web.post("/api/v1/invoice/", json={"client_id": client.id, "notes": f"{ARABIC} / {HEBREW}",
                                                  "lines": [factories.line(description=description)]},
                        headers=english)
    assert response.status_code == 201
    created = response.get_json()["result"]
    assert created["lines"][0]["description"] == description and created["notes"] == f"{ARABIC} / {HEBREW}"

    page = admin.get(f"/invoiceview/show/{created['id']}").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page
    assert ARABIC in page and HEBREW.replace('"', "&#34;") in page or HEBREW in page

    pdf = web.get(f"/api/v1/invoice/{created['id']}/pdf", headers=english)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = pdf_text(pdf.data)
    assert "<script>alert(1)</script>" in text, "markup is printed as text, never interpreted"
    assert "Società Cooperativa Àèìòù" in text and "«Ω»" in text


def test_nul_characters_are_refused_before_they_reach_the_database(web, english):
    client = factories.make_client()
    db.session.commit()
    response = web.put(f"/api/v1/client/{client.id}", json={"notes": "prima\x00dopo"}, headers=english)
    assert response.status_code == 400
    assert "NUL" in response.get_json()["message"]
    db.session.expire_all()
    assert db.session.get(Client, client.id).notes == ""


def test_an_id_too_large_for_any_row_is_not_found(web, english):
    assert web.get("/api/v1/client/99999999999999999999", headers=english).status_code == 404
    assert web.put("/api/v1/invoice/99999999999999999999", json={"notes": "x"}, headers=english).status_code == 404
    response = web.post("/api/v1/invoice/", json={"client_id": 10**30, "lines": [factories.line()]}, headers=english)
    assert response.status_code == 422 and "client_id" in response.get_json()["message"]


# --- the portal --------------------------------------------------------------------------------------

@pytest.fixture
def contact_web(web):
    client = factories.make_client("Cliente Portale S.r.l.", email="portale@example.it")
    sign_in(web, client.contacts[0])
    return web


@pytest.mark.parametrize("subject", [ARABIC, HEBREW, EMOJI, MARKUP])
def test_a_ticket_in_any_script_is_stored_and_shown_back_escaped(contact_web, subject):
    response = contact_web.post("/portal/tickets", data={"subject": subject, "body": f"{subject}\n{ACCENTS}"})
    assert response.status_code == 303
    ticket = db.session.scalar(select(Ticket))
    assert ticket.subject == subject
    page = contact_web.get(f"/portal/tickets/{ticket.id}").get_data(as_text=True)
    assert str(__import__("markupsafe").escape(subject)) in page and ACCENTS in page
    assert "<script>alert(1)</script>" not in page


def test_a_ticket_attachment_over_ten_megabytes_is_refused_and_nothing_is_saved(contact_web):
    big = PDF + bytes(10 * 1024 * 1024)
    response = contact_web.post("/portal/tickets", data={
        "subject": "Allegato", "body": "Ecco il file", "attachments": [(io.BytesIO(big), "grande.pdf")],
    }, content_type="multipart/form-data", headers={"Accept-Language": "en"})
    assert response.status_code in (400, 413)
    assert "10 MB" in response.get_data(as_text=True)
    assert count(Ticket) == 0 and count(TicketAttachment) == 0


def test_a_request_over_the_size_limit_is_refused_with_a_page_not_a_crash(app, contact_web):
    too_big = bytes(app.config["MAX_CONTENT_LENGTH"] + 1024)
    response = contact_web.post("/portal/tickets", data={
        "subject": "Enorme", "body": "x", "attachments": [(io.BytesIO(too_big), "enorme.pdf")],
    }, content_type="multipart/form-data")
    assert response.status_code == 413
    assert count(Ticket) == 0


def test_a_very_long_portal_login_address_is_a_clear_error(web):
    response = web.post("/portal/login", data={"email": "a" * 5000 + "@example.it"},
                        headers={"Accept-Language": "en"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Enter the email address we write to you at." in page or "Inserisca l&#39;indirizzo email" in page


def test_a_negative_page_in_an_api_list_query_is_a_400_not_a_server_error(web):
    from tests.support.api import api_headers

    headers = api_headers(web, "Admin")
    for path in ("/api/v1/client/", "/api/v1/invoice/"):
        response = web.get(path + "?q=(page:-1,page_size:10)", headers=headers)
        assert response.status_code == 400, response.get_json()
        assert "zero" in response.get_json()["message"]  # "zero or more" / "zero o più"
        as_json = web.get(path, query_string={"q": '{"page": 0, "page_size": -5}'}, headers=headers)
        assert as_json.status_code == 400
        assert web.get(path + "?q=(page:0,page_size:10)", headers=headers).status_code == 200
