"""The invoice REST API: lines nested, money as decimal strings, every write through the billing rules."""
from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.billing.models import Invoice, InvoiceLine, NumberSequence, Payment
from app.extensions import db
from tests.support.factories import line, make_client, make_invoice
from tests.support.api import api_headers, rison

TODAY = dt.date.today()


def invoice_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Invoice))


def test_anonymous_requests_get_401_on_every_invoice_endpoint(web):
    invoice = make_invoice()
    db.session.commit()
    for method, url in [("get", "/api/v1/invoice/"), ("get", f"/api/v1/invoice/{invoice.id}"),
                        ("post", "/api/v1/invoice/"), ("put", f"/api/v1/invoice/{invoice.id}"),
                        ("post", f"/api/v1/invoice/{invoice.id}/send"),
                        ("post", f"/api/v1/invoice/{invoice.id}/payment"),
                        ("get", f"/api/v1/invoice/{invoice.id}/pdf")]:
        assert getattr(web, method)(url, json={}).status_code == 401, url
    db.session.expire_all()
    assert invoice.status == "draft"


def test_create_an_invoice_with_lines_answers_totals_as_decimal_strings(web):
    client = make_client("Rossi S.r.l.")
    db.session.commit()
    response = web.post("/api/v1/invoice/", json={
        "client_id": client.id,
        "issue_date": "2026-03-02",
        "due_date": "2026-04-01",
        "notes": "Grazie!",
        "lines": [
            {"description": "Sviluppo", "quantity": "2", "unit_price": "150.00", "tax_rate": "22"},
            {"description": "Hosting", "quantity": 1, "unit_price": 100, "discount": "10", "tax_rate": "22"},
            {"description": "Libro", "quantity": 3, "unit_price": 12.35, "tax_rate": 4},
        ],
    }, headers=api_headers(web))

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    result = body["result"]
    assert result["id"] == body["id"]
    assert (result["client_id"], result["status"], result["number"]) == (client.id, "draft", None)
    assert (result["issue_date"], result["due_date"], result["currency"]) == ("2026-03-02", "2026-04-01", "EUR")
    # 300 + 90 at 22% → 85.80 tax; 37.05 at 4% → 1.48 tax (tax per rate, rounded half-up).
    assert (result["subtotal"], result["tax_total"], result["total"]) == ("427.05", "87.28", "514.33")
    assert (result["amount_paid"], result["balance"], result["overdue"]) == ("0.00", "514.33", False)
    assert result["lines"][0] == {"product_id": None, "description": "Sviluppo", "quantity": "2.000",
                                  "unit_price": "150.00", "discount": "0.00", "tax_rate": "22.00", "vat_nature": "",
                                  "vat_nature_reference": "", "amount": "300.00"}
    assert [line["amount"] for line in result["lines"]] == ["300.00", "90.00", "37.05"]
    assert result["notes"] == "Grazie!"
    invoice = db.session.get(Invoice, body["id"])
    assert invoice.total == Decimal("514.33")
    assert invoice.bill_vat_number == client.vat_number  # the billing block is copied


def test_an_invoice_gets_the_company_payment_terms_when_no_due_date_is_given(web):
    client = make_client()
    db.session.commit()
    response = web.post("/api/v1/invoice/", json={"client_id": client.id, "lines": [line()]},
                        headers=api_headers(web))
    result = response.get_json()["result"]
    assert result["issue_date"] == TODAY.isoformat()
    assert result["due_date"] == (TODAY + dt.timedelta(days=30)).isoformat()


def test_an_invalid_line_is_a_422_named_after_the_line_and_nothing_is_saved(web):
    client = make_client()
    db.session.commit()
    response = web.post("/api/v1/invoice/", json={"client_id": client.id, "lines": [
        line("Sviluppo"),
        {"description": "", "quantity": "-1", "unit_price": "abc", "tax_rate": "22"},
    ]}, headers=api_headers(web))
    assert response.status_code == 422
    assert response.get_json()["message"] == {
        "lines.1.description": ["Describe what is being billed."],
        "lines.1.quantity": ["The quantity must be a number, zero or more."],
        "lines.1.unit_price": ["The unit price must be an amount such as 120.50."],
    }
    assert invoice_count() == 0
    assert db.session.scalar(select(func.count()).select_from(InvoiceLine)) == 0


def test_an_unknown_client_is_a_422_on_client_id(web):
    response = web.post("/api/v1/invoice/", json={"client_id": 424242, "lines": [line()]},
                        headers=api_headers(web))
    assert response.status_code == 422
    assert response.get_json()["message"] == {"client_id": ["There is no client with this id."]}
    response = web.post("/api/v1/invoice/", json={"lines": [line()]}, headers=api_headers(web))
    assert response.get_json()["message"] == {"client_id": ["This field is required."]}
    assert invoice_count() == 0


def test_malformed_fields_are_refused_by_name(web):
    client = make_client()
    db.session.commit()
    response = web.post("/api/v1/invoice/", json={
        "client_id": client.id, "due_date": "31/12/2026", "total": "1.00",
        "lines": [{"description": "x", "price": "10"}],
    }, headers=api_headers(web))
    assert response.status_code == 422
    assert response.get_json()["message"] == {
        "due_date": ["Not a valid date: use YYYY-MM-DD."],
        "total": ["Unknown field."],
        "lines.0.price": ["Unknown field."],
    }
    assert invoice_count() == 0


def test_a_due_date_before_the_issue_date_is_refused(web):
    client = make_client()
    db.session.commit()
    response = web.post("/api/v1/invoice/", json={"client_id": client.id, "issue_date": "2026-05-10",
                                                  "due_date": "2026-05-01", "lines": [line()]},
                        headers=api_headers(web))
    assert response.status_code == 422
    assert list(response.get_json()["message"]) == ["due_date"]
    assert invoice_count() == 0


def test_read_an_invoice_and_404_for_a_missing_one(web):
    invoice = make_invoice(lines=[line("Consulenza", "1.5", "80")])
    db.session.commit()
    headers = api_headers(web)
    response = web.get(f"/api/v1/invoice/{invoice.id}", headers=headers)
    assert response.status_code == 200
    result = response.get_json()["result"]
    assert [(line["description"], line["quantity"], line["amount"]) for line in result["lines"]] == [
        ("Consulenza", "1.500", "120.00")]
    assert (result["total"], result["balance"]) == ("146.40", "146.40")
    assert web.get("/api/v1/invoice/999999", headers=headers).status_code == 404


def test_list_and_filter_invoices_by_client_and_status(web):
    rossi, bianchi = make_client("Rossi S.r.l."), make_client("Bianchi S.p.A.")
    rossi_draft = make_invoice(rossi)
    rossi_sent = make_invoice(rossi, finalize=True)
    bianchi_sent = make_invoice(bianchi, finalize=True)
    db.session.commit()
    headers = api_headers(web)

    everything = web.get("/api/v1/invoice/", headers=headers).get_json()
    assert everything["count"] == 3
    assert everything["ids"] == [bianchi_sent.id, rossi_sent.id, rossi_draft.id]  # newest first
    assert all(invoice["lines"] and invoice["total"] == "122.00" for invoice in everything["result"])

    def ids(*filters) -> list[int]:
        query = rison({"filters": [{"col": col, "opr": "eq", "value": value} for col, value in filters]})
        response = web.get(f"/api/v1/invoice/?q={query}", headers=headers)
        assert response.status_code == 200, response.get_json()
        return sorted(response.get_json()["ids"])

    assert ids(("client_id", rossi.id)) == sorted([rossi_draft.id, rossi_sent.id])
    assert ids(("status", "sent")) == sorted([rossi_sent.id, bianchi_sent.id])
    assert ids(("client_id", rossi.id), ("status", "sent")) == [rossi_sent.id]


def test_a_draft_can_be_edited_and_its_totals_follow(web):
    invoice = make_invoice()
    other = make_client("Bianchi S.p.A.", city="Torino", province="TO", postal_code="10121")
    db.session.commit()
    response = web.put(f"/api/v1/invoice/{invoice.id}", json={
        "client_id": other.id, "notes": "Rivisto",
        "lines": [line("Sviluppo", "3", "100"), line("Hosting", "1", "50", tax_rate="0")],
    }, headers=api_headers(web))
    assert response.status_code == 200, response.get_json()
    result = response.get_json()["result"]
    assert (result["client_id"], result["notes"]) == (other.id, "Rivisto")
    assert (result["subtotal"], result["tax_total"], result["total"]) == ("350.00", "66.00", "416.00")
    db.session.expire_all()
    assert (invoice.bill_name, invoice.bill_city) == ("Bianchi S.p.A.", "Torino")


def test_a_finalized_invoice_lines_cannot_change_through_put(web):
    invoice = make_invoice(finalize=True)
    db.session.commit()
    headers = api_headers(web)
    response = web.put(f"/api/v1/invoice/{invoice.id}", json={"lines": [line("Sconto", "1", "1")]},
                       headers=headers)
    assert response.status_code == 422
    assert list(response.get_json()["message"]) == ["lines"]
    response = web.put(f"/api/v1/invoice/{invoice.id}", json={"due_date": "2099-01-01"}, headers=headers)
    assert list(response.get_json()["message"]) == ["due_date"]
    db.session.expire_all()
    assert [line.description for line in invoice.lines] == ["Consulenza"]
    assert invoice.total == Decimal("122.00")

    response = web.put(f"/api/v1/invoice/{invoice.id}", json={"notes": "Pagare con bonifico"}, headers=headers)
    assert response.status_code == 200
    assert response.get_json()["result"]["notes"] == "Pagare con bonifico"


def test_send_finalizes_a_draft_with_the_next_number_once(web):
    first = make_invoice(issue_date=dt.date(2026, 2, 1))
    second = make_invoice(issue_date=dt.date(2026, 2, 3))
    db.session.commit()
    headers = api_headers(web)

    response = web.post(f"/api/v1/invoice/{first.id}/send", headers=headers)
    assert response.status_code == 200, response.get_json()
    assert (response.get_json()["result"]["status"], response.get_json()["result"]["number"]) == ("sent",
                                                                                                  "2026/0001")
    assert web.post(f"/api/v1/invoice/{second.id}/send", headers=headers).get_json()["result"]["number"] == \
        "2026/0002"
    again = web.post(f"/api/v1/invoice/{first.id}/send", headers=headers)
    assert (again.status_code, again.get_json()["result"]["number"]) == (200, "2026/0001")
    assert web.post("/api/v1/invoice/999999/send", headers=headers).status_code == 404


def test_send_emails_the_pdf_to_the_chosen_contacts(web, smtp_server):
    client = make_client(contacts=[{"name": "Uno", "email": "uno@example.it"},
                                   {"name": "Due", "email": "due@example.it"}])
    invoice = make_invoice(client)
    db.session.commit()
    chosen = [contact.id for contact in client.contacts if contact.email == "due@example.it"]

    response = web.post(f"/api/v1/invoice/{invoice.id}/send", json={"contact_ids": chosen},
                        headers=api_headers(web))

    assert response.status_code == 200, response.get_json()
    [message] = smtp_server.messages
    assert message["To"] == "due@example.it"
    [attachment] = message.iter_attachments()
    assert attachment.get_content().startswith(b"%PDF")


def test_send_to_a_contact_of_another_client_is_refused_and_nothing_changes(web, smtp_server):
    invoice, stranger = make_invoice(make_client()), make_client()
    db.session.commit()
    response = web.post(f"/api/v1/invoice/{invoice.id}/send", json={"contact_ids": [stranger.contacts[0].id]},
                        headers=api_headers(web))
    assert response.status_code == 422
    assert list(response.get_json()["message"]) == ["contact_ids"]
    assert smtp_server.messages == []
    db.session.expire_all()
    assert (invoice.status, invoice.number) == ("draft", None)


def test_an_empty_draft_cannot_be_sent(web):
    invoice = make_invoice(lines=[])
    db.session.commit()
    response = web.post(f"/api/v1/invoice/{invoice.id}/send", headers=api_headers(web))
    assert response.status_code == 422
    assert list(response.get_json()["message"]) == ["lines"]
    db.session.expire_all()
    assert (invoice.status, invoice.number) == ("draft", None)


def test_a_payment_moves_status_and_balance(web):
    invoice = make_invoice(lines=[line("Consulenza", "1", "1000")], finalize=True)
    db.session.commit()
    headers = api_headers(web)

    response = web.post(f"/api/v1/invoice/{invoice.id}/payment", json={
        "amount": "220.00", "method": "bank_transfer", "date": "2026-03-10", "reference": "CRO 1234"},
        headers=headers)
    assert response.status_code == 201, response.get_json()
    payment = response.get_json()["result"]
    assert payment == {"id": response.get_json()["id"], "invoice_id": invoice.id, "amount": "220.00",
                       "method": "bank_transfer", "date": "2026-03-10", "reference": "CRO 1234"}
    shown = web.get(f"/api/v1/invoice/{invoice.id}", headers=headers).get_json()["result"]
    assert (shown["status"], shown["amount_paid"], shown["balance"]) == ("partial", "220.00", "1000.00")

    response = web.post(f"/api/v1/invoice/{invoice.id}/payment", json={"amount": 1000.00, "method": "cash"},
                        headers=headers)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["result"]["date"] == TODAY.isoformat()
    shown = web.get(f"/api/v1/invoice/{invoice.id}", headers=headers).get_json()["result"]
    assert (shown["status"], shown["amount_paid"], shown["balance"]) == ("paid", "1220.00", "0.00")


def test_an_overpayment_is_refused_on_amount_and_nothing_changes(web):
    invoice = make_invoice(finalize=True)
    db.session.commit()
    response = web.post(f"/api/v1/invoice/{invoice.id}/payment", json={"amount": "122.01"},
                        headers=api_headers(web))
    assert response.status_code == 422
    [message] = response.get_json()["message"]["amount"]
    assert message.startswith("This payment is more than the balance due") and "122.00" in message
    db.session.expire_all()
    assert (invoice.status, invoice.amount_paid, invoice.balance) == ("sent", Decimal("0.00"), Decimal("122.00"))
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 0


def test_bad_payment_input_is_refused_by_field(web):
    draft = make_invoice()
    sent = make_invoice(finalize=True)
    db.session.commit()
    headers = api_headers(web)

    def errors(invoice, body) -> dict:
        response = web.post(f"/api/v1/invoice/{invoice.id}/payment", json=body, headers=headers)
        assert response.status_code == 422
        return response.get_json()["message"]

    assert errors(sent, {}) == {"amount": ["This field is required."]}
    assert list(errors(sent, {"amount": "-5"})) == ["amount"]
    assert list(errors(sent, {"amount": "10.001"})) == ["amount"]
    assert list(errors(sent, {"amount": "10", "method": "bitcoin"})) == ["method"]
    assert list(errors(sent, {"amount": "10", "date": "ieri"})) == ["date"]
    assert list(errors(draft, {"amount": "10"})) == ["amount"]  # a draft cannot be paid
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 0


def test_the_pdf_endpoint_answers_a_pdf(web):
    invoice = make_invoice(finalize=True)
    db.session.commit()
    response = web.get(f"/api/v1/invoice/{invoice.id}/pdf", headers=api_headers(web, "Support"))
    assert response.status_code == 403  # Support has no access to invoices
    response = web.get(f"/api/v1/invoice/{invoice.id}/pdf", headers=api_headers(web))
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")
    assert "attachment" in response.headers["Content-Disposition"]
    assert invoice.number.replace("/", "-") in response.headers["Content-Disposition"]


def test_a_support_user_cannot_create_or_send_invoices(web):
    client = make_client()
    invoice = make_invoice(client)
    db.session.commit()
    headers = api_headers(web, "Support")
    response = web.post("/api/v1/invoice/", json={"client_id": client.id, "lines": [line()]}, headers=headers)
    assert response.status_code == 403
    assert web.post(f"/api/v1/invoice/{invoice.id}/send", headers=headers).status_code == 403
    assert web.get("/api/v1/invoice/", headers=headers).status_code == 403
    assert invoice_count() == 1


def test_invoices_are_not_deleted_over_the_api(web):
    invoice = make_invoice(finalize=True)
    db.session.commit()
    assert web.delete(f"/api/v1/invoice/{invoice.id}", headers=api_headers(web)).status_code == 405
    assert invoice_count() == 1


@pytest.mark.postgres_only
def test_two_concurrent_sends_of_one_draft_take_one_number(app, web):
    invoice = make_invoice(issue_date=dt.date(2026, 9, 1))
    db.session.commit()
    url = f"/api/v1/invoice/{invoice.id}/send"
    headers = api_headers(web)
    start = threading.Barrier(4)

    def send() -> int:
        thread_web = app.test_client()
        start.wait()
        return thread_web.post(url, headers=headers).status_code

    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = list(pool.map(lambda _: send(), range(4)))
    assert statuses == [200, 200, 200, 200]
    db.session.expire_all()
    assert invoice.number == "2026/0001"
    sequence = db.session.scalars(select(NumberSequence).where(NumberSequence.kind == "invoice")).one()
    assert sequence.last_value == 1
