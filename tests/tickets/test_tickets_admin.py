"""The staff side of support: the inbox (newest activity first, its switches and the client
filter, the count in the menu and on the dashboard), the thread page, and who may do what."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.tickets import services
from app.tickets.models import Ticket, TicketMessage
from tests.support.portal import make_client, make_invoice
from tests.support.tickets import JPEG, PDF, file_field
from tests.support.factories import login, make_staff_user


@pytest.fixture
def support(web):
    login(web, make_staff_user("Support").username)
    web.get("/lang/en")
    return web


def _ticket(contact, subject: str, minutes_ago: int, status: str = "open") -> Ticket:
    ticket = services.open_ticket(contact, subject, "testo")
    ticket.last_activity_at = dt.datetime.utcnow() - dt.timedelta(minutes=minutes_ago)
    ticket.status = status
    return ticket


def _subjects(page: str) -> list[str]:
    return re.findall(r"(Ticket [A-Z])\b", page)


def test_the_inbox_lists_newest_activity_first_and_filters_waiting_open_closed_and_by_client(support):
    alfa, anna = make_client("Alfa S.r.l.", "anna@alfa.it")
    _beta, bruno = make_client("Beta S.r.l.", "bruno@beta.it")
    _ticket(anna, "Ticket A", 30)
    _ticket(bruno, "Ticket B", 10, "answered")
    _ticket(anna, "Ticket C", 20, "closed")
    _ticket(bruno, "Ticket D", 5)
    db.session.commit()

    assert _subjects(support.get("/tickets/list/").get_data(as_text=True)) == ["Ticket D", "Ticket B", "Ticket A"]
    assert _subjects(support.get("/tickets/list/?show=waiting").get_data(as_text=True)) == ["Ticket D", "Ticket A"]
    assert _subjects(support.get("/tickets/list/?show=closed").get_data(as_text=True)) == ["Ticket C"]
    assert _subjects(support.get("/tickets/list/?show=all").get_data(as_text=True)) == [
        "Ticket D", "Ticket B", "Ticket C", "Ticket A"]
    by_client = support.get(f"/tickets/list/?show=all&client={alfa.id}").get_data(as_text=True)
    assert _subjects(by_client) == ["Ticket C", "Ticket A"] and "Client: Alfa S.r.l." in by_client


def test_the_menu_and_the_dashboard_count_tickets_waiting_for_staff(support):
    _client, anna = make_client("Alfa S.r.l.", "anna@alfa.it")
    _ticket(anna, "Ticket A", 3)
    _ticket(anna, "Ticket B", 2)
    _ticket(anna, "Ticket C", 1, "answered")
    db.session.commit()
    page = support.get("/").get_data(as_text=True)
    assert "Tickets (2)" in page
    assert re.search(r'data-figure="open_tickets".*?>2<', page, re.S)


def test_the_360_pages_tickets_tab_counts_that_clients_tickets_waiting_for_staff(support):
    alfa, anna = make_client("Alfa S.r.l.", "anna@alfa.it")
    beta, bruno = make_client("Beta S.r.l.", "bruno@beta.it")
    _ticket(anna, "Ticket A", 3)
    _ticket(anna, "Ticket B", 2)
    _ticket(anna, "Ticket C", 1, "answered")
    _ticket(bruno, "Ticket D", 1)
    _ticket(bruno, "Ticket E", 1, "closed")
    db.session.commit()

    def tab(client) -> str:
        page = support.get(f"/clients/{client.id}/dashboard").get_data(as_text=True)
        return re.search(r'<a href="#tickets" data-toggle="tab">(.*?)</a>', page, re.S).group(1)

    assert re.search(r'class="badge"[^>]*>2<', tab(alfa))
    assert re.search(r'class="badge"[^>]*>1<', tab(beta))
    services.close_ticket(db.session.get(Ticket, db.session.scalar(
        select(Ticket.id).where(Ticket.subject == "Ticket D"))), None)
    db.session.commit()
    assert "badge" not in tab(beta)  # nothing waiting: no badge


def test_a_new_ticket_appears_in_the_inbox_as_soon_as_it_is_created(support):
    _client, anna = make_client("Alfa S.r.l.", "anna@alfa.it")
    db.session.commit()
    assert "Urgente" not in support.get("/tickets/list/").get_data(as_text=True)
    services.open_ticket(anna, "Urgente", "aiuto")
    db.session.commit()
    assert "Urgente" in support.get("/tickets/list/").get_data(as_text=True)


def test_support_answers_tickets_but_cannot_edit_invoices(support):
    client, anna = make_client("Alfa S.r.l.", "anna@alfa.it")
    invoice = make_invoice(client, finalize=False)
    ticket = services.open_ticket(anna, "Domanda", "testo")
    db.session.commit()

    assert support.post(f"/tickets/reply/{ticket.id}", data={"body": "Risposta"}).status_code == 302
    for path in (f"/invoiceview/edit/{invoice.id}", f"/invoiceview/show/{invoice.id}", "/invoiceview/list/"):
        response = support.get(path)
        assert response.status_code in (302, 403) and "/login" in response.headers.get("Location", "/login"), path
    support.post(f"/invoiceview/edit/{invoice.id}", data={"notes": "cambiato"})
    support.post(f"/invoiceview/action/finalize/{invoice.id}")
    db.session.refresh(invoice)
    db.session.refresh(ticket)
    assert (invoice.status, invoice.notes, ticket.status) == ("draft", "", "answered")


def test_billing_staff_do_not_see_tickets(web):
    _client, anna = make_client("Alfa S.r.l.", "anna@alfa.it")
    ticket = services.open_ticket(anna, "Domanda", "testo")
    db.session.commit()
    login(web, make_staff_user("Billing").username)
    for path in ("/tickets/list/", f"/tickets/show/{ticket.id}"):
        assert web.get(path).status_code in (302, 403), path
    web.post(f"/tickets/reply/{ticket.id}", data={"body": "no"})
    assert db.session.scalar(select(func.count()).select_from(TicketMessage)) == 1
    assert "/tickets/list/" not in web.get("/").get_data(as_text=True)


def test_tickets_have_no_generic_add_edit_or_delete_pages(support):
    _client, anna = make_client("Alfa S.r.l.", "anna@alfa.it")
    ticket = services.open_ticket(anna, "Domanda", "testo")
    db.session.commit()
    for path in ("/tickets/add", f"/tickets/edit/{ticket.id}", f"/tickets/delete/{ticket.id}"):
        assert support.get(path).status_code == 404, path
        assert support.post(path, data={"subject": "x"}).status_code in (404, 405), path
    assert db.session.get(Ticket, ticket.id).subject == "Domanda"


def test_the_thread_shows_internal_notes_to_staff_with_markup_as_text(support):
    _client, anna = make_client("Alfa S.r.l.", "anna@alfa.it")
    ticket = services.open_ticket(anna, "<i>Oggetto</i>", "<script>alert(1)</script>\nseconda riga")
    db.session.commit()
    support.post(f"/tickets/reply/{ticket.id}", data={"body": "solo per noi", "internal": "1"})
    db.session.refresh(ticket)
    assert ticket.status == "open", "a note does not answer the client"

    page = support.get(f"/tickets/show/{ticket.id}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page and "<i>Oggetto</i>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;\nseconda riga" in page
    assert "solo per noi" in page and "Internal note" in page


def test_staff_attach_files_checked_by_content_and_download_them_safely(support):
    _client, anna = make_client("Alfa S.r.l.", "anna@alfa.it")
    ticket = services.open_ticket(anna, "Domanda", "testo", uploads=[services.Upload("foto.jpg", JPEG)])
    db.session.commit()

    refused = support.post(f"/tickets/reply/{ticket.id}", data={
        "body": "ecco", "attachments": file_field(b"#!/bin/sh\nrm -rf /", "script.pdf")})
    assert refused.status_code == 400 and "is not a PDF, PNG or JPEG" in refused.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(TicketMessage)) == 1

    assert support.post(f"/tickets/reply/{ticket.id}", data={
        "body": "ecco", "attachments": file_field(PDF, "preventivo.pdf")}).status_code == 302
    db.session.expire_all()
    attachment = db.session.get(Ticket, ticket.id).messages[1].attachments[0]
    response = support.get(f"/tickets/attachment/{ticket.id}/{attachment.id}")
    assert response.status_code == 200 and response.data == PDF and response.mimetype == "application/pdf"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert support.get(f"/tickets/attachment/{ticket.id + 1}/{attachment.id}").status_code == 404
