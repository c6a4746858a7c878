"""The document state machine (app/billing/states.py): the actions each status offers, the
status people read ("Emessa" until emailed) and the balance shown only where something is owed."""
from __future__ import annotations

import re
from decimal import Decimal

import pytest

from app.billing import services as billing
from app.billing import states
from app.billing.models import Invoice
from app.extensions import db
from tests.support import portal
from tests.support.factories import line, login, make_client, make_invoice, make_quote, make_staff_user


@pytest.fixture
def staff(web):
    login(web, make_staff_user("Billing").username)
    web.get("/lang/en")  # assertions read the English messages
    return web


def _row(page: str, number: str) -> str:
    """The list row of the document numbered `number` (or the only draft's row)."""
    return next(row for row in re.findall(r"<tr\b.*?</tr>", page, flags=re.S) if number in row)


# ---------------------------------------------------------------- the table

def test_each_status_offers_its_own_actions():
    assert states.allowed("invoice", "draft") == {"finalize", "send", "cancel", "edit", "delete"}
    assert "finalize" not in states.allowed("invoice", "partial")
    assert "cancel" not in states.allowed("invoice", "partial")
    assert states.allowed("invoice", "cancelled") == frozenset()
    assert states.allowed("quote", "sent") == {"send", "accept", "reject"}
    assert states.allowed("credit_note", "sent") == {"send", "reopen"}
    assert states.allowed("invoice", "no-such-status") == frozenset()


def test_the_status_after_payments_is_one_rule_for_billing_and_the_demo():
    net = Decimal("122.00")
    assert states.status_after_payments("sent", net, Decimal("0"), net) == "sent"
    assert states.status_after_payments("sent", net, Decimal("50"), Decimal("72.00")) == "partial"
    assert states.status_after_payments("partial", net, net, Decimal("0")) == "paid"
    assert states.status_after_payments("cancelled", net, Decimal("0"), net) == "cancelled"
    assert states.status_after_payments("draft", net, Decimal("0"), net) == "draft"


def test_services_refuse_what_the_table_does_not_allow(app):
    draft = make_invoice()
    with pytest.raises(billing.BillingError) as error:
        billing.record_payment(draft, amount="10.00")
    assert error.value.field == "amount"
    partial = make_invoice(finalize=True)
    billing.record_payment(partial, amount="10.00")
    assert partial.status == "partial"
    assert billing.finalize_invoice(partial).number == partial.number  # finalizing again changes nothing
    with pytest.raises(billing.BillingError):
        billing.cancel_invoice(partial)
    with pytest.raises(billing.BillingError):
        billing.decide_quote(make_quote(), accepted=True)  # a draft quote awaits no answer


# ---------------------------------------------------------------- the admin

def test_a_partly_paid_invoice_offers_payment_and_credit_but_not_finalize_nor_cancel(staff):
    invoice = make_invoice(finalize=True)
    billing.record_payment(invoice, amount="22.00")
    db.session.commit()
    assert invoice.status == "partial"

    page = staff.get(f"/invoiceview/show/{invoice.id}").get_data(as_text=True)

    assert "/invoiceview/action/finalize/" not in page and "/invoiceview/action/cancel/" not in page
    assert f"/invoiceview/payment/{invoice.id}" in page and f"/invoiceview/credit-note/{invoice.id}" in page
    assert f"/invoiceview/edit/{invoice.id}" not in page


def test_a_finalized_invoice_reads_emessa_until_it_is_emailed(web, smtp_server):
    login(web, make_staff_user("Billing").username)  # the admin speaks Italian by default
    invoice = make_invoice(make_client(email="anna@alfa.it"))
    db.session.commit()

    web.post(f"/invoiceview/action/finalize/{invoice.id}")
    db.session.expire_all()
    finalized = db.session.get(Invoice, invoice.id)
    assert finalized.status == "sent" and finalized.emailed_at is None
    listed = web.get("/invoiceview/list/").get_data(as_text=True)
    shown = web.get(f"/invoiceview/show/{invoice.id}").get_data(as_text=True)
    row = _row(listed, finalized.number)
    assert 'status-issued">Emessa<' in row and "Inviata" not in row
    assert 'status-issued">Emessa<' in shown

    web.post(f"/invoiceview/send/{invoice.id}", data={"contact_ids": [str(finalized.client.contacts[0].id)]})
    assert [message["To"] for message in smtp_server.messages] == ["anna@alfa.it"]
    db.session.expire_all()
    assert db.session.get(Invoice, invoice.id).emailed_at is not None
    listed = web.get("/invoiceview/list/").get_data(as_text=True)
    assert 'status-sent">Inviata<' in _row(listed, finalized.number)


def test_drafts_and_cancelled_invoices_show_no_balance_in_the_admin(staff):
    client = make_client()
    draft = make_invoice(client, lines=[line(unit_price="100")])  # 122.00
    cancelled = billing.cancel_invoice(make_invoice(client, lines=[line(unit_price="200")], finalize=True))  # 244.00
    open_one = make_invoice(client, lines=[line(unit_price="300")], finalize=True)  # 366.00
    db.session.commit()

    listed = staff.get("/invoiceview/list/").get_data(as_text=True)
    assert _row(listed, cancelled.number).count("244.00") == 1  # the total, no balance
    assert _row(listed, open_one.number).count("366.00") == 2  # the total and the balance
    assert _row(listed, "122.00").count("122.00") == 1

    for invoice in (draft, cancelled):
        page = staff.get(f"/invoiceview/show/{invoice.id}").get_data(as_text=True)
        assert '<th colspan="5" class="text-right">Balance due</th>' not in page
    page = staff.get(f"/invoiceview/show/{open_one.id}").get_data(as_text=True)
    assert '<th colspan="5" class="text-right">Balance due</th>' in page

    client_page = staff.get(f"/clients/{client.id}/dashboard").get_data(as_text=True)
    assert _row(client_page, cancelled.number).count("244.00") == 1
    assert _row(client_page, open_one.number).count("366.00") == 2


# ---------------------------------------------------------------- the portal

def test_the_portal_shows_no_balance_on_a_cancelled_invoice(web):
    client, contact = portal.make_client("Rossi S.r.l.", "giulia@rossi.it", language="en")
    cancelled = billing.cancel_invoice(portal.make_invoice(client, amount="200.00"))  # 244.00
    open_one = portal.make_invoice(client, amount="300.00")  # 366.00
    portal.sign_in(web, contact)

    listed = web.get("/portal/invoices").get_data(as_text=True)
    assert _row(listed, cancelled.number).count("244.00") == 1
    assert _row(listed, open_one.number).count("366.00") == 2

    page = web.get(f"/portal/invoices/{cancelled.id}").get_data(as_text=True)
    assert 'data-testid="balance"' not in page and "Cancelled" in page
    page = web.get(f"/portal/invoices/{open_one.id}").get_data(as_text=True)
    assert 'data-testid="balance"' in page and "To pay" in page  # issued, not emailed: still to pay
