"""The business dashboard: the admin's home page and the figures behind it."""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest

from app.billing import services as billing
from app.dashboard import queries
from app.extensions import db
from tests.support.factories import TODAY, line, login, make_client, make_invoice, make_quote, make_staff_user


def _days(n: int) -> dt.date:
    return TODAY + dt.timedelta(days=n)


def _open_invoice(client, due_in_days: int, amount: str = "100.00"):
    """A sent invoice of `amount` + 22% VAT, due `due_in_days` from today (negative: late)."""
    return make_invoice(client, finalize=True, issue_date=min(TODAY, _days(due_in_days)),
                        due_date=_days(due_in_days), lines=[line(unit_price=amount)])


def _months_ago(months: int) -> dt.date:
    year, month = divmod(TODAY.year * 12 + TODAY.month - 1 - months, 12)
    return dt.date(year, month + 1, 15)


def test_receivables_are_split_into_aging_buckets_by_days_past_due():
    client = make_client()
    _open_invoice(client, 10)  # current: 122.00
    _open_invoice(client, 0)  # due today: still current, 122.00
    _open_invoice(client, -1)  # 1-30
    _open_invoice(client, -30)  # 1-30
    _open_invoice(client, -31)  # 31-60
    _open_invoice(client, -75)  # 61-90
    _open_invoice(client, -91, "1000.00")  # 90+: 1220.00
    paid = _open_invoice(client, -200)
    billing.record_payment(paid, amount="122.00")  # paid: not a receivable
    make_invoice(client)  # draft: not a receivable
    db.session.commit()

    eur = queries.receivables()["EUR"]
    assert eur.aging == {
        "current": Decimal("244.00"), "1_30": Decimal("244.00"), "31_60": Decimal("122.00"),
        "61_90": Decimal("122.00"), "90_plus": Decimal("1220.00"),
    }
    assert eur.total == Decimal("1952.00") and eur.open_count == 7
    assert eur.overdue_total == Decimal("1708.00") and eur.overdue_count == 5


def test_amounts_in_different_currencies_are_never_added_together():
    _open_invoice(make_client(), -5)
    _open_invoice(make_client(currency="USD"), -5, "50.00")
    db.session.commit()
    per_currency = queries.receivables()
    assert per_currency["EUR"].total == Decimal("122.00")
    assert per_currency["USD"].total == Decimal("61.00")


def test_revenue_per_month_covers_twelve_months_of_payments_including_empty_ones():
    client = make_client()
    for months_ago, amount in ((0, "50.00"), (0, "22.00"), (3, "122.00"), (11, "10.00"), (12, "99.00")):
        invoice = _open_invoice(client, -400)
        billing.record_payment(invoice, amount=amount, date=_months_ago(months_ago))
    db.session.commit()

    months = queries.revenue_by_month("EUR")
    assert len(months) == 12
    assert months[0][0] == _months_ago(11).replace(day=1) and months[-1][0] == TODAY.replace(day=1)
    by_month = dict(months)
    assert by_month[TODAY.replace(day=1)] == Decimal("72.00")
    assert by_month[_months_ago(3).replace(day=1)] == Decimal("122.00")
    assert by_month[_months_ago(11).replace(day=1)] == Decimal("10.00")  # 12 months ago is outside the window
    assert sum(by_month.values()) == Decimal("204.00")


def test_revenue_is_counted_in_the_currency_of_the_invoice_paid_refunds_included():
    eur, usd = _open_invoice(make_client(), -10), _open_invoice(make_client(currency="USD"), -10, "50.00")
    billing.record_payment(eur, amount="100.00")
    payment = billing.record_payment(usd, amount="61.00")
    refund = billing.record_refund(payment, amount="11.00")
    db.session.commit()

    assert (payment.currency, refund.currency) == ("USD", "USD")
    assert dict(queries.revenue_by_month("EUR"))[TODAY.replace(day=1)] == Decimal("100.00")
    assert dict(queries.revenue_by_month("USD"))[TODAY.replace(day=1)] == Decimal("50.00")


def test_top_clients_are_ordered_by_balance_due():
    small, large, settled = make_client("Piccola"), make_client("Grande"), make_client("Saldato")
    _open_invoice(small, 5)
    _open_invoice(large, 5, "1000.00")
    _open_invoice(large, -5)
    billing.record_payment(_open_invoice(settled, 5, "5000.00"), amount="6100.00")
    db.session.commit()
    top = queries.top_clients_by_balance("EUR")
    assert [(row["name"], row["balance_due"], row["open_invoices"]) for row in top] == [
        ("Grande", Decimal("1342.00"), 2), ("Piccola", Decimal("122.00"), 1),
    ]


def test_quotes_awaiting_an_answer_are_sent_and_still_valid():
    client = make_client()
    make_quote(client, finalize=True, valid_until=_days(20))
    soon = make_quote(client, finalize=True, valid_until=_days(2))
    make_quote(client, finalize=True, valid_until=_days(-1), issue_date=_days(-30))  # lapsed
    make_quote(client)  # draft
    billing.decide_quote(make_quote(client, finalize=True), accepted=True)
    db.session.commit()
    awaiting = queries.quotes_awaiting_answer()
    assert awaiting["count"] == 2
    assert awaiting["items"][0]["number"] == soon.number  # the one expiring first


@pytest.fixture
def staff(web):
    login(web, make_staff_user("Billing").username)
    web.get("/lang/en")
    return web


def test_the_home_page_shows_receivables_overdue_charts_and_activity(staff):
    client = make_client("Bianchi Costruzioni")
    _open_invoice(client, -45, "1000.00")
    billing.record_payment(_open_invoice(client, 10), amount="100.00", date=TODAY)
    make_quote(client, finalize=True)
    db.session.commit()

    page = staff.get("/").get_data(as_text=True)
    assert re.search(r'data-figure="receivables".*?€1,242\.00', page, re.S)
    assert re.search(r'data-figure="overdue".*?€1,220\.00.*?1 invoice past due', page, re.S)
    assert re.search(r'data-figure="quotes_awaiting".*?>1<', page, re.S)
    assert page.count('<svg class="clientela-chart"') == 2
    assert "Bianchi Costruzioni" in page and "Payment of" in page
    assert 'href="/clients/%d/dashboard"' % client.id in page
    assert 'data-figure="open_tickets"' not in page  # no tickets module yet: no made-up card


def test_the_home_page_loads_nothing_from_the_internet(staff):
    page = staff.get("/").get_data(as_text=True)
    external = re.findall(r'<(?:script|link|img)[^>]+(?:src|href)="(?:https?:)?//[^"]+"', page)
    assert external == []


def test_chart_labels_are_escaped():
    from app.dashboard.charts import Bar, bar_chart

    svg = str(bar_chart([Bar("<script>x</script>", Decimal("1"), "1 €")], title='a"b'))
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert 'aria-label="a&#34;b"' in svg


def test_anonymous_visitors_are_sent_to_the_login_page(web):
    response = web.get("/")
    assert response.status_code == 302 and "/login/" in response.headers["Location"]
