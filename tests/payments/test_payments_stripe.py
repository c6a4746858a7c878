"""Pay now with Stripe, specified against a local stand-in for Stripe's API.

The app is served for real (werkzeug, random port) so the stand-in can deliver signed webhooks
to it over HTTP, as Stripe does; the app reaches the stand-in through the official SDK
(STRIPE_API_BASE). Each story ends with exactly the right payments, one receipt email per
payment in the outbox, and the right invoice status.
"""
from __future__ import annotations

import datetime as dt
import json
import re
import threading
import time
import urllib.request
from decimal import Decimal
from urllib.parse import urlsplit

from tests.support import factories
import pytest
from sqlalchemy import func, select
from tests.support.stripe import StripeStandIn
from tests.support.portal import make_client, make_invoice, sign_in
from werkzeug.serving import make_server

from app.activity.models import Activity
from app.billing import services as billing
from app.billing.models import Invoice, Payment
from app.extensions import db
from app.mail.models import OutboxEmail
from app.payments.models import CheckoutSession, StripeEvent, StripeRefund


# ---------------------------------------------------------------- fixtures

@pytest.fixture
def served(app):
    """The app on a real port, for deliveries from the stand-in (and concurrent ones)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def stripe_api(app, served):
    """Stripe configured, pointed at the stand-in, which delivers to the served app's webhook."""
    with StripeStandIn(f"{served}/webhooks/stripe") as standin:
        saved = {key: app.config.get(key) for key in ("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "STRIPE_API_BASE")}
        app.config.update(STRIPE_SECRET_KEY=standin.api_key, STRIPE_WEBHOOK_SECRET=standin.webhook_secret,
                          STRIPE_API_BASE=standin.api_base)
        yield standin
        app.config.update(saved)


@pytest.fixture
def invoice(app):
    """A sent invoice of 100.00 + 22% VAT = 122.00 for Alfa, whose contact is signed in by `client_web`."""
    client, _contact = make_client("Alfa S.r.l.", "anna@alfa.it")
    document = make_invoice(client, amount="100.00")
    db.session.commit()
    return document


@pytest.fixture
def client_web(web, invoice):
    sign_in(web, invoice.client.contacts[0])
    return web


def start_checkout(client_web, stripe_api, invoice) -> dict:
    """Press Pay now; return the stand-in's session the app opened."""
    response = client_web.post(f"/portal/invoices/{invoice.id}/pay")
    assert response.status_code == 303
    session_id = response.headers["Location"].rsplit("/", 1)[1]
    return stripe_api.sessions[session_id]


def fresh(invoice: Invoice) -> Invoice:
    """The invoice as the database has it now (the served app wrote it in another session)."""
    db.session.commit()
    db.session.expire_all()
    return db.session.get(Invoice, invoice.id)


def stripe_payments(invoice: Invoice) -> list[Payment]:
    return db.session.scalars(select(Payment).where(Payment.invoice_id == invoice.id).order_by(Payment.id)).all()


def receipts(invoice: Invoice) -> list[OutboxEmail]:
    return db.session.scalars(
        select(OutboxEmail).where(OutboxEmail.invoice_id == invoice.id, OutboxEmail.kind == "payment_receipt")
    ).all()


def timeline(invoice: Invoice) -> list[str]:
    return db.session.scalars(
        select(Activity.kind).where(Activity.invoice_id == invoice.id).order_by(Activity.id)
    ).all()


def assert_paid_once_by_stripe(invoice: Invoice, session: dict) -> None:
    invoice = fresh(invoice)
    assert invoice.status == "paid"
    assert invoice.balance == Decimal("0.00")
    payments = stripe_payments(invoice)
    assert [(p.amount, p.method, p.stripe_payment_intent) for p in payments] == [
        (Decimal("122.00"), "stripe", session["payment_intent"])]
    assert len(receipts(invoice)) == 1
    assert timeline(invoice).count("payment_recorded") == 1


def assert_unpaid(invoice: Invoice) -> None:
    invoice = fresh(invoice)
    assert invoice.status == "sent"
    assert invoice.balance == Decimal("122.00")
    assert stripe_payments(invoice) == []
    assert receipts(invoice) == []


# ---------------------------------------------------------------- Pay now

def test_without_stripe_keys_pay_now_is_hidden_and_staff_are_told(app, client_web, invoice):
    page = client_web.get(f"/portal/invoices/{invoice.id}").get_data(as_text=True)
    assert 'data-testid="pay-now"' not in page
    response = client_web.post(f"/portal/invoices/{invoice.id}/pay")
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/portal/invoices/{invoice.id}")
    assert db.session.scalar(select(func.count(CheckoutSession.id))) == 0

    staff = app.test_client()
    factories.login(staff, factories.make_staff_user("Billing").username)
    assert 'data-testid="stripe-not-configured"' in staff.get("/").get_data(as_text=True)
    assert 'data-testid="stripe-not-configured"' in staff.get(f"/invoiceview/show/{invoice.id}").get_data(as_text=True)


def test_with_stripe_keys_pay_now_shows_and_the_notice_goes(app, stripe_api, client_web, invoice):
    page = client_web.get(f"/portal/invoices/{invoice.id}").get_data(as_text=True)
    assert 'data-testid="pay-now"' in page
    staff = app.test_client()
    factories.login(staff, factories.make_staff_user("Billing").username)
    assert 'data-testid="stripe-not-configured"' not in staff.get("/").get_data(as_text=True)


def test_pay_now_opens_a_checkout_for_the_balance_due(stripe_api, client_web, invoice):
    session = start_checkout(client_web, stripe_api, invoice)

    assert session["mode"] == "payment"
    assert (session["amount_total"], session["currency"]) == (12200, "eur")
    assert invoice.number in session["line_items_sent"][0]["price_data"]["product_data"]["name"]
    assert session["metadata"]["invoice_id"] == str(invoice.id)
    assert session["payment_intent_data_sent"]["metadata"]["invoice_id"] == str(invoice.id)
    assert session["customer_email"] == "anna@alfa.it"
    assert session["success_url"] == (
        f"http://clientela.test/portal/invoices/{invoice.id}/paid?session_id={{CHECKOUT_SESSION_ID}}")
    assert session["cancel_url"] == f"http://clientela.test/portal/invoices/{invoice.id}/pay/cancelled"
    create = [headers for method, path, headers in stripe_api.requests if path == "/v1/checkout/sessions"]
    assert create and create[0].get("Idempotency-Key")
    record = db.session.scalar(select(CheckoutSession))
    assert (record.stripe_id, record.invoice_id, record.amount_cents, record.currency, record.status) == (
        session["id"], invoice.id, 12200, "eur", "open")


def test_pressing_pay_now_twice_reuses_the_same_checkout(stripe_api, client_web, invoice):
    first = start_checkout(client_web, stripe_api, invoice)
    second = start_checkout(client_web, stripe_api, invoice)
    assert first["id"] == second["id"]
    assert len(stripe_api.sessions) == 1
    assert db.session.scalar(select(func.count(CheckoutSession.id))) == 1


def test_a_paid_cancelled_or_other_clients_invoice_cannot_be_paid(stripe_api, client_web, invoice):
    other_client, _ = make_client("Beta S.r.l.", "bruno@beta.it")
    others = make_invoice(other_client)
    paid = factories.make_paid_invoice(invoice.client)
    cancelled = make_invoice(invoice.client)
    billing.cancel_invoice(cancelled)
    db.session.commit()

    assert client_web.post(f"/portal/invoices/{others.id}/pay").status_code == 404
    for document in (paid, cancelled):
        response = client_web.post(f"/portal/invoices/{document.id}/pay")
        assert response.status_code == 303
        assert response.headers["Location"].endswith(f"/portal/invoices/{document.id}")
        assert 'data-testid="pay-now"' not in client_web.get(f"/portal/invoices/{document.id}").get_data(as_text=True)
    assert stripe_api.sessions == {}


def test_cancelling_on_checkout_comes_back_to_the_invoice_with_nothing_charged(stripe_api, client_web, invoice):
    session = start_checkout(client_web, stripe_api, invoice)
    response = client_web.get(urlsplit(session["cancel_url"]).path)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/portal/invoices/{invoice.id}")
    assert_unpaid(invoice)


# ---------------------------------------------------------------- the happy path

def test_paying_on_checkout_marks_the_invoice_paid_by_itself(stripe_api, client_web, invoice):
    session = start_checkout(client_web, stripe_api, invoice)
    db.session.commit()

    # The client pays on the hosted page; Stripe sends the webhook and redirects back.
    request = urllib.request.Request(session["url"], data=b"", method="POST")
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        opener.open(request)
    except urllib.error.HTTPError as redirect:
        back = redirect.headers["Location"]
    assert stripe_api.deliveries == [("checkout.session.completed", 200)]
    assert_paid_once_by_stripe(invoice, session)
    assert "invoice_paid" in timeline(invoice)
    record = db.session.scalar(select(CheckoutSession))
    assert record.status == "complete" and record.fulfilled_at is not None

    page = client_web.get(back.removeprefix("http://clientela.test"))
    assert 'data-state="complete"' in page.get_data(as_text=True)
    assert_paid_once_by_stripe(invoice, session)  # the success page found it done: still one payment


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


# ---------------------------------------------------------------- webhooks

def test_a_duplicate_delivery_applies_once(stripe_api, client_web, invoice):
    session = start_checkout(client_web, stripe_api, invoice)
    db.session.commit()
    stripe_api.complete(session["id"], deliver=False)
    event = stripe_api.event("checkout.session.completed", session)

    assert stripe_api.deliver(event)[0] == 200
    assert stripe_api.deliver(event)[0] == 200
    assert_paid_once_by_stripe(invoice, session)
    assert db.session.scalar(select(func.count(StripeEvent.id))) == 1


@pytest.mark.postgres_only
def test_ten_concurrent_deliveries_of_one_event_apply_once(stripe_api, client_web, invoice):
    session = start_checkout(client_web, stripe_api, invoice)
    db.session.commit()
    stripe_api.complete(session["id"], deliver=False)
    event = stripe_api.event("checkout.session.completed", session)
    body = json.dumps(event)
    signature = stripe_api.sign(body)
    start = threading.Barrier(10)
    statuses: list[int] = []

    def deliver():
        start.wait()
        statuses.append(stripe_api.deliver(body, signature=signature)[0])

    threads = [threading.Thread(target=deliver) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert statuses == [200] * 10
    assert_paid_once_by_stripe(invoice, session)
    assert db.session.scalar(select(func.count(StripeEvent.id))) == 1


def test_a_tampered_body_is_refused_and_changes_nothing(stripe_api, client_web, invoice):
    session = start_checkout(client_web, stripe_api, invoice)
    db.session.commit()
    stripe_api.complete(session["id"], deliver=False)
    body = json.dumps(stripe_api.event("checkout.session.completed", session))
    signature = stripe_api.sign(body)

    tampered = body.replace('"amount_total": 12200', '"amount_total": 1')
    assert tampered != body
    assert stripe_api.deliver(tampered, signature=signature)[0] == 400
    assert stripe_api.deliver("not json at all", signature=stripe_api.sign("not json at all"))[0] == 400
    assert stripe_api.deliver(body, signature="t=1,v1=deadbeef")[0] == 400
    assert stripe_api.deliver(body, signature=stripe_api.sign(body, secret="whsec_someone_else"))[0] == 400
    assert_unpaid(invoice)
    assert db.session.scalar(select(func.count(StripeEvent.id))) == 0


def test_a_stale_timestamp_is_refused(stripe_api, client_web, invoice):
    session = start_checkout(client_web, stripe_api, invoice)
    db.session.commit()
    stripe_api.complete(session["id"], deliver=False)
    event = stripe_api.event("checkout.session.completed", session)

    assert stripe_api.deliver(event, timestamp=int(time.time()) - 3600)[0] == 400
    assert_unpaid(invoice)
    assert stripe_api.deliver(event)[0] == 200  # the same event, freshly signed, is fine
    assert_paid_once_by_stripe(invoice, session)


def test_a_session_this_app_did_not_create_changes_nothing_and_is_logged(app, stripe_api, client_web, invoice):
    # Someone opens a session with our invoice id in its metadata, straight on the API.
    foreign = stripe_api.open_session({
        "line_items": [{"quantity": "1", "price_data": {"currency": "eur", "unit_amount": "12200"}}],
        "metadata": {"invoice_id": str(invoice.id)},
    })
    db.session.commit()
    status, _body = stripe_api.deliver(stripe_api.event("checkout.session.completed",
                                                        stripe_api.complete(foreign["id"], deliver=False)))

    assert status == 200  # acknowledged, so Stripe stops retrying
    assert_unpaid(invoice)
    event = db.session.scalar(select(StripeEvent))
    assert event.outcome == "refused" and "not created by Clientela" in event.detail
    assert not any(path.startswith("/v1/checkout/sessions/") for _m, path, _h in stripe_api.requests)
    staff = app.test_client()
    factories.login(staff, factories.make_staff_user("Billing").username)
    events_page = staff.get("/stripeeventview/list/").get_data(as_text=True)
    assert foreign["id"] in events_page and "Rifiutato: da controllare" in events_page  # the outcome by its label


def test_a_wrong_amount_changes_nothing_and_staff_see_why(stripe_api, client_web, invoice):
    session = start_checkout(client_web, stripe_api, invoice)
    db.session.commit()
    session["amount_total"] = 100  # Stripe reports 1.00 paid for a 122.00 checkout
    stripe_api.complete(session["id"])

    assert stripe_api.deliveries == [("checkout.session.completed", 200)]
    assert_unpaid(invoice)
    assert "online_payment_problem" in timeline(invoice)
    assert db.session.scalar(select(StripeEvent.outcome)) == "refused"
    assert "100 eur" in db.session.scalar(select(CheckoutSession.detail))


def test_out_of_order_events_still_pay_once(stripe_api, client_web, invoice):
    """An asynchronous method: "succeeded" arrives before "completed (unpaid)"; the late
    "completed" must neither undo nor repeat anything."""
    session = start_checkout(client_web, stripe_api, invoice)
    db.session.commit()
    stripe_api.complete(session["id"], paid=False, deliver=False)
    completed_unpaid = stripe_api.event("checkout.session.completed", session)
    stripe_api.settle_async(session["id"], succeeded=True)
    assert stripe_api.deliver(completed_unpaid)[0] == 200

    assert stripe_api.deliveries == [("checkout.session.async_payment_succeeded", 200),
                                      ("checkout.session.completed", 200)]
    assert_paid_once_by_stripe(invoice, session)


def test_a_refund_arriving_before_its_payment_records_both_in_order(stripe_api, client_web, invoice):
    session = start_checkout(client_web, stripe_api, invoice)
    db.session.commit()
    stripe_api.complete(session["id"], deliver=False)  # the completed event is late
    late_completion = stripe_api.event("checkout.session.completed", session)
    stripe_api.refund(session["id"], amount=2200)
    assert stripe_api.deliver(late_completion)[0] == 200

    invoice = fresh(invoice)
    assert [p.amount for p in stripe_payments(invoice)] == [Decimal("122.00"), Decimal("-22.00")]
    assert (invoice.status, invoice.balance) == ("partial", Decimal("22.00"))
    assert len(receipts(invoice)) == 1
    assert db.session.scalar(select(func.count(StripeRefund.id))) == 1


def test_an_async_payment_that_fails_leaves_the_invoice_open(stripe_api, client_web, invoice):
    session = start_checkout(client_web, stripe_api, invoice)
    db.session.commit()
    stripe_api.complete(session["id"], paid=False)
    stripe_api.settle_async(session["id"], succeeded=False)

    assert_unpaid(invoice)
    assert db.session.scalar(select(CheckoutSession.status)) == "failed"
    assert "online_payment_failed" in timeline(invoice)


# ---------------------------------------------------------------- success page and reconcile

def test_webhook_lost_but_success_page_visited_pays_once(stripe_api, client_web, invoice):
    invoice.client.language = "en"
    db.session.commit()
    session = start_checkout(client_web, stripe_api, invoice)
    db.session.commit()
    stripe_api.complete(session["id"], deliver=False)
    success = urlsplit(session["success_url"].replace("{CHECKOUT_SESSION_ID}", session["id"]))

    page = client_web.get(f"{success.path}?{success.query}&lang=en").get_data(as_text=True)
    assert "Thank you: payment received" in page
    assert_paid_once_by_stripe(invoice, session)

    client_web.get(f"{success.path}?{success.query}")  # reloaded
    assert stripe_api.deliver(stripe_api.event("checkout.session.completed", session))[0] == 200  # webhook, late
    assert_paid_once_by_stripe(invoice, session)


def test_the_success_page_before_payment_says_it_is_processing(stripe_api, client_web, invoice):
    session = start_checkout(client_web, stripe_api, invoice)
    db.session.commit()
    page = client_web.get(f"/portal/invoices/{invoice.id}/paid?session_id={session['id']}&lang=en")
    assert 'data-state="open"' in page.get_data(as_text=True)
    assert_unpaid(invoice)


def test_another_clients_session_on_the_success_page_records_nothing(stripe_api, client_web, invoice):
    other_client, _ = make_client("Beta S.r.l.", "bruno@beta.it")
    others = make_invoice(other_client)
    db.session.commit()
    session = start_checkout(client_web, stripe_api, invoice)
    stripe_api.complete(session["id"], deliver=False)

    assert client_web.get(f"/portal/invoices/{others.id}/paid?session_id={session['id']}").status_code == 404
    assert_unpaid(invoice)


def test_reconcile_records_completed_sessions_whose_webhook_never_came(app, stripe_api, client_web, invoice):
    session = start_checkout(client_web, stripe_api, invoice)
    second_client, second_contact = make_client("Gamma S.r.l.", "gina@gamma.it")
    still_open = make_invoice(second_client)
    db.session.commit()
    other_web = app.test_client()
    sign_in(other_web, second_contact)
    abandoned = start_checkout(other_web, stripe_api, still_open)
    stripe_api.complete(session["id"], deliver=False)
    runner = app.test_cli_runner()

    result = runner.invoke(args=["clientela", "stripe-reconcile"])
    assert "Checked 0" in result.output  # both are too recent to need it
    db.session.execute(CheckoutSession.__table__.update().values(
        created_at=dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - dt.timedelta(minutes=20)))
    db.session.commit()
    result = runner.invoke(args=["clientela", "stripe-reconcile"])

    assert result.exit_code == 0, result.output
    assert "Checked 2" in result.output and "1 applied" in result.output
    assert_paid_once_by_stripe(invoice, session)
    assert_unpaid(still_open)
    assert stripe_api.sessions[abandoned["id"]]["status"] == "open"
    runner.invoke(args=["clientela", "stripe-reconcile"])
    assert_paid_once_by_stripe(invoice, session)


# ---------------------------------------------------------------- balances and refunds

def test_after_a_manual_payment_checkout_asks_for_the_rest(stripe_api, client_web, invoice):
    billing.record_payment(invoice, amount="50.00", method="bank_transfer")
    db.session.commit()
    session = start_checkout(client_web, stripe_api, invoice)
    assert session["amount_total"] == 7200
    db.session.commit()
    stripe_api.complete(session["id"])

    invoice = fresh(invoice)
    assert invoice.status == "paid" and invoice.balance == Decimal("0.00")
    assert [(p.amount, p.method) for p in stripe_payments(invoice)] == [
        (Decimal("50.00"), "bank_transfer"), (Decimal("72.00"), "stripe")]
    assert len(receipts(invoice)) == 2  # one per payment


def test_a_manual_payment_during_checkout_leaves_stripe_money_for_staff_to_settle(stripe_api, client_web, invoice):
    session = start_checkout(client_web, stripe_api, invoice)
    billing.record_payment(invoice, amount="122.00", method="bank_transfer")  # paid by transfer meanwhile
    db.session.commit()
    stripe_api.complete(session["id"])

    invoice = fresh(invoice)
    assert [p.method for p in stripe_payments(invoice)] == ["bank_transfer"]
    assert len(receipts(invoice)) == 1
    assert db.session.scalar(select(CheckoutSession.status)) == "needs_attention"
    assert "online_payment_problem" in timeline(invoice)


def test_a_refund_reopens_the_invoice_and_shows_on_the_statement_and_the_360_page(app, stripe_api, client_web,
                                                                                    invoice):
    session = start_checkout(client_web, stripe_api, invoice)
    db.session.commit()
    stripe_api.complete(session["id"])
    assert_paid_once_by_stripe(invoice, session)

    events = stripe_api.refund(session["id"], amount=2200)  # charge.refunded, then refund.created
    assert [status for _kind, status in stripe_api.deliveries[-2:]] == [200, 200]
    invoice = fresh(invoice)
    assert (invoice.status, invoice.amount_paid, invoice.balance) == ("partial", Decimal("100.00"), Decimal("22.00"))
    assert stripe_api.deliver(events[0])[0] == 200  # redelivered: still one refund

    stripe_api.refund(session["id"])  # and then the rest
    invoice = fresh(invoice)
    assert [p.amount for p in stripe_payments(invoice)] == [Decimal("122.00"), Decimal("-22.00"), Decimal("-100.00")]
    assert (invoice.status, invoice.amount_paid, invoice.balance) == ("sent", Decimal("0.00"), Decimal("122.00"))
    assert len(receipts(invoice)) == 1, "a refund sends no payment receipt"
    assert timeline(invoice).count("payment_refunded") == 2
    assert db.session.scalar(select(func.count(StripeRefund.id))) == 2

    statement = client_web.get("/portal/?lang=en").get_data(as_text=True)
    assert "-€100.00" in statement
    staff = app.test_client()
    factories.login(staff, factories.make_staff_user("Billing").username)
    dashboard = staff.get(f"/clients/{invoice.client_id}/dashboard").get_data(as_text=True)
    assert re.search(r"-\s?€?\s?100[.,]00", dashboard), "the refund is listed with the payments on the 360 page"
