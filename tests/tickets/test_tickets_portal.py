"""Support tickets in the portal: opening one, the thread, replies that reopen, attachments,
and that nothing of another client's support is reachable."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.mail.models import OutboxEmail
from app.tickets import services
from app.tickets.models import Ticket, TicketAttachment, TicketMessage
from tests.support.portal import make_client, make_invoice, make_quote, sign_in
from tests.support.tickets import JPEG, PDF, PNG, file_field, ticket_of


@pytest.fixture
def anna(web):
    client, contact = make_client("Alfa S.r.l.", "anna@alfa.it", language="en")
    db.session.commit()
    sign_in(web, contact)
    return contact


def counts() -> tuple[int, int, int]:
    db.session.expire_all()
    return tuple(db.session.scalar(select(func.count()).select_from(model))
                 for model in (Ticket, TicketMessage, TicketAttachment))


def test_a_contact_opens_a_ticket_about_one_of_their_invoices_and_sees_it_listed(web, anna):
    invoice = make_invoice(anna.client)
    db.session.commit()
    form = web.get("/portal/tickets").get_data(as_text=True)
    assert "Open a new ticket" in form and f'value="invoice-{invoice.id}"' in form

    response = web.post("/portal/tickets", data={
        "subject": "Wrong VAT?", "body": "Hello,\nis the VAT right?", "document": f"invoice-{invoice.id}",
        "attachments": file_field(PNG, "screenshot.png"),
    })

    assert response.status_code == 303
    ticket = db.session.scalar(select(Ticket))
    assert response.headers["Location"].endswith(f"/portal/tickets/{ticket.id}")
    assert (ticket.status, ticket.subject, ticket.invoice_id, ticket.contact_id) == (
        "open", "Wrong VAT?", invoice.id, anna.id)
    listing = web.get("/portal/tickets").get_data(as_text=True)
    assert "Wrong VAT?" in listing and "Waiting for us" in listing and invoice.number in listing


def test_the_thread_shows_every_message_in_order_with_markup_as_text_and_line_breaks_kept(web, anna):
    ticket = services.open_ticket(anna, "<b>Aiuto</b>", "Riga uno\nRiga <script>alert(1)</script> due")
    services.reply_as_staff(ticket, None, "Risposta <img src=x onerror=alert(1)>")
    services.reply_as_staff(ticket, None, "Nota interna: cliente moroso", internal=True)
    db.session.commit()

    page = web.get(f"/portal/tickets/{ticket.id}").get_data(as_text=True)

    assert "<script>alert(1)</script>" not in page and "<img src=x" not in page and "<b>Aiuto</b>" not in page
    assert "Riga <script>" not in page
    assert "Riga uno\nRiga &lt;script&gt;alert(1)&lt;/script&gt; due" in page  # in a pre-wrap block
    assert "&lt;b&gt;Aiuto&lt;/b&gt;" in page
    assert page.index("Riga uno") < page.index("Risposta &lt;img")
    assert "Nota interna" not in page, "internal notes never reach the client"


def test_a_client_reply_reopens_an_answered_and_a_closed_ticket(web, anna):
    ticket = services.open_ticket(anna, "Accesso", "Non riesco a entrare")
    services.reply_as_staff(ticket, None, "Provi ora")
    db.session.commit()
    assert ticket.status == "answered"

    assert web.post(f"/portal/tickets/{ticket.id}", data={"body": "Ancora no"}).status_code == 303
    db.session.refresh(ticket)
    assert ticket.status == "open"

    services.close_ticket(ticket)
    db.session.commit()
    page = web.get(f"/portal/tickets/{ticket.id}").get_data(as_text=True)
    assert "This ticket is closed" in page
    assert web.post(f"/portal/tickets/{ticket.id}", data={"body": "Riapro"}).status_code == 303
    db.session.refresh(ticket)
    assert (ticket.status, ticket.closed_at) == ("open", None)
    assert [m.body for m in ticket.messages] == ["Non riesco a entrare", "Provi ora", "Ancora no", "Riapro"]


@pytest.mark.parametrize("content, name, error", [
    (b"MZ\x90\x00 not a pdf at all", "fattura.pdf", "is not a PDF, PNG or JPEG"),
    (b"<html><script>alert(1)</script></html>", "page.png", "is not a PDF, PNG or JPEG"),
    (PDF + b"\x00" * (10 * 1024 * 1024), "big.pdf", "larger than 10 MB"),
])
def test_a_wrong_type_or_oversized_upload_is_refused_clearly_and_nothing_is_saved(web, anna, content, name, error):
    before = counts()

    response = web.post("/portal/tickets", data={
        "subject": "Con allegato", "body": "Vedi file", "attachments": [file_field(PNG, "ok.png"),
                                                                         file_field(content, name)],
    })

    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert error in page and name in page
    assert 'value="Con allegato"' in page and "Vedi file</textarea>" in page  # what was typed stays
    assert counts() == before
    assert db.session.scalar(select(func.count()).select_from(OutboxEmail)) == 0


def test_a_request_over_the_upload_limit_gets_a_clear_page(web, anna):
    ticket = ticket_of(anna)
    db.session.commit()
    before = counts()
    response = web.post(f"/portal/tickets/{ticket.id}", data={
        "body": "x", "attachments": file_field(PDF + bytes(13 * 1024 * 1024), "huge.pdf")})
    assert response.status_code == 413
    assert "at most 10 MB" in response.get_data(as_text=True)
    assert counts() == before


def test_attachments_are_served_as_downloads_of_their_detected_type_under_a_clean_name(web, anna):
    ticket = ticket_of(anna)
    message = services.reply_as_contact(ticket, anna, "Foto", [services.Upload('../../etc/"x<y>.html', JPEG)])
    db.session.commit()
    [attachment] = message.attachments

    response = web.get(f"/portal/tickets/{ticket.id}/attachments/{attachment.id}")

    assert response.status_code == 200
    assert response.data == JPEG
    assert response.mimetype == "image/jpeg"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and re.search(r'filename="?[\w.-]+\.jpg"?$', disposition)
    assert ".." not in disposition and "html" not in disposition


def test_another_clients_ticket_and_attachment_answer_404_on_every_route_and_nothing_changes(web, anna):
    _other_client, bruno = make_client("Beta S.r.l.", "bruno@beta.it")
    theirs = ticket_of(bruno)
    note = services.reply_as_staff(theirs, None, "interna", internal=True,
                                   uploads=[services.Upload("nota.pdf", PDF)])
    mine = ticket_of(anna)
    db.session.commit()
    attachment_id = theirs.messages[0].attachments[0].id
    before = counts()

    for method, path, data in [
        ("GET", f"/portal/tickets/{theirs.id}", None),
        ("POST", f"/portal/tickets/{theirs.id}", {"body": "intruso"}),
        ("GET", f"/portal/tickets/{theirs.id}/attachments/{attachment_id}", None),
        ("GET", f"/portal/tickets/{mine.id}/attachments/{attachment_id}", None),  # own ticket id, foreign file
        ("GET", f"/portal/tickets/{theirs.id}/attachments/{note.attachments[0].id}", None),
        ("GET", "/portal/tickets/999999", None),
    ]:
        response = web.open(path, method=method, data=data)
        assert response.status_code == 404, path
        assert "Domanda sulla fattura" not in response.get_data(as_text=True)
    assert counts() == before
    assert "Domanda sulla fattura" not in web.get("/portal/tickets").get_data(as_text=True).split("Your tickets")[0]


def test_a_ticket_cannot_be_about_another_clients_invoice_or_a_draft(web, anna):
    other, _bruno = make_client("Beta S.r.l.", "bruno@beta.it")
    foreign = make_invoice(other)
    draft = make_invoice(anna.client, finalize=False)
    quote = make_quote(anna.client)
    db.session.commit()
    page = web.get("/portal/tickets").get_data(as_text=True)
    assert f"invoice-{foreign.id}" not in page and f"invoice-{draft.id}" not in page
    assert f'value="quote-{quote.id}"' in page

    for value in (f"invoice-{foreign.id}", f"invoice-{draft.id}", "invoice-x", "payment-1"):
        response = web.post("/portal/tickets", data={"subject": "S", "body": "B", "document": value})
        assert response.status_code == 400, value
        assert "Choose one of your invoices or quotes." in response.get_data(as_text=True)
    assert counts() == (0, 0, 0)


def test_anonymous_visitors_are_sent_to_sign_in_and_learn_nothing(web, app):
    _client, contact = make_client("Alfa S.r.l.", "anna@alfa.it")
    ticket = ticket_of(contact)
    db.session.commit()
    for method, path in [("GET", "/portal/tickets"), ("POST", "/portal/tickets"),
                         ("GET", f"/portal/tickets/{ticket.id}"), ("POST", f"/portal/tickets/{ticket.id}"),
                         ("GET", f"/portal/tickets/{ticket.id}/attachments/1"), ("GET", "/portal/tickets/999999")]:
        response = app.test_client().open(path, method=method, data={"subject": "x", "body": "y"})
        assert response.status_code in (302, 303), path
        assert response.headers["Location"].endswith("/portal/login")
    assert counts()[1] == 1


def test_empty_subject_or_message_is_refused_at_its_field(web, anna):
    response = web.post("/portal/tickets", data={"subject": "  ", "body": "testo"})
    assert response.status_code == 400 and "Write a subject for your request." in response.get_data(as_text=True)
    ticket = ticket_of(anna)
    db.session.commit()
    response = web.post(f"/portal/tickets/{ticket.id}", data={"body": " \n "})
    assert response.status_code == 400 and "Write a message." in response.get_data(as_text=True)
    assert counts()[1] == 1


def test_the_portal_menu_links_to_support(web, anna):
    page = web.get("/portal/").get_data(as_text=True)
    assert 'href="/portal/tickets"' in page


def test_a_contact_sending_too_many_messages_is_slowed_down_and_nothing_more_is_saved(limited_app):
    limited_app.config["PORTAL_TICKET_LIMIT"] = "3 per hour"
    web = limited_app.test_client()
    _client, contact = make_client("Beta S.r.l.", "bruno@beta.it", language="en")
    db.session.commit()
    sign_in(web, contact)

    answers = [web.post("/portal/tickets", data={"subject": f"Question {n}", "body": "Hello"}).status_code
               for n in range(4)]

    assert answers == [303, 303, 303, 429]
    assert counts()[0] == 3
    assert "Please wait" in web.post("/portal/tickets", data={"subject": "x", "body": "y"}).get_data(as_text=True)
