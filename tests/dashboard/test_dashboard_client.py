"""The client 360° page and the figures behind it (`app.billing.accounts.client_summary`)."""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.billing import services as billing
from app.billing.accounts import client_summary
from app.extensions import db
from app.portal.models import PortalToken
from app.portal.tokens import hash_token
from tests.support.factories import TODAY, line, login, make_client, make_invoice, make_quote, make_staff_user


def _client_with_one_of_everything():
    """A client with an invoice in every status and quotes in several.

    Invoices (each 100 + 22% = 122.00 unless noted):
    draft; sent (due in the future); partial (50 paid); paid; cancelled;
    overdue (sent, due 10 days ago, 244.00); overdue and partly paid (122.00, 22 paid).
    """
    client = make_client("Rossi Impianti S.r.l.")
    make_invoice(client)  # draft
    make_invoice(client, finalize=True, due_date=TODAY + dt.timedelta(days=30))  # sent
    partial = make_invoice(client, finalize=True, due_date=TODAY + dt.timedelta(days=30))
    billing.record_payment(partial, amount="50.00")
    paid = make_invoice(client, finalize=True)
    billing.record_payment(paid, amount="122.00")
    billing.cancel_invoice(make_invoice(client, finalize=True))
    past = TODAY - dt.timedelta(days=40)
    make_invoice(client, finalize=True, issue_date=past, due_date=TODAY - dt.timedelta(days=10),
                 lines=[line(unit_price="200.00")])
    late_partial = make_invoice(client, finalize=True, issue_date=past, due_date=TODAY - dt.timedelta(days=1))
    billing.record_payment(late_partial, amount="22.00")

    make_quote(client)  # draft
    make_quote(client, finalize=True)  # sent
    accepted = make_quote(client, finalize=True)
    billing.decide_quote(accepted, accepted=True)
    rejected = make_quote(client, finalize=True)
    billing.decide_quote(rejected, accepted=False)
    db.session.commit()
    return client


def test_the_summary_counts_finalized_invoices_and_splits_out_the_overdue_ones():
    client = _client_with_one_of_everything()
    other = make_client()
    make_invoice(other, finalize=True)  # another client's invoice never leaks in
    db.session.commit()

    summary = client_summary(client.id)

    # Invoiced: sent 122 + partial 122 + paid 122 + overdue 244 + late partial 122 (no draft, no cancelled).
    assert summary["total_invoiced"] == Decimal("732.00")
    assert summary["total_paid"] == Decimal("194.00")  # 50 + 122 + 22
    assert summary["balance_due"] == Decimal("538.00")  # 122 + 72 + 244 + 100
    assert summary["overdue"] == Decimal("344.00")  # 244 + 100
    assert summary["invoices"] == {"draft": 1, "sent": 1, "partial": 1, "paid": 1, "cancelled": 1, "overdue": 2}
    assert summary["quotes"] == {"draft": 1, "sent": 1, "accepted": 1, "rejected": 1}
    assert all(isinstance(summary[key], Decimal) for key in ("total_invoiced", "total_paid", "balance_due", "overdue"))


def test_a_client_without_documents_has_zero_figures():
    client = make_client()
    db.session.commit()
    assert client_summary(client.id) == {
        "total_invoiced": Decimal("0.00"), "total_paid": Decimal("0.00"), "total_credited": Decimal("0.00"),
        "balance_due": Decimal("0.00"), "overdue": Decimal("0.00"), "invoices": {}, "quotes": {},
    }


def test_an_invoice_due_today_is_not_overdue_yet():
    client = make_client()
    make_invoice(client, finalize=True, due_date=TODAY)
    db.session.commit()
    summary = client_summary(client.id)
    assert summary["invoices"] == {"sent": 1}
    assert summary["overdue"] == Decimal("0.00")
    assert client_summary(client.id, today=TODAY + dt.timedelta(days=1))["invoices"] == {"overdue": 1}


@pytest.fixture
def billing_staff(web):
    user = make_staff_user("Billing")
    login(web, user.username)
    return web


def _card(page: str, figure: str) -> str:
    match = re.search(rf'data-figure="{figure}".*?clientela-card-value">([^<]+)<', page, re.S)
    assert match, f"no {figure} card"
    return match.group(1).strip()


def test_the_360_page_shows_the_figures_formatted_for_the_staff_members_language(billing_staff):
    client = _client_with_one_of_everything()

    page = billing_staff.get(f"/clients/{client.id}/dashboard").get_data(as_text=True)
    assert "Rossi Impianti S.r.l." in page
    assert _card(page, "total_invoiced") == "732,00\xa0€"
    assert _card(page, "total_paid") == "194,00\xa0€"
    assert _card(page, "balance_due") == "538,00\xa0€"
    assert _card(page, "overdue") == "344,00\xa0€"

    billing_staff.get("/lang/en")
    page = billing_staff.get(f"/clients/{client.id}/dashboard").get_data(as_text=True)
    assert _card(page, "total_invoiced") == "€732.00"


def test_the_360_page_has_status_chips_tabs_and_a_timeline(billing_staff):
    client = _client_with_one_of_everything()
    billing_staff.get("/lang/en")
    page = billing_staff.get(f"/clients/{client.id}/dashboard").get_data(as_text=True)

    invoices_tab, quotes_tab = page.split('id="quotes"', 1)
    chip = re.compile(r'data-status="(\w+)"><span class="label[^"]*">([^<]*)</span>')
    assert dict(chip.findall(invoices_tab)) == {
        "draft": "Draft 1", "sent": "Sent 1", "partial": "Partially paid 1", "paid": "Paid 1",
        "overdue": "Overdue 2", "cancelled": "Cancelled 1",
    }
    assert dict(chip.findall(quotes_tab.split('id="payments"', 1)[0])) == {
        "draft": "Draft 1", "sent": "Sent 1", "accepted": "Accepted 1", "rejected": "Rejected 1",
    }
    for tab in ("#invoices", "#quotes", "#payments", "#email-templates", "#contacts", "#timeline"):
        assert f'href="{tab}"' in page
    assert 'href="#tickets"' not in page  # no tickets module yet: no empty, fake tab
    assert "Payment of" in page and "recorded on invoice" in page  # the timeline, in English


def test_quick_actions_open_the_editor_for_this_client_and_store_nothing_until_saved(billing_staff):
    # Changed with the one-page editor: the buttons open it; a document is made only by Save.
    from app.billing.models import Invoice, Quote

    client = make_client("Verdi S.r.l.")
    db.session.commit()
    page = billing_staff.get(f"/clients/{client.id}/dashboard").get_data(as_text=True)
    new_invoice = re.search(r'<form method="post" action="([^"]*invoiceview/new/\d+)"', page).group(1)
    new_quote = re.search(r'<form method="post" action="([^"]*quoteview/new/\d+)"', page).group(1)

    opened = billing_staff.post(new_invoice)
    quoted = billing_staff.post(new_quote)

    assert opened.headers["Location"].endswith(f"/invoiceview/add?client_id={client.id}")
    assert quoted.headers["Location"].endswith(f"/quoteview/add?client_id={client.id}")
    editor = billing_staff.get(opened.headers["Location"]).get_data(as_text=True)
    assert "Verdi S.r.l." in editor and 'id="document-editor"' in editor
    assert db.session.scalars(select(Invoice)).all() == [] and db.session.scalars(select(Quote)).all() == []


def test_send_statement_emails_the_balance_due_and_a_portal_link(billing_staff, smtp_server):
    client = make_client(language="en", contacts=[{"name": "Anna", "email": "anna@example.it"}])
    make_invoice(client, finalize=True)
    db.session.commit()
    page = billing_staff.get(f"/clients/{client.id}/dashboard").get_data(as_text=True)
    action = re.search(r'<form method="post" action="([^"]*/\d+/send-statement)"', page).group(1)

    billing_staff.post(action)

    [message] = smtp_server.messages
    assert message["To"] == "anna@example.it"
    text = message.get_body(("plain",)).get_content()
    assert "Total due: €122.00" in text
    assert "http://clientela.test/portal/auth/" in text


def test_an_unknown_client_is_a_404(billing_staff):
    assert billing_staff.get("/clients/999999/dashboard").status_code == 404


def test_the_360_page_needs_a_signed_in_staff_member(web):
    client = make_client()
    db.session.commit()
    response = web.get(f"/clients/{client.id}/dashboard")
    assert response.status_code == 302
    assert "/login/" in response.headers["Location"]


def test_a_portal_link_is_shown_once_and_only_its_hash_is_stored(billing_staff):
    client = make_client(contacts=[{"name": "Maria Rossi", "email": "maria@rossi.it"}])
    contact = client.contacts[0]
    db.session.commit()

    response = billing_staff.post(f"/clients/{client.id}/portal-link", data={"contact_id": contact.id})
    assert response.status_code == 200
    link = re.search(r'value="(http://clientela\.test/portal/auth/[^"]+)"', response.get_data(as_text=True)).group(1)
    raw = link.rsplit("/", 1)[1]
    token = db.session.scalars(select(PortalToken)).one()
    assert token.contact_id == contact.id
    assert token.token_hash == hash_token(raw) and raw not in token.token_hash

    # Reloading the page does not show the link again.
    assert raw not in billing_staff.get(f"/clients/{client.id}/dashboard").get_data(as_text=True)


def test_a_portal_link_cannot_be_issued_for_another_clients_contact(billing_staff):
    client = make_client()
    stranger = make_client()
    db.session.commit()
    response = billing_staff.post(f"/clients/{client.id}/portal-link", data={"contact_id": stranger.contacts[0].id})
    assert response.status_code == 404
    assert db.session.scalars(select(PortalToken)).all() == []


def test_support_staff_read_the_360_page_but_cannot_issue_portal_links(web):
    client = make_client()
    db.session.commit()
    user = make_staff_user("Support")
    login(web, user.username)
    page = web.get(f"/clients/{client.id}/dashboard")
    assert page.status_code == 200
    assert "invoiceview/new" not in page.get_data(as_text=True), "no buttons that would answer 403"
    response = web.post(f"/clients/{client.id}/portal-link", data={"contact_id": client.contacts[0].id})
    assert response.status_code == 403
    assert db.session.scalars(select(PortalToken)).all() == []


def test_a_sent_quote_past_its_validity_counts_as_expired():
    client = make_client()
    make_quote(client, finalize=True, issue_date=TODAY - dt.timedelta(days=40), valid_until=TODAY - dt.timedelta(days=1))
    make_quote(client, finalize=True, valid_until=TODAY)
    db.session.commit()
    assert client_summary(client.id)["quotes"] == {"expired": 1, "sent": 1}


def test_the_api_summary_answers_the_same_figures_as_the_360_page(web):
    from tests.support.api import api_headers

    client = _client_with_one_of_everything()
    response = web.get(f"/api/v1/client/{client.id}/summary", headers=api_headers(web))
    assert response.status_code == 200
    result = response.get_json()["result"]
    assert (result["total_invoiced"], result["total_paid"], result["balance_due"], result["overdue"]) == (
        "732.00", "194.00", "538.00", "344.00")
    assert result["invoices"] == {"draft": 1, "sent": 1, "partial": 1, "paid": 1, "cancelled": 1, "overdue": 2}
    assert result["quotes"] == {"draft": 1, "sent": 1, "accepted": 1, "rejected": 1, "expired": 0}
