"""One page per client: the 360 page shows and edits the client's contacts, notes and email
templates; the client form warns about a Partita IVA another client has; a client typed
without contacts is its own contact; the send page offers the client's own email; a quote's
answer from the portal shows its note to staff."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.billing import services as billing
from app.clients.models import Client, Contact
from app.company.services import get_company
from app.extensions import db
from app.mail import templating
from app.mail.models import ClientEmailTemplate, OutboxEmail
from tests.support.admin import client_form
from tests.support.api import api_headers
from tests.support.factories import VALID_PARTITE_IVA, login, make_client, make_invoice, make_quote, make_staff_user
from tests.support.portal import sign_in
from tests.support.queries import counted_statements


@pytest.fixture
def staff(web):
    login(web, make_staff_user("Billing").username)
    web.get("/lang/en")
    return web


def page_of(web, client: Client) -> str:
    return web.get(f"/clients/{client.id}/dashboard").get_data(as_text=True)


def contacts_of(client_id: int) -> list[tuple[str, str, bool]]:
    db.session.expire_all()
    return [(c.name, c.email, c.is_primary) for c in db.session.get(Client, client_id).contacts]


# -- one page per client ------------------------------------------------------------------

def test_saving_a_new_or_edited_client_opens_its_360_page(staff):
    response = staff.post("/clientview/add", data=client_form())
    client = db.session.scalars(select(Client)).one()
    assert response.headers["Location"].endswith(f"/clients/{client.id}/dashboard")
    response = staff.post(f"/clientview/edit/{client.id}", data=client_form(
        city="Asti", **{"contacts-0-id": str(client.contacts[0].id)}))
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/clients/{client.id}/dashboard")
    page = page_of(staff, client)
    assert f'href="/clientview/edit/{client.id}"' in page, "editing opens from the client's page"


def test_archiving_from_the_360_page_comes_back_to_it(staff):
    client = make_client()
    db.session.commit()
    assert f'action="/clientview/action/archive/{client.id}"' in page_of(staff, client)
    response = staff.post(f"/clientview/action/archive/{client.id}")
    assert response.headers["Location"].endswith(f"/clients/{client.id}/dashboard")
    assert f'action="/clientview/action/restore/{client.id}"' in page_of(staff, client)


def test_the_total_paid_card_is_not_captioned_lifetime_value(staff):
    client = make_client()
    db.session.commit()
    page = page_of(staff, client)
    card = re.search(r'data-figure="total_paid".*?</div>\s*</div>', page, re.S).group(0)
    assert "Lifetime value" not in page and "Payments received to date" in card
    staff.get("/lang/it")
    assert "Valore complessivo" not in page_of(staff, client)


# -- contacts -------------------------------------------------------------------------------

def test_contacts_are_added_edited_and_removed_from_the_contacts_tab(staff):
    client = make_client("Rossi S.r.l.", contacts=[{"name": "Giulia", "email": "giulia@rossi.it"}])
    db.session.commit()
    giulia = client.contacts[0].id

    response = staff.post(f"/clients/{client.id}/contacts", data={"name": "Marco", "email": "Marco@Rossi.it ",
                                                                  "phone": "011 123"})
    assert response.status_code == 302 and response.headers["Location"].endswith("#contacts")
    assert contacts_of(client.id) == [("Giulia", "giulia@rossi.it", True), ("Marco", "Marco@rossi.it", False)]
    marco = db.session.scalar(select(Contact.id).where(Contact.name == "Marco"))

    staff.post(f"/clients/{client.id}/contacts/{marco}", data={"name": "Marco Rossi", "email": "marco@rossi.it",
                                                                "is_primary": "y"})
    assert contacts_of(client.id) == [("Marco Rossi", "marco@rossi.it", True), ("Giulia", "giulia@rossi.it", False)]
    assert db.session.get(Contact, giulia) is not None, "contacts keep their ids (portal identities)"

    staff.post(f"/clients/{client.id}/contacts/{marco}/remove")
    assert contacts_of(client.id) == [("Giulia", "giulia@rossi.it", True)], "the next contact becomes primary"
    response = staff.post(f"/clients/{client.id}/contacts/{giulia}/remove", follow_redirects=True)
    assert "A client keeps at least one contact" in response.get_data(as_text=True)
    assert contacts_of(client.id) == [("Giulia", "giulia@rossi.it", True)]
    page = page_of(staff, client)
    assert "Revoke portal access" in page and "Add a contact" in page


def test_a_refused_contact_shows_the_error_at_its_field_and_keeps_what_was_typed(staff):
    client = make_client("Rossi S.r.l.", contacts=[{"name": "Giulia", "email": "giulia@rossi.it"}])
    db.session.commit()
    response = staff.post(f"/clients/{client.id}/contacts", data={"name": "Marco Bianchi", "email": "marco@"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "This is not a valid email address." in page
    assert 'value="Marco Bianchi"' in page and 'value="marco@"' in page
    response = staff.post(f"/clients/{client.id}/contacts", data={"name": "Altra", "email": "GIULIA@rossi.it"})
    assert "Two contacts cannot share an email address." in response.get_data(as_text=True)
    assert contacts_of(client.id) == [("Giulia", "giulia@rossi.it", True)]


def test_another_clients_contact_cannot_be_edited_or_removed_through_this_client(staff):
    client, other = make_client(), make_client()
    db.session.commit()
    foreign = other.contacts[0].id
    assert staff.post(f"/clients/{client.id}/contacts/{foreign}/remove").status_code == 404
    response = staff.post(f"/clients/{client.id}/contacts/{foreign}", data={"name": "X", "email": "x@example.it"})
    assert response.status_code == 404
    assert len(contacts_of(other.id)) == 1 and contacts_of(other.id)[0][0] != "X"


def test_support_staff_see_contacts_and_notes_without_edit_buttons(web):
    client = make_client(notes="Chiamare il lunedì")
    db.session.commit()
    login(web, make_staff_user("Support").username)
    page = page_of(web, client)
    assert "Chiamare il lunedì" in page
    assert f"/clients/{client.id}/contacts" not in page and f"/clients/{client.id}/notes" not in page
    assert web.post(f"/clients/{client.id}/notes", data={"notes": "no"}).status_code == 403


# -- notes ----------------------------------------------------------------------------------

def test_notes_are_shown_on_the_360_page_and_saved_from_their_tab(staff):
    client = make_client(notes="Preferisce <bonifico>\nmai Ri.Ba.")
    db.session.commit()
    page = page_of(staff, client)
    assert 'href="#notes"' in page and "Preferisce &lt;bonifico&gt;" in page
    response = staff.post(f"/clients/{client.id}/notes", data={"notes": "Nuova nota"})
    assert response.headers["Location"].endswith("#notes")
    db.session.expire_all()
    assert db.session.get(Client, client.id).notes == "Nuova nota"


# -- email templates --------------------------------------------------------------------------

def test_the_email_template_tab_lists_each_kind_by_its_label_and_adds_an_override(staff):
    client = make_client(language="it")
    db.session.commit()
    tab = page_of(staff, client).split('id="email-templates"', 1)[1].split('id="contacts"', 1)[0]
    assert re.search(r'data-kind="invoice">\s*<td>Invoice</td>', tab)
    assert ">invoice<" not in tab
    form = staff.get(f"/clients/{client.id}/email-templates/invoice").get_data(as_text=True)
    assert "{{ document_number }}" in form, "starts from the company's template"

    preview = staff.post(f"/clients/{client.id}/email-templates/invoice",
                         data={"subject": "Fattura {{ document_number }} per voi", "body": "Gentile {{ client_name }}",
                               "preview": "1"})
    assert preview.status_code == 200 and "iframe" in preview.get_data(as_text=True)
    assert db.session.scalars(select(ClientEmailTemplate)).all() == [], "a preview saves nothing"

    response = staff.post(f"/clients/{client.id}/email-templates/invoice", data={
        "subject": "Fattura {{ document_number }} per voi", "body": "Gentile {{ client_name }}"})
    assert response.headers["Location"].endswith("#email-templates")
    db.session.expire_all()
    assert templating.template_for("invoice", client, "it")[2] == "client"
    tab = page_of(staff, client).split('id="email-templates"', 1)[1]
    assert "per voi" in tab and "/email-templates/invoice/reset" in tab

    staff.post(f"/clients/{client.id}/email-templates/invoice/reset")
    db.session.expire_all()
    assert templating.template_for("invoice", client, "it")[2] != "client"


def test_a_template_the_sandbox_refuses_is_an_error_at_its_field_and_keeps_the_text(staff):
    client = make_client()
    db.session.commit()
    response = staff.post(f"/clients/{client.id}/email-templates/quote",
                          data={"subject": "Preventivo", "body": "{{ client_name.__class__ }} testo mio"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "testo mio" in page and "has-error" in page
    assert db.session.scalars(select(ClientEmailTemplate)).all() == []
    assert staff.get(f"/clients/{client.id}/email-templates/new_ticket").status_code == 404


# -- a client without contacts --------------------------------------------------------------------

def test_a_private_client_typed_without_contacts_is_its_own_primary_contact(staff):
    form = client_form(name="Mario Bianchi", kind="individual", email="mario.bianchi@example.it", vat_number="",
                       tax_code="RSSMRA85T10A562S", **{"contacts-0-name": "", "contacts-0-email": "",
                                                       "contacts-0-is_primary": None})
    assert staff.post("/clientview/add", data=form).status_code == 302
    client = db.session.scalar(select(Client).where(Client.name == "Mario Bianchi"))
    assert contacts_of(client.id) == [("Mario Bianchi", "mario.bianchi@example.it", True)]


def test_the_api_makes_the_same_contact_for_a_private_client_sent_without_contacts(web):
    body = {"name": "Anna Verdi", "kind": "individual", "email": "anna@example.it", "tax_code": "RSSMRA85T10A562S",
            "address": "Via Po 1", "city": "Torino", "province": "TO", "postal_code": "10100", "country": "IT"}
    response = web.post("/api/v1/client/", json=body, headers=api_headers(web))
    assert response.status_code == 201, response.get_json()
    assert [(c["name"], c["email"], c["is_primary"]) for c in response.get_json()["result"]["contacts"]] == [
        ("Anna Verdi", "anna@example.it", True)]


# -- sending to the client's own email ------------------------------------------------------------

def test_the_send_page_offers_the_clients_own_email_and_sending_to_it_reaches_it(staff):
    client = make_client("Rossi S.r.l.", email="amministrazione@rossi.it",
                         contacts=[{"name": "Giulia", "email": "giulia@rossi.it"}])
    invoice = make_invoice(client)
    db.session.commit()
    page = staff.get(f"/invoiceview/send/{invoice.id}").get_data(as_text=True)
    assert 'name="client_email"' in page and "amministrazione@rossi.it" in page
    response = staff.post(f"/invoiceview/send/{invoice.id}", data={"client_email": "y"})
    assert response.status_code == 302
    assert [e.to_email for e in db.session.scalars(select(OutboxEmail))] == ["amministrazione@rossi.it"]
    assert contacts_of(client.id)[1] == ("Rossi S.r.l.", "amministrazione@rossi.it", False)
    assert 'name="client_email"' not in staff.get(f"/invoiceview/send/{invoice.id}").get_data(as_text=True), \
        "now a contact, it is listed once"


# -- the same Partita IVA twice -----------------------------------------------------------------------

def test_a_second_client_with_the_same_vat_number_is_a_warning_saved_once_confirmed(staff):
    first = make_client("Prima S.r.l.", vat_number=VALID_PARTITE_IVA[0])
    db.session.commit()
    response = staff.post("/clientview/add", data=client_form(name="Seconda S.r.l.", city="Asti"))
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    warning = re.search(r'<div class="alert alert-warning same-tax-id" data-field="vat_number">.*?</div>\s*</div>',
                        page, re.S).group(0)
    assert f'href="/clients/{first.id}/dashboard"' in warning and "Prima S.r.l." in warning
    assert 'value="Asti"' in page, "nothing typed is lost"
    assert db.session.scalar(select(Client).where(Client.name == "Seconda S.r.l.")) is None

    response = staff.post("/clientview/add", data=client_form(name="Seconda S.r.l.", confirm_same_tax_id="y"))
    assert response.status_code == 302
    assert db.session.scalar(select(Client).where(Client.name == "Seconda S.r.l.")).vat_number == first.vat_number


def test_editing_a_client_does_not_warn_about_its_own_vat_number(staff):
    client = make_client(vat_number=VALID_PARTITE_IVA[1])
    db.session.commit()
    response = staff.post(f"/clientview/edit/{client.id}", data=client_form(
        vat_number=VALID_PARTITE_IVA[1], **{"contacts-0-id": str(client.contacts[0].id)}))
    assert response.status_code == 302


def test_the_api_keeps_a_client_with_a_shared_vat_number_and_answers_a_warning(web):
    first = make_client("Prima S.r.l.", vat_number=VALID_PARTITE_IVA[2])
    db.session.commit()
    body = {"name": "Seconda S.r.l.", "email": "info@seconda.it", "vat_number": f"IT{VALID_PARTITE_IVA[2]}",
            "address": "Via Po 1", "city": "Torino", "province": "TO", "postal_code": "10100", "country": "IT"}
    response = web.post("/api/v1/client/", json=body, headers=api_headers(web))
    assert response.status_code == 201
    assert response.get_json()["warnings"] == {
        "vat_number": [f"Another client already has this VAT number: Prima S.r.l. (id {first.id})."]}
    other = web.post("/api/v1/client/", json={**body, "vat_number": VALID_PARTITE_IVA[3]}, headers=api_headers(web))
    assert "warnings" not in other.get_json()


# -- the client's note on a quote's answer -------------------------------------------------------------

def test_the_clients_note_on_accepting_a_quote_shows_on_the_quote_and_the_timeline(app, staff):
    get_company().support_email = "ufficio@azienda.it"
    client = make_client()
    quote = make_quote(client, finalize=True)
    db.session.commit()
    portal = app.test_client()
    sign_in(portal, client.contacts[0])
    portal.post(f"/portal/quotes/{quote.id}/accept", data={"reason": "Procediamo <subito> a gennaio"})
    page = staff.get(f"/quoteview/show/{quote.id}").get_data(as_text=True)
    assert "decision-note" in page and "Procediamo &lt;subito&gt; a gennaio" in page
    timeline = page_of(staff, client).split('id="timeline"', 1)[1]
    assert "accepted" in timeline and "Procediamo &lt;subito&gt; a gennaio" in timeline
    [email] = db.session.scalars(select(OutboxEmail).where(OutboxEmail.kind == "quote_accepted")).all()
    assert f"/quoteview/show/{quote.id}" in email.body_text, "the staff email opens the quote and its note"


def test_the_360_page_costs_the_same_with_1_or_12_decided_quotes_and_overrides(staff):
    client = make_client()
    db.session.commit()

    def decide(count: int) -> None:
        for n in range(count):
            billing.decide_quote(make_quote(client, finalize=True), accepted=n % 2 == 0, reason=f"Nota {n}")
        db.session.commit()

    def statements() -> int:
        staff.get(f"/clients/{client.id}/dashboard")
        db.session.remove()
        with counted_statements() as counter:
            assert staff.get(f"/clients/{client.id}/dashboard").status_code == 200
        return counter["n"]

    decide(1)
    templating.save_client_template(client, "invoice", "Fattura", "Testo")
    db.session.commit()
    few = statements()
    client = db.session.get(Client, client.id)
    decide(11)
    templating.save_client_template(client, "quote", "Preventivo", "Testo")
    templating.save_client_template(client, "reminder", "Promemoria", "Testo")
    db.session.commit()
    assert statements() == few


def test_a_tab_is_open_on_arrival_and_a_refused_form_opens_its_own(staff):
    client = make_client()
    db.session.commit()
    assert re.search(r'<div class="tab-pane active" id="invoices">', page_of(staff, client))
    page = staff.post(f"/clients/{client.id}/contacts", data={"name": "", "email": "x@example.it"}).get_data(
        as_text=True)
    assert re.search(r'<div class="tab-pane active" id="contacts">', page)
    assert re.search(r'class="collapse in well well-sm" id="contact-new"', page), "the add form stays open"


def test_the_tickets_tab_counts_the_clients_tickets_waiting_for_staff(web):
    from app.tickets.models import TicketStatus
    from app.tickets.services import open_ticket

    client, other = make_client("Alfa"), make_client("Beta")
    tickets = [open_ticket(client.contacts[0], f"Domanda {n}", "Il totale non torna.") for n in range(3)]
    tickets[2].status = TicketStatus.ANSWERED.value  # the client has its answer: not waiting
    open_ticket(other.contacts[0], "Altro cliente", "Non è di Alfa.")
    db.session.commit()
    login(web, make_staff_user("Admin").username)
    web.get("/lang/en")

    tab = page_of(web, client).split('href="#tickets"', 1)[1].split("</li>", 1)[0]
    assert re.search(r'<span class="badge"[^>]*>2</span>', tab), tab
    assert "Domanda 2" in page_of(web, client) and "Altro cliente" not in page_of(web, client)
    for ticket in tickets[:2]:
        ticket.status = TicketStatus.CLOSED.value
    db.session.commit()
    assert '<span class="badge"' not in page_of(web, client).split('href="#tickets"', 1)[1].split("</li>", 1)[0]
