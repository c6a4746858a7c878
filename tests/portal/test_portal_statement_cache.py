"""The portal statement is rendered once per change of the client's documents and reused:
whatever changes shows on the very next view, in the reader's language, to that client only,
and signing out or losing access still ends the session on the next request."""
from __future__ import annotations

from flask_appbuilder import Model

from app.billing import services as billing
from app.clients.models import Client, Contact
from app.extensions import db
from app.portal.tokens import end_contact_sessions
from tests.support.database import KEEP_TABLES
from tests.support.portal import csrf_token_from, make_client, make_invoice, make_quote, sign_in


def _statement(web) -> str:
    response = web.get("/portal/")
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def test_a_payment_recorded_after_a_view_shows_on_the_next_view(web):
    client, contact = make_client("Rossi S.r.l.", "giulia@rossi.it", language="en")
    invoice = make_invoice(client, amount="100.00", days_overdue=10)
    sign_in(web, contact)
    assert 'data-testid="total-due">€122.00<' in _statement(web)
    assert 'data-testid="total-due">€122.00<' in _statement(web)  # the kept copy

    billing.record_payment(invoice, amount="22.00")
    db.session.commit()

    page = _statement(web)
    assert 'data-testid="total-due">€100.00<' in page
    assert 'data-testid="overdue">€100.00<' in page
    assert "€22.00" in page, "the payment is among the recent payments"


def test_a_new_quote_and_a_cancelled_invoice_show_on_the_next_view(web):
    client, contact = make_client("Rossi S.r.l.", "giulia@rossi.it", language="en")
    invoice = make_invoice(client, amount="100.00")
    sign_in(web, contact)
    assert f">{invoice.number}</a>" in _statement(web)

    billing.cancel_invoice(invoice)
    quote = make_quote(client, amount="750.00")
    db.session.commit()

    page = _statement(web)
    assert f">{invoice.number}</a>" not in page
    assert 'data-testid="total-due">€0.00<' in page
    assert f">{quote.number}</a>" in page


def test_each_language_gets_the_statement_in_its_own_words_and_formats(web):
    client, contact = make_client("Rossi S.r.l.", "giulia@rossi.it", language="en")
    make_invoice(client, amount="1000.00", days_overdue=40)
    sign_in(web, contact)

    english = _statement(web)
    italian = web.get("/portal/?lang=it").get_data(as_text=True)
    english_again = web.get("/portal/?lang=en").get_data(as_text=True)

    assert 'data-testid="total-due">€1,220.00<' in english and "Ageing" in english
    assert 'data-testid="total-due">1.220,00\xa0€<' in italian and "Anzianità" in italian
    assert 'data-testid="total-due">€1,220.00<' in english_again


def test_two_clients_with_the_same_history_each_see_only_their_own_statement(app):
    pages = {}
    for name, email, amount in (("Rossi S.r.l.", "giulia@rossi.it", "100.00"), ("Beta S.r.l.", "bruno@beta.it", "200.00")):
        client, contact = make_client(name, email, language="en")
        invoice = make_invoice(client, amount=amount)  # the same number of changes: the same version
        web = app.test_client()
        sign_in(web, contact)
        _statement(web)
        pages[name] = (invoice.number, _statement(web))

    (rossi_number, rossi_page), (beta_number, beta_page) = pages["Rossi S.r.l."], pages["Beta S.r.l."]
    assert rossi_number in rossi_page and beta_number not in rossi_page
    assert beta_number in beta_page and rossi_number not in beta_page
    assert "€122.00" in rossi_page and "€244.00" in beta_page


def test_a_new_client_given_a_deleted_clients_id_sees_only_its_own_statement(web):
    """SQLite hands a deleted client's id to the next client, whose rollup version starts over."""
    old, old_contact = make_client("Rossi S.r.l.", "giulia@rossi.it", language="en")
    old_id = old.id
    old_number = make_invoice(old, amount="100.00").number
    sign_in(web, old_contact)
    assert old_number in _statement(web)

    db.session.commit()
    db.session.expunge_all()
    with db.engine.begin() as connection:
        for table in reversed(Model.metadata.sorted_tables):
            if table.name not in KEEP_TABLES:
                connection.execute(table.delete())
    new = Client(id=old_id, name="Nuova S.r.l.", kind="business", email="anna@nuova.it", language="en", currency="EUR")
    new.contacts.append(Contact(name="Anna", email="anna@nuova.it", is_primary=True))
    db.session.add(new)
    db.session.flush()
    new_number = make_invoice(new, amount="300.00").number
    sign_in(web, new.contacts[0])

    page = _statement(web)
    assert 'data-testid="total-due">€366.00<' in page
    if new_number != old_number:
        assert old_number not in page


def test_signing_out_or_losing_access_ends_the_session_on_the_next_request_however_often_the_page_was_seen(web):
    client, contact = make_client("Rossi S.r.l.", "giulia@rossi.it")
    make_invoice(client, amount="100.00")

    sign_in(web, contact)
    page = _statement(web)
    response = web.post("/portal/logout", data={"csrf_token": csrf_token_from(page)})
    assert response.status_code == 303
    assert web.get("/portal/").status_code == 302

    sign_in(web, contact)
    _statement(web)
    end_contact_sessions(contact)  # staff ends every session of the contact
    db.session.commit()
    assert web.get("/portal/").status_code == 302

    sign_in(web, contact)
    _statement(web)
    client.archived = True
    db.session.commit()
    assert web.get("/portal/").status_code == 302
