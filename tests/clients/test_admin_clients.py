"""The staff client pages: list, search, add/edit with contacts inline, show, archive."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.clients.models import Client, Contact
from app.extensions import db
from tests.support.admin import client_form
from tests.support.factories import VALID_PARTITE_IVA, login, make_client, make_invoice, make_staff_user
from tests.support.queries import counted_statements


@pytest.fixture
def staff(web):
    user = make_staff_user("Billing")
    login(web, user.username)
    web.get("/lang/en")  # assertions read the English messages
    return web


def count_clients() -> int:
    return db.session.scalar(select(func.count(Client.id)))


def test_a_valid_client_is_saved_with_its_contacts_and_normalized_ids(staff):
    form = client_form(**{"contacts-1-name": "Luca Bianchi", "contacts-1-email": "luca@rossi.it"})
    response = staff.post("/clientview/add", data=form)
    assert response.status_code == 302
    client = db.session.scalars(select(Client)).one()
    assert client.vat_number == VALID_PARTITE_IVA[0]  # "IT" prefix and spaces dropped
    assert client.province == "TO"
    assert [(c.name, c.is_primary) for c in client.contacts] == [("Maria Rossi", True), ("Luca Bianchi", False)]


def test_an_invalid_vat_number_is_refused_at_its_field_and_keeps_what_was_typed(staff):
    response = staff.post("/clientview/add", data=client_form(vat_number="12345678901", city="Asti"))
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "This is not a valid Italian VAT number" in page
    assert 'value="Asti"' in page and 'value="Maria Rossi"' in page
    assert count_clients() == 0


def test_an_italian_individual_needs_a_valid_codice_fiscale(staff):
    response = staff.post("/clientview/add", data=client_form(kind="individual", vat_number="", tax_code="XYZ"))
    assert "This is not a valid codice fiscale" in response.get_data(as_text=True)
    assert count_clients() == 0


@pytest.mark.parametrize("contacts, message", [
    # Without contacts a new client is its own contact (tests/dashboard/test_client_page.py): without an email, it cannot be.
    ({"email": "", "contacts-0-name": "", "contacts-0-email": "", "contacts-0-is_primary": None},
     "Add at least one contact."),
    ({"contacts-1-name": "Luca", "contacts-1-email": "luca@rossi.it", "contacts-1-is_primary": "y"},
     "Mark exactly one contact as primary."),
    ({"contacts-1-name": "Luca", "contacts-1-email": "luca@rossi.it", "contacts-0-is_primary": None},
     "Mark exactly one contact as primary."),
    ({"contacts-0-email": "not-an-email"}, "This is not a valid email address."),
])
def test_contacts_need_one_primary_and_valid_emails(staff, contacts, message):
    response = staff.post("/clientview/add", data=client_form(**contacts))
    assert message in response.get_data(as_text=True)
    assert count_clients() == 0


def test_two_contacts_with_one_email_whatever_its_case_are_refused_at_the_second(staff):
    response = staff.post("/clientview/add", data=client_form(**{
        "contacts-1-name": "Maria R.", "contacts-1-email": "Maria@Rossi.it"}))
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Two contacts cannot share an email address." in page
    assert count_clients() == 0


def test_editing_keeps_contact_identities_and_removes_a_ticked_contact(staff):
    client = make_client(contacts=[{"name": "Anna", "is_primary": True}, {"name": "Bruno"}])
    db.session.commit()
    anna, bruno = client.contacts
    form = client_form(name=client.name, email=client.email, vat_number=client.vat_number, **{
        "contacts-0-id": str(anna.id), "contacts-0-name": "Anna Verdi", "contacts-0-email": anna.email,
        "contacts-1-id": str(bruno.id), "contacts-1-name": bruno.name, "contacts-1-email": bruno.email,
        "contacts-1-remove": "y",
        "contacts-2-name": "Carla", "contacts-2-email": "carla@example.it",
    })
    response = staff.post(f"/clientview/edit/{client.id}", data=form)
    assert response.status_code == 302
    db.session.expire_all()
    contacts = db.session.scalars(select(Contact).where(Contact.client_id == client.id).order_by(Contact.id)).all()
    assert [(c.id == anna.id, c.name, c.is_primary) for c in contacts] == [(True, "Anna Verdi", True),
                                                                           (False, "Carla", False)]


def test_the_edit_form_shows_the_existing_contacts(staff):
    client = make_client(contacts=[{"name": "Anna Verdi", "email": "anna@verdi.it"}])
    db.session.commit()
    page = staff.get(f"/clientview/edit/{client.id}").get_data(as_text=True)
    assert 'value="Anna Verdi"' in page and 'value="anna@verdi.it"' in page


def test_the_list_searches_by_city_and_vat_and_hides_archived_clients(staff):
    make_client("Alfa S.r.l.", city="Bologna", vat_number=VALID_PARTITE_IVA[1])
    make_client("Beta S.r.l.", city="Napoli", vat_number=VALID_PARTITE_IVA[2])
    make_client("Gamma S.r.l.", city="Bologna", archived=True)
    db.session.commit()

    page = staff.get("/clientview/list/").get_data(as_text=True)
    assert "Alfa S.r.l." in page and "Beta S.r.l." in page and "Gamma S.r.l." not in page

    page = staff.get("/clientview/list/?_flt_2_city=Bologna").get_data(as_text=True)
    assert "Alfa S.r.l." in page and "Beta S.r.l." not in page

    page = staff.get(f"/clientview/list/?_flt_2_vat_number={VALID_PARTITE_IVA[2]}").get_data(as_text=True)
    assert "Beta S.r.l." in page and "Alfa S.r.l." not in page

    page = staff.get("/clientview/list/?archived=1").get_data(as_text=True)
    assert "Gamma S.r.l." in page and "Alfa S.r.l." not in page


def test_archive_and_restore_are_post_buttons(staff):
    client = make_client("Delta S.r.l.")
    db.session.commit()
    assert staff.get(f"/clientview/action/archive/{client.id}").status_code == 302
    db.session.refresh(client)
    assert client.archived is False  # a GET changes nothing

    staff.post(f"/clientview/action/archive/{client.id}")
    db.session.refresh(client)
    assert client.archived is True
    assert "Delta S.r.l." not in staff.get("/clientview/list/").get_data(as_text=True)

    staff.post(f"/clientview/action/restore/{client.id}")
    db.session.refresh(client)
    assert client.archived is False


def test_the_show_page_is_the_360_page_with_the_clients_invoices_and_a_new_invoice_button(staff):
    client = make_client("Epsilon S.r.l.")
    invoice = make_invoice(client, finalize=True)
    other = make_invoice(make_client("Zeta S.r.l."), finalize=True)
    db.session.commit()
    response = staff.get(f"/clientview/show/{client.id}")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/clients/{client.id}/dashboard")
    page = staff.get(f"/clientview/show/{client.id}", follow_redirects=True).get_data(as_text=True)
    assert invoice.number in page and other.number not in page
    assert f"/invoiceview/new/{client.id}" in page


def test_a_client_with_invoices_cannot_be_deleted(staff):
    client = make_client()
    make_invoice(client)
    db.session.commit()
    staff.post(f"/clientview/delete/{client.id}")
    assert count_clients() == 1


def test_the_list_page_runs_the_same_number_of_queries_for_5_or_25_clients(staff):
    for _ in range(5):
        make_client()
    db.session.commit()
    staff.get("/clientview/list/")
    with counted_statements() as few:
        staff.get("/clientview/list/")
    for _ in range(20):
        make_client()
    db.session.commit()
    staff.get("/clientview/list/")
    with counted_statements() as many:
        assert staff.get("/clientview/list/").status_code == 200
    assert many["n"] == few["n"]


def test_revoking_portal_access_ends_the_contacts_open_portal_session(app, staff):
    from app.portal.tokens import issue_sign_in_link

    client = make_client(contacts=[{"name": "Anna", "email": "anna@example.it"}])
    contact = client.contacts[0]
    link = issue_sign_in_link(contact)
    db.session.commit()
    portal = app.test_client()
    assert portal.post(link.split("clientela.test", 1)[1], headers={"Sec-Fetch-Site": "same-origin"}).status_code == 303
    assert portal.get("/portal/").status_code == 200

    assert "Revoke portal access" in staff.get(f"/clients/{client.id}/dashboard").get_data(as_text=True)
    staff.post(f"/clients/contacts/{contact.id}/portal-access")

    assert portal.get("/portal/").status_code in (302, 303, 401, 403)
    db.session.expire_all()
    assert db.session.get(Contact, contact.id).portal_enabled is False
    staff.post(f"/clients/contacts/{contact.id}/portal-access", data={"enable": "1"})
    db.session.expire_all()
    assert db.session.get(Contact, contact.id).portal_enabled is True


def test_a_get_on_the_portal_access_url_changes_nothing(staff):
    client = make_client()
    db.session.commit()
    staff.get(f"/clients/contacts/{client.contacts[0].id}/portal-access")
    db.session.expire_all()
    assert db.session.get(Contact, client.contacts[0].id).portal_enabled is True


def test_a_click_on_a_clients_name_in_the_list_opens_its_360_page(staff):
    client = make_client("Rossi & <Figli> S.r.l.")
    db.session.commit()
    page = staff.get("/clientview/list/").get_data(as_text=True)
    assert f'<a href="/clients/{client.id}/dashboard">Rossi &amp; &lt;Figli&gt; S.r.l.</a>' in page
