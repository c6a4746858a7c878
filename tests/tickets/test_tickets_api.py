"""/api/v1/ticket/: list and read tickets with their thread, reply as staff; JWT only."""
from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.mail.models import OutboxEmail
from app.tickets import services
from app.tickets.models import Ticket
from tests.support.portal import make_client
from tests.support.api import api_headers, rison


def _tickets():
    _alfa, anna = make_client("Alfa S.r.l.", "anna@alfa.it")
    _beta, bruno = make_client("Beta S.r.l.", "bruno@beta.it")
    first = services.open_ticket(anna, "Fattura", "Riga 1\nRiga 2")
    services.reply_as_staff(first, None, "Nota", internal=True)
    second = services.open_ticket(bruno, "Accesso", "Non entro")
    services.reply_as_staff(second, None, "Fatto")
    db.session.commit()
    return first, second


def test_anonymous_and_cookie_only_callers_get_401(web):
    first, _second = _tickets()
    assert web.get("/api/v1/ticket/").status_code == 401
    assert web.get(f"/api/v1/ticket/{first.id}").status_code == 401
    assert web.post(f"/api/v1/ticket/{first.id}/reply", json={"body": "x"}).status_code == 401


def test_the_list_is_newest_activity_first_and_filters_by_status(web):
    first, second = _tickets()
    headers = api_headers(web, "Support")

    body = web.get("/api/v1/ticket/", headers=headers).get_json()
    assert body["count"] == 2 and [row["subject"] for row in body["result"]] == ["Accesso", "Fattura"]
    assert "messages" not in body["result"][0]

    query = rison({"filters": [{"col": "status", "opr": "eq", "value": "open"}]})
    body = web.get(f"/api/v1/ticket/?q={query}", headers=headers).get_json()
    assert body["ids"] == [first.id] and body["result"][0]["client_id"] == first.client_id


def test_one_ticket_carries_its_whole_thread_with_notes_marked_internal(web):
    first, _second = _tickets()
    body = web.get(f"/api/v1/ticket/{first.id}", headers=api_headers(web, "Support")).get_json()
    assert body["result"]["status"] == "open"
    assert [(m["body"], m["from_staff"], m["internal"]) for m in body["result"]["messages"]] == [
        ("Riga 1\nRiga 2", False, False), ("Nota", True, True)]


def test_a_reply_answers_the_ticket_and_emails_the_contact(web):
    first, _second = _tickets()
    response = web.post(f"/api/v1/ticket/{first.id}/reply", headers=api_headers(web, "Support"),
                        json={"body": "Corretto, grazie"})

    assert response.status_code == 200
    result = response.get_json()["result"]
    assert result["status"] == "answered" and result["messages"][-1]["body"] == "Corretto, grazie"
    [email] = db.session.scalars(select(OutboxEmail).where(OutboxEmail.kind == "ticket_reply",
                                                           OutboxEmail.to_email == "anna@alfa.it")).all()
    assert "Corretto, grazie" in email.body_text and "/portal/auth/" in email.body_text


def test_a_bad_reply_gets_a_field_error_and_changes_nothing(web):
    first, _second = _tickets()
    headers = api_headers(web, "Support")
    for payload, field in (({"body": "   "}, "body"), ({}, "body"), ({"body": "x", "extra": 1}, "extra")):
        response = web.post(f"/api/v1/ticket/{first.id}/reply", headers=headers, json=payload)
        assert response.status_code == 422, payload
        assert field in response.get_json()["message"], payload
    assert web.post("/api/v1/ticket/999999/reply", headers=headers, json={"body": "x"}).status_code == 404
    db.session.expire_all()
    ticket = db.session.get(Ticket, first.id)
    assert ticket.status == "open" and len(ticket.messages) == 2


def test_billing_staff_cannot_use_the_ticket_api(web):
    first, _second = _tickets()
    headers = api_headers(web, "Billing")
    assert web.get("/api/v1/ticket/", headers=headers).status_code in (401, 403)
    assert web.post(f"/api/v1/ticket/{first.id}/reply", headers=headers, json={"body": "x"}).status_code in (401, 403)
