"""The statement a signed-in contact sees: total due, overdue, aging, and what is waiting."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import event

from app.billing import services as billing
from app.clients.models import Client
from app.extensions import db
from app.portal.statement import balances
from tests.support.portal import TODAY, gross, make_client, make_invoice, make_quote, sign_in


def test_total_due_overdue_and_aging_count_only_this_clients_open_balances(app):
    client, _contact = make_client("Rossi S.r.l.", "giulia@rossi.it")
    other, _ = make_client("Beta S.r.l.", "bruno@beta.it")
    make_invoice(client, amount="100.00")                  # not yet due: 122.00
    make_invoice(client, amount="200.00", days_overdue=0)  # due today is not overdue: 244.00
    make_invoice(client, amount="300.00", days_overdue=1)  # 1–30: 366.00
    make_invoice(client, amount="400.00", days_overdue=30)  # 1–30: 488.00
    make_invoice(client, amount="500.00", days_overdue=31)  # 31–60: 610.00
    make_invoice(client, amount="600.00", days_overdue=90)  # 61–90: 732.00
    partly = make_invoice(client, amount="700.00", days_overdue=91)  # 90+: 854.00, 54.00 paid → 800.00
    billing.record_payment(partly, amount="54.00")
    paid = make_invoice(client, amount="1000.00", days_overdue=5)
    billing.record_payment(paid, amount=paid.balance)
    billing.cancel_invoice(make_invoice(client, amount="2000.00", days_overdue=5))
    make_invoice(client, amount="3000.00", days_overdue=5, finalize=False)  # a draft
    make_invoice(other, amount="5000.00", days_overdue=5)
    db.session.commit()

    [balance] = balances(client.id, TODAY)

    assert balance.currency == "EUR"
    assert balance.aging == {
        "current": gross("100.00") + gross("200.00"),
        "1_30": gross("300.00") + gross("400.00"),
        "31_60": gross("500.00"),
        "61_90": gross("600.00"),
        "90_plus": Decimal("800.00"),
    }
    assert balance.total_due == sum(balance.aging.values()) == Decimal("3362.00")
    assert balance.overdue == balance.total_due - balance.aging["current"]
    assert balance.open_count == 7


def test_the_statement_page_shows_the_figures_payments_and_quotes_awaiting(web):
    client, contact = make_client("Rossi S.r.l.", "giulia@rossi.it", language="en")
    make_invoice(client, amount="100.00")
    late = make_invoice(client, amount="1000.00", days_overdue=45)
    billing.record_payment(late, amount="20.00", date=TODAY)
    quote = make_quote(client, amount="750.00")
    expired = make_quote(client, amount="80.00", valid_until=TODAY - dt.timedelta(days=1))
    sign_in(web, contact)

    page = web.get("/portal/").get_data(as_text=True)

    assert 'data-testid="total-due">€1,322.00<' in page
    assert 'data-testid="overdue">€1,200.00<' in page
    assert 'data-testid="aging-31_60">€1,200.00<' in page
    assert "€20.00" in page and late.number in page
    assert quote.number in page and "€915.00" in page
    assert expired.number not in page, "an expired quote no longer awaits an answer"


def test_a_client_with_nothing_open_is_told_they_are_settled(web):
    _client, contact = make_client("Rossi S.r.l.", "giulia@rossi.it", language="en")
    sign_in(web, contact)
    page = web.get("/portal/").get_data(as_text=True)
    assert 'data-testid="total-due">€0.00<' in page


def _count_queries(app, web, path: str) -> int:
    statements: list[str] = []
    db.session.remove()  # like a real request: an empty identity map, nothing cached

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        assert web.get(path).status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    return len(statements)


def test_statement_and_lists_cost_the_same_queries_for_three_or_thirty_documents(app, web):
    client, contact = make_client("Rossi S.r.l.", "giulia@rossi.it")
    client_id = client.id
    for n in range(3):
        make_invoice(client, days_overdue=n * 20)
        make_quote(client)
    sign_in(web, contact)
    few = {path: _count_queries(app, web, path) for path in ("/portal/", "/portal/invoices", "/portal/quotes")}

    client = db.session.get(Client, client_id)
    for n in range(27):
        invoice = make_invoice(client, days_overdue=n * 5)
        billing.record_payment(invoice, amount="1.00")
        make_quote(client)
    db.session.commit()
    many = {path: _count_queries(app, web, path) for path in ("/portal/", "/portal/invoices", "/portal/quotes")}

    assert many == few
