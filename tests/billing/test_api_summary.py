"""GET /api/v1/client/<id>/summary: money and counts by status, from SQL aggregates."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import event

from app.billing import services as billing
from app.extensions import db
from tests.support.factories import line, make_client, make_invoice, make_quote
from tests.support.api import api_headers

TODAY = dt.date.today()
LONG_AGO = TODAY - dt.timedelta(days=60)
LAST_MONTH = TODAY - dt.timedelta(days=30)


def make_mixed_documents(client) -> None:
    """Totals: 122.00 per default invoice; 1220.00 for the partial one."""
    make_invoice(client)                                                          # draft: not invoiced
    make_invoice(client, finalize=True)                                           # sent, due later
    partial = make_invoice(client, lines=[line("Progetto", "1", "1000")], finalize=True)
    billing.record_payment(partial, amount="500.00")                              # partial: 720.00 due
    paid = make_invoice(client, finalize=True)
    billing.record_payment(paid, amount="122.00")                                 # paid
    billing.cancel_invoice(make_invoice(client, finalize=True))                   # cancelled: not invoiced
    overdue = make_invoice(client, finalize=True, issue_date=LONG_AGO, due_date=LAST_MONTH)
    billing.record_payment(overdue, amount="22.00")                               # overdue and partial: 100.00 due
    make_quote(client)                                                            # quote draft
    make_quote(client, finalize=True)                                             # quote sent
    make_quote(client, finalize=True, issue_date=LONG_AGO, valid_until=LAST_MONTH)  # sent, past validity
    accepted = make_quote(client, finalize=True)
    billing.decide_quote(accepted, accepted=True)


def test_summary_figures_for_a_mixed_set_of_documents(web):
    client = make_client("Rossi S.r.l.")
    make_mixed_documents(client)
    other = make_client("Bianchi S.p.A.")
    make_invoice(other, finalize=True)  # another client's documents never count
    make_quote(other)
    db.session.commit()

    response = web.get(f"/api/v1/client/{client.id}/summary", headers=api_headers(web, "Support"))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["id"] == client.id
    assert body["result"] == {
        # sent 122 + partial 1220 + paid 122 + overdue 122
        "total_invoiced": "1586.00",
        "total_paid": "644.00",
        "total_credited": "0.00",
        "balance_due": "942.00",
        "overdue": "100.00",  # the part of the balance due past its due date
        "currency": "EUR",
        "invoices": {"draft": 1, "sent": 1, "partial": 1, "paid": 1, "cancelled": 1, "overdue": 1},
        "quotes": {"draft": 1, "sent": 1, "accepted": 1, "rejected": 0, "expired": 1},
    }


def test_a_client_without_documents_has_a_zero_summary(web):
    client = make_client()
    db.session.commit()
    result = web.get(f"/api/v1/client/{client.id}/summary", headers=api_headers(web)).get_json()["result"]
    assert (result["total_invoiced"], result["total_paid"], result["balance_due"]) == ("0.00", "0.00", "0.00")
    assert set(result["invoices"].values()) == {0} and set(result["quotes"].values()) == {0}


def test_summary_of_an_unknown_client_is_404_and_anonymous_is_401(web):
    client = make_client()
    db.session.commit()
    assert web.get("/api/v1/client/999999/summary", headers=api_headers(web)).status_code == 404
    assert web.get(f"/api/v1/client/{client.id}/summary").status_code == 401


def count_queries(web, url: str, headers: dict) -> int:
    statements: list[str] = []

    def remember(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    web.get(url, headers=headers)  # the first request loads the user's roles; count the next one
    event.listen(db.engine, "before_cursor_execute", remember)
    try:
        assert web.get(url, headers=headers).status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", remember)
    return len(statements)


def test_the_summary_takes_the_same_number_of_queries_for_one_or_many_documents(web):
    few, many = make_client(), make_client()
    make_invoice(few, finalize=True)
    for _ in range(12):
        make_invoice(many, finalize=True)
        make_quote(many)
    db.session.commit()
    headers = api_headers(web)
    assert count_queries(web, f"/api/v1/client/{few.id}/summary", headers) == \
        count_queries(web, f"/api/v1/client/{many.id}/summary", headers)


def test_lists_take_the_same_number_of_queries_for_one_or_many_rows(web):
    headers = api_headers(web)
    make_invoice(finalize=True)
    db.session.commit()
    one = [count_queries(web, url, headers) for url in ("/api/v1/invoice/", "/api/v1/client/")]
    for _ in range(8):
        make_invoice(make_client(contacts=[{}, {}]), lines=[line(), line("Extra")])
    db.session.commit()
    many = [count_queries(web, url, headers) for url in ("/api/v1/invoice/", "/api/v1/client/")]
    assert one == many
