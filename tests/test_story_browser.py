"""The whole story, as a staff member and a client meet Clientela, in a real browser.

Production's moving parts, all real: the app served by gunicorn on PostgreSQL, an RQ worker
(`flask --app app clientela worker`) sending the emails and rendering the PDFs, an SMTP server
(aiosmtpd) receiving them, and the Stripe stand-in's hosted checkout page signing the webhook
it sends back. Debian's Chromium, driven by Playwright, plays both people:

staff sign in; a client with a wrong Partita IVA is refused in Italian at the field; fixed, it
is saved; a new invoice gets its line and is sent by email; the email arrives with its PDF; the
client opens the link, presses the button, reads the statement; pays on the checkout page; sees
the invoice paid and gets the receipt; downloads two invoices as one ZIP; opens a ticket; staff
answer it in the admin; the client reads the answer.

`CLIENTELA_SCREENSHOTS=1` also saves a screenshot of each step into docs/screenshots/ (see
docs/story.md).
"""
from __future__ import annotations

import datetime as dt
import io
import os
import re
import uuid
import zipfile
from dataclasses import dataclass
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.billing.models import Invoice
from app.clients.models import Client
from app.company.services import get_company
from app.demo import create_demo_data
from app.extensions import db
from app.pdf.service import pdf_filename, pdf_for
from app.security.setup import ensure_admin
from app.tickets.models import Ticket
from tests.support import factories
from tests.support.story import free_port, screenshot, start_gunicorn, start_worker, wait_for_email
from tests.support.stripe import StripeStandIn
from tests.support.browser import CHROMIUM_ARGS

pytestmark = [pytest.mark.browser, pytest.mark.postgres_only]  # the story is told on PostgreSQL

STAFF_USERNAME, STAFF_PASSWORD = "marta", "Clientela-Story-2026!"
CLIENT_EMAIL = "giulia@bianchidesign.it"
LINK = re.compile(r"https?://[^\s\"'<>]+/portal/auth/[A-Za-z0-9_-]+")
REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/15"


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content()


def euros(locator) -> str:
    """A figure as the page shows it, with Babel's non-breaking spaces made plain."""
    return locator.inner_text().replace("\xa0", " ").strip()


@pytest.fixture
def back_office(app):
    """The company's settings, a staff member (both through the app's own code, as `clientela
    init` does) and a dozen demo clients, so the story happens in a back office in use."""
    company = get_company()
    company.legal_name = "Studio Verdi S.r.l."
    company.address, company.postal_code, company.city, company.province = "Via Dante 12", "20121", "Milano", "MI"
    company.vat_number = factories.VALID_PARTITE_IVA[2]
    company.iban = "IT60X0542811101000000123456"
    company.sender_email = "fatture@studioverdi.it"
    company.support_email = "assistenza@studioverdi.it"
    ensure_admin(STAFF_USERNAME, STAFF_PASSWORD, "marta@studioverdi.it")
    staff = app.appbuilder.sm.find_user(username=STAFF_USERNAME)
    staff.first_name, staff.last_name = "Marta", "Verdi"
    db.session.commit()
    create_demo_data(clients=12, invoices_per_client=5, seed=8)  # keeps the company settings above
    return company


@dataclass
class Production:
    base_url: str
    stripe: StripeStandIn


@pytest.fixture
def production(app, _app_context, back_office, smtp_server):
    """gunicorn and an RQ worker on the test database, wired to the SMTP server and the Stripe
    stand-in. Requesting `_app_context` makes this fixture end first: both processes are gone
    before the rows are deleted (and before the session drops the tables)."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with StripeStandIn(f"{base_url}/webhooks/stripe") as stripe_api:
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            "REDIS_URL": REDIS_URL,
            "JOBS_QUEUE": f"story-{uuid.uuid4().hex[:12]}",  # other runs may share this Redis
            "PUBLIC_BASE_URL": base_url,
            "SECRET_KEY": "story-test-secret-key-not-for-production",
            "MAIL_SERVER": smtp_server.host, "MAIL_PORT": str(smtp_server.port),
            "MAIL_USE_TLS": "0", "MAIL_USE_SSL": "0",
            "STRIPE_SECRET_KEY": stripe_api.api_key, "STRIPE_WEBHOOK_SECRET": stripe_api.webhook_secret,
            "STRIPE_API_BASE": stripe_api.api_base,
        }
        processes = []
        try:
            processes.append(start_worker(env))
            processes.append(start_gunicorn(env, port))
            yield Production(base_url, stripe_api)
            for process in processes:
                process.check_alive()
        finally:
            for process in reversed(processes):
                process.stop()
            _drop_queue(env["JOBS_QUEUE"])


def _drop_queue(name: str) -> None:
    """Remove what this run left in Redis under its own queue name (job hashes expire by themselves)."""
    from redis import Redis

    with Redis.from_url(REDIS_URL) as connection:
        for key in connection.scan_iter(match=f"*{name}*"):
            connection.delete(key)


@pytest.fixture
def browser():
    """Headless Debian Chromium on a fresh temporary profile (Playwright's launch makes one);
    each person gets a context of their own, so their cookies stay apart."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def new_page(browser, base_url: str):
    context = browser.new_context(base_url=base_url, locale="it-IT", accept_downloads=True,
                                  viewport={"width": 1280, "height": 800})
    context.set_default_timeout(15_000)
    return context.new_page()


def latest(model, **where):
    """A row as the served app committed it (this test's session may hold an older copy)."""
    db.session.rollback()
    db.session.expire_all()
    return db.session.scalars(select(model).filter_by(**where).order_by(model.id.desc())).first()


def test_the_whole_story_from_a_new_client_to_a_paid_invoice_and_an_answered_ticket(
        app, production, smtp_server, browser):
    base_url = production.base_url
    staff = new_page(browser, base_url)

    # 1. Staff sign in through FAB's login form; the admin speaks Italian.
    staff.goto("/login/")
    staff.fill("#username", STAFF_USERNAME)
    staff.fill("#password", STAFF_PASSWORD)
    screenshot(staff, "01-staff-login")
    staff.click("input[type=submit], button[type=submit]")
    staff.wait_for_selector("a[href='/logout/']", state="attached")
    screenshot(staff, "02-admin-home")

    # 2. A new client with a Partita IVA whose check digit is wrong: refused, in Italian, at the field.
    staff.goto("/clientview/add")
    staff.fill("#name", "Bianchi Design S.r.l.")
    staff.fill("#email", "amministrazione@bianchidesign.it")
    staff.fill("#address", "Corso Venezia 8")
    staff.fill("#city", "Milano")
    staff.fill("#province", "MI")
    staff.fill("#postal_code", "20122")
    staff.fill("#country", "IT")
    staff.fill("#currency", "EUR")
    staff.fill("#vat_number", "12345678901")
    staff.fill("#contacts-0-name", "Giulia Bianchi")
    staff.fill("#contacts-0-email", CLIENT_EMAIL)
    staff.click("form#model_form button[type=submit], form#model_form input[type=submit]")
    vat_error = staff.locator("tr:has(#vat_number) .alert-danger")
    assert "Questa non è una Partita IVA italiana valida" in vat_error.inner_text()
    assert staff.input_value("#contacts-0-email") == CLIENT_EMAIL, "what was typed is kept"
    assert latest(Client, name="Bianchi Design S.r.l.") is None, "nothing is saved"
    screenshot(staff, "03-client-invalid-vat", center_on="#vat_number")

    # 3. Fixed, the client is saved and opened.
    staff.fill("#vat_number", "IT 12345670017")
    staff.click("form#model_form button[type=submit], form#model_form input[type=submit]")
    staff.wait_for_selector(".alert-success")
    client = latest(Client, name="Bianchi Design S.r.l.")
    assert client.vat_number == "12345670017", "stored as the 11 digits"
    assert [contact.email for contact in client.contacts] == [CLIENT_EMAIL]

    # An earlier invoice of this client, already sent and now overdue (for the statement and the ZIP).
    earlier = factories.make_invoice(client, finalize=True,
                                     issue_date=dt.date.today() - dt.timedelta(days=40),
                                     due_date=dt.date.today() - dt.timedelta(days=10),
                                     lines=[factories.line("Logo e immagine coordinata", unit_price="300.00")])
    db.session.commit()

    staff.goto(f"/clientview/show/{client.id}")
    screenshot(staff, "04-client-page")

    # 4. New invoice from the client's page: the editor opens (nothing is stored until Save).
    staff.click("button:has-text('Nuova fattura')")
    staff.wait_for_url(re.compile(r"/invoiceview/add\?client_id=\d+"))
    billed_to = staff.locator(".well").filter(has_text="12345670017")  # the client's billing block, copied
    assert "Bianchi Design S.r.l." in billed_to.inner_text()
    staff.fill("#lines-0-description", "Progettazione sito web")
    staff.fill("#lines-0-quantity", "1")
    staff.fill("#lines-0-unit_price", "1200")
    staff.fill("#lines-0-tax_rate", "22")
    screenshot(staff, "05-invoice-lines")
    staff.click("#editor-save")
    staff.wait_for_url(re.compile(r"/invoiceview/show/\d+"))
    invoice_id = int(staff.url.rsplit("/", 1)[1])
    total_row = staff.locator(".document-lines tfoot tr").filter(has=staff.locator("th")).first
    assert euros(total_row.locator("th").last) == "1.464,00 €"

    # 5. Send by email: the primary contact is ticked; sending finalizes the draft.
    staff.click("a:has-text('Invia via email')")
    assert staff.is_checked("input[name=contact_ids]")
    screenshot(staff, "06-send-by-email")
    staff.click("form button[type=submit]:has-text('Invia via email')")
    staff.wait_for_selector(".alert-success")
    invoice = latest(Invoice, id=invoice_id)
    assert invoice.status == "sent" and invoice.number

    # 6. The worker sends the email, with the PDF and a sign-in link to the portal.
    email = wait_for_email(smtp_server, CLIENT_EMAIL, f"Fattura {invoice.number}")
    assert email["Subject"] == f"Fattura {invoice.number} da Studio Verdi S.r.l."
    [attachment] = [part for part in email.iter_attachments()]
    assert attachment.get_filename() == pdf_filename(invoice)
    assert attachment.get_content().startswith(b"%PDF-")
    link = LINK.search(text_of(email)).group(0)
    assert link.startswith(base_url), "links in emails point at PUBLIC_BASE_URL"

    # 7. The client opens the link: a page with one button (nothing signed in yet); pressing it signs in.
    client_page = new_page(browser, base_url)
    client_page.goto(link)
    button = client_page.locator("form button")
    assert "g*****@b*****.it" in button.inner_text()
    screenshot(client_page, "07-portal-sign-in")
    button.click()
    client_page.wait_for_url(f"{base_url}/portal/**")

    # 8. The statement: both open invoices, and the earlier one overdue.
    client_page.click("nav.mainnav >> text=Estratto conto")
    assert euros(client_page.locator("[data-testid=total-due]")) == "1.830,00 €"
    assert euros(client_page.locator("[data-testid=overdue]")) == "366,00 €"
    screenshot(client_page, "08-portal-statement")

    # 9. Pay now: the checkout page takes the payment and Stripe's signed webhook reaches the app.
    client_page.click(f"a:has-text('{invoice.number}')")
    pay_now = client_page.locator("[data-testid=pay-now]")
    assert "Paga adesso" in pay_now.inner_text() and "1.464,00" in pay_now.inner_text()
    screenshot(client_page, "09-portal-invoice")
    pay_now.click()
    client_page.wait_for_url(re.compile(r"/pay/cs_test_"))
    assert "146400 eur" in client_page.inner_text("body")
    client_page.click("button:has-text('Pay')")

    # 10. Back in the portal: paid, and the receipt arrives by email.
    client_page.wait_for_url(re.compile(rf"/portal/invoices/{invoice_id}/paid"))
    assert client_page.locator("[data-testid=pay-state]").get_attribute("data-state") == "complete"
    assert euros(client_page.locator("[data-testid=balance]")) == "0,00 €"
    screenshot(client_page, "10-portal-paid")
    assert production.stripe.deliveries == [("checkout.session.completed", 200)], "the signed webhook was taken"
    invoice = latest(Invoice, id=invoice_id)
    assert (invoice.status, invoice.balance) == ("paid", Decimal("0.00"))
    assert [(p.amount, p.method) for p in latest(Invoice, id=invoice_id).payments] == [(Decimal("1464.00"), "stripe")]
    receipt = wait_for_email(smtp_server, CLIENT_EMAIL, f"Pagamento ricevuto per la fattura {invoice.number}")
    assert "1.464,00" in text_of(receipt)
    client_page.click("nav.mainnav >> text=Estratto conto")
    assert euros(client_page.locator("[data-testid=total-due]")) == "366,00 €"

    # 11. Two invoices ticked, one ZIP with exactly their PDFs.
    client_page.click("nav.mainnav >> text=Fatture")
    client_page.check(f"input[name=ids][value='{earlier.id}']")
    client_page.check(f"input[name=ids][value='{invoice_id}']")
    screenshot(client_page, "11-portal-invoices")
    with client_page.expect_download() as download_info:
        client_page.click("#download-form button[type=submit]")
    with open(download_info.value.path(), "rb") as handle:
        archive = zipfile.ZipFile(io.BytesIO(handle.read()))
    documents = {pdf_filename(doc): doc.id for doc in (latest(Invoice, id=earlier.id), latest(Invoice, id=invoice_id))}
    assert sorted(archive.namelist()) == sorted(documents)
    for name, document_id in documents.items():
        assert archive.read(name) == pdf_for(db.session.get(Invoice, document_id)), name

    # 12. The client opens a ticket about the invoice.
    client_page.click("nav.mainnav >> text=Assistenza")
    client_page.fill("#subject", "Fattura quietanzata")
    client_page.fill("#body", "Buongiorno,\npotete inviarci la fattura quietanzata per la contabilità?")
    client_page.select_option("#document", value=f"invoice-{invoice_id}")
    screenshot(client_page, "12-portal-new-ticket")
    client_page.click("button:has-text('Invia la richiesta')")
    client_page.wait_for_url(re.compile(r"/portal/tickets/\d+"))
    ticket = latest(Ticket)
    assert (ticket.subject, ticket.status, ticket.invoice_id) == ("Fattura quietanzata", "open", invoice_id)
    wait_for_email(smtp_server, "assistenza@studioverdi.it", "Fattura quietanzata")

    # 13. Staff find it in the admin's ticket inbox and answer.
    staff.goto("/tickets/list/")
    staff.click(f"a[href$='/tickets/show/{ticket.id}']")
    assert "potete inviarci la fattura quietanzata" in staff.inner_text("#thread")
    staff.fill("#reply textarea[name=body]", "Gentile Giulia,\nla trova in allegato all'email di ricevuta. Grazie!")
    screenshot(staff, "13-admin-ticket-reply")
    staff.click("#reply button[type=submit]")
    staff.wait_for_selector(".alert-success")
    assert latest(Ticket, id=ticket.id).status == "answered"
    answer = wait_for_email(smtp_server, CLIENT_EMAIL, "Risposta alla richiesta: Fattura quietanzata")
    assert "la trova in allegato" in text_of(answer)

    # 14. The client reads the answer in the thread.
    client_page.reload()
    thread = client_page.locator("#thread .message-staff")
    assert "la trova in allegato all'email di ricevuta" in thread.inner_text()
    assert "Studio Verdi S.r.l." in thread.inner_text()
    screenshot(client_page, "14-portal-ticket-answered")

    # 15. The client's 360 page tells the whole story to staff.
    staff.goto(f"/clients/{client.id}/dashboard")
    assert euros(staff.locator("[data-figure=total_paid] .clientela-card-value")) == "1.464,00 €"
    assert euros(staff.locator("[data-figure=balance_due] .clientela-card-value")) == "366,00 €"
    staff.click("a[href='#timeline']")
    timeline = staff.locator("#timeline").inner_text()
    assert f"Pagamento di 1.464,00 registrato sulla fattura {invoice.number}" in timeline
    assert "Ticket aperto: Fattura quietanzata" in timeline
    screenshot(staff, "15-client-360")
