"""The quote REST API: like invoices, with a validity date instead of a due date and no payments."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import func, select

from app.billing.models import Quote
from app.billing.numbering import format_number
from app.company.services import get_company
from app.extensions import db
from tests.support.factories import line, make_client, make_quote
from tests.support.api import api_headers, rison

TODAY = dt.date.today()


def quote_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Quote))


def test_anonymous_requests_get_401_on_every_quote_endpoint(web):
    quote = make_quote()
    db.session.commit()
    for method, url in [("get", "/api/v1/quote/"), ("get", f"/api/v1/quote/{quote.id}"),
                        ("post", "/api/v1/quote/"), ("put", f"/api/v1/quote/{quote.id}"),
                        ("post", f"/api/v1/quote/{quote.id}/send"), ("get", f"/api/v1/quote/{quote.id}/pdf")]:
        assert getattr(web, method)(url, json={}).status_code == 401, url


def test_create_a_quote_with_lines(web):
    client = make_client("Rossi S.r.l.")
    db.session.commit()
    response = web.post("/api/v1/quote/", json={
        "client_id": client.id, "issue_date": "2026-06-01", "valid_until": "2026-06-30",
        "lines": [line("Progetto", "1", "1999.99"), line("Formazione", "4", "80", discount="12.5")],
    }, headers=api_headers(web))
    assert response.status_code == 201, response.get_json()
    result = response.get_json()["result"]
    assert (result["status"], result["number"], result["valid_until"]) == ("draft", None, "2026-06-30")
    # 1999.99 + 280.00 = 2279.99 net; 22% → 501.60 (501.5978 half-up)
    assert (result["subtotal"], result["tax_total"], result["total"]) == ("2279.99", "501.60", "2781.59")
    assert [line["amount"] for line in result["lines"]] == ["1999.99", "280.00"]
    assert "due_date" not in result and "balance" not in result
    assert db.session.get(Quote, result["id"]).total == Decimal("2781.59")


def test_quote_errors_are_per_field_and_nothing_is_saved(web):
    client = make_client()
    db.session.commit()
    headers = api_headers(web)
    response = web.post("/api/v1/quote/", json={"client_id": client.id, "lines": [
        line("Progetto", quantity="-3"), line("Extra", tax_rate="122")]}, headers=headers)
    assert response.status_code == 422
    assert set(response.get_json()["message"]) == {"lines.0.quantity", "lines.1.tax_rate"}
    response = web.post("/api/v1/quote/", json={"client_id": 987654, "lines": [line()]}, headers=headers)
    assert response.get_json()["message"] == {"client_id": ["There is no client with this id."]}
    response = web.post("/api/v1/quote/", json={"client_id": client.id, "due_date": "2026-01-01"}, headers=headers)
    assert response.get_json()["message"] == {"due_date": ["Unknown field."]}
    assert quote_count() == 0


def test_an_archived_client_cannot_get_a_quote(web):
    client = make_client(archived=True)
    db.session.commit()
    response = web.post("/api/v1/quote/", json={"client_id": client.id, "lines": [line()]},
                        headers=api_headers(web))
    assert response.status_code == 422
    assert list(response.get_json()["message"]) == ["client_id"]
    assert quote_count() == 0


def test_read_list_and_filter_quotes(web):
    rossi, bianchi = make_client("Rossi S.r.l."), make_client("Bianchi S.p.A.")
    draft = make_quote(rossi)
    sent = make_quote(rossi, finalize=True)
    other = make_quote(bianchi, finalize=True)
    db.session.commit()
    headers = api_headers(web)

    shown = web.get(f"/api/v1/quote/{sent.id}", headers=headers).get_json()["result"]
    assert (shown["number"], shown["status"], shown["total"]) == (sent.number, "sent", "122.00")
    assert web.get("/api/v1/quote/999999", headers=headers).status_code == 404

    listed = web.get("/api/v1/quote/", headers=headers).get_json()
    assert (listed["count"], listed["ids"]) == (3, [other.id, sent.id, draft.id])
    query = rison({"filters": [{"col": "client_id", "opr": "eq", "value": rossi.id},
                               {"col": "status", "opr": "eq", "value": "draft"}]})
    assert web.get(f"/api/v1/quote/?q={query}", headers=headers).get_json()["ids"] == [draft.id]


def test_a_draft_quote_can_be_edited_and_a_sent_one_is_locked(web):
    draft = make_quote()
    sent = make_quote(finalize=True)
    db.session.commit()
    headers = api_headers(web)
    response = web.put(f"/api/v1/quote/{draft.id}", json={"valid_until": "2030-01-31",
                                                           "lines": [line("Progetto", "2", "500")]},
                       headers=headers)
    assert response.status_code == 200, response.get_json()
    assert (response.get_json()["result"]["valid_until"], response.get_json()["result"]["total"]) == (
        "2030-01-31", "1220.00")

    response = web.put(f"/api/v1/quote/{sent.id}", json={"lines": [line("Progetto", "2", "500")]},
                       headers=headers)
    assert response.status_code == 422
    assert list(response.get_json()["message"]) == ["lines"]
    db.session.expire_all()
    assert sent.total == Decimal("122.00")


def test_send_numbers_a_draft_quote(web):
    quote = make_quote(issue_date=dt.date(2026, 7, 1), valid_until=dt.date(2026, 7, 31))
    db.session.commit()
    response = web.post(f"/api/v1/quote/{quote.id}/send", headers=api_headers(web))
    assert response.status_code == 200, response.get_json()
    result = response.get_json()["result"]
    assert (result["status"], result["number"]) == ("sent", format_number(get_company().quote_number_format, 2026, 1))


def test_the_quote_pdf_is_a_pdf(web):
    quote = make_quote(finalize=True)
    db.session.commit()
    response = web.get(f"/api/v1/quote/{quote.id}/pdf", headers=api_headers(web))
    assert (response.status_code, response.mimetype) == (200, "application/pdf")
    assert response.data.startswith(b"%PDF")


def test_a_support_user_cannot_see_or_create_quotes(web):
    client = make_client()
    db.session.commit()
    headers = api_headers(web, "Support")
    assert web.get("/api/v1/quote/", headers=headers).status_code == 403
    assert web.post("/api/v1/quote/", json={"client_id": client.id, "lines": [line()]},
                    headers=headers).status_code == 403
    assert quote_count() == 0
