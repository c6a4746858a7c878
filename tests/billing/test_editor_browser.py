"""The invoice editor in a real browser (Debian's Chromium, driven by Playwright), in Italian:
three lines, a discount and two VAT rates typed in one page without a reload, Italian amounts
and dates, the totals following every keystroke; saved once, finalized, and the same totals
read back from the PDF (issue 14's "Done when")."""
from __future__ import annotations

import datetime as dt
import random
import tempfile
import threading
from decimal import Decimal
from types import SimpleNamespace

import pytest
from babel.numbers import format_decimal
from sqlalchemy import func, select
from werkzeug.serving import make_server

from app.billing.models import Invoice
from app.billing.totals import TaxTerms, compute_totals, line_amount
from app.company.services import get_company
from app.extensions import db
from app.fab.fields import AMOUNT_FORMAT, NUMBER_FORMAT
from app.i18n import parse_number
from app.money import CENT
from tests.support.browser import CHROMIUM_ARGS
from tests.support.factories import STAFF_PASSWORD, make_client, make_staff_user
from tests.support.pdf import pdf_text
from tests.support.story import screenshot

pytestmark = pytest.mark.browser

PORTS = range(5110, 5120)  # this suite's own range on the shared machine


@pytest.fixture
def live_server(app):
    """The app on a local port, with CSRF on as in production (every form carries its token)."""
    for port in PORTS:
        try:
            server = make_server("127.0.0.1", port, app, threaded=True)
            break
        except OSError:
            continue
    else:
        raise RuntimeError(f"no free port in {PORTS}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    app.config["WTF_CSRF_ENABLED"] = True
    yield f"http://127.0.0.1:{server.server_port}"
    app.config["WTF_CSRF_ENABLED"] = False
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def page(live_server):
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="clientela-chromium-") as profile, sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True, locale="it-IT",
            base_url=live_server, viewport={"width": 1366, "height": 900})
        context.set_default_timeout(15_000)
        try:
            yield context.new_page()
        finally:
            context.close()


def plain(text: str) -> str:
    """A figure as shown, Babel's non-breaking spaces made plain."""
    return text.replace("\xa0", " ").replace("\u202f", " ").strip()


def sign_in(page) -> None:
    staff = make_staff_user("Billing")
    page.goto("/login/")
    page.fill("#username", staff.username)
    page.fill("#password", STAFF_PASSWORD)
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_selector("a[href='/logout/']", state="attached")
    page.goto("/lang/it")


def test_an_italian_invoice_typed_in_one_page_has_the_same_totals_on_the_pdf(page):
    from playwright.sync_api import expect

    company = get_company()
    company.legal_name = "Studio Verdi S.r.l."
    company.default_tax_rate = Decimal("22.00")
    company.withholding_rate = Decimal(0)
    client = make_client("Bianchi Design S.r.l.", language="it")
    db.session.commit()
    sign_in(page)

    page.goto(f"/invoiceview/new/{client.id}")  # "Nuova fattura": the empty editor, nothing stored
    page.wait_for_selector("#document-editor")
    db.session.rollback()
    assert db.session.scalar(select(func.count(Invoice.id))) == 0
    page.evaluate("window.__sameDocument = true")  # gone if the page ever reloads

    total = page.locator("[data-total=total]")
    subtotal = page.locator("[data-total=subtotal]")
    expect(total).to_have_text("0,00\xa0€")
    assert page.input_value("#lines-0-tax_rate") == "22", "the company's rate is shown, not applied silently"

    widths = page.evaluate("() => [...document.querySelectorAll('#editor-lines thead th')]"
                           ".map(th => th.getBoundingClientRect().width)")
    assert widths[1] == max(widths) and widths[1] > 2 * sorted(widths)[-2], "the description is the widest column"

    page.fill("#issue_date", "15/12/2026")
    page.fill("#due_date", "14/01/2027")

    # Line 1: an Italian amount, the totals following each keystroke.
    page.fill("#lines-0-description", "Progettazione sito web\nGrafica e sviluppo")
    price = page.locator("#lines-0-unit_price")
    price.press_sequentially("1.355")
    expect(total).to_have_text("1.653,10\xa0€")  # 1.355,00 + 22 %
    price.press_sequentially(",25")
    expect(page.locator("tr.editor-line").nth(0).locator("[data-amount]")).to_have_text("1.355,25\xa0€")
    expect(total).to_have_text("1.653,41\xa0€")

    # Enter in the last row adds the next one; line 2 has a discount.
    page.locator("#lines-0-tax_rate").press("Enter")
    second = page.locator("tr.editor-line").nth(1)
    expect(second).to_be_visible()
    second.locator("[data-field=description]").fill("Sviluppo")
    second.locator("[data-field=quantity]").fill("2,5")
    second.locator("[data-field=unit_price]").fill("100")
    second.locator("[data-field=discount]").fill("10")
    expect(second.locator("[data-amount]")).to_have_text("225,00\xa0€")
    expect(subtotal).to_have_text("1.580,25\xa0€")

    # A row added by the button and removed again changes nothing.
    page.click("#editor-add-line")
    page.locator("tr.editor-line").nth(2).locator("[data-field=unit_price]").fill("999")
    expect(subtotal).to_have_text("2.579,25\xa0€")
    page.locator("tr.editor-line").nth(2).locator("[data-remove]").click()
    expect(subtotal).to_have_text("1.580,25\xa0€")

    # Line 3 at 10 % VAT.
    page.click("#editor-add-line")
    third = page.locator("tr.editor-line").nth(2)
    third.locator("[data-field=description]").fill("Manuale utente")
    third.locator("[data-field=quantity]").fill("3")
    third.locator("[data-field=unit_price]").fill("19,99")
    third.locator("[data-field=tax_rate]").fill("10")
    expect(third.locator("[data-amount]")).to_have_text("59,97\xa0€")

    vat_rows = page.locator("#editor-vat tr")
    expect(vat_rows).to_have_count(2)
    shown = {
        "subtotal": plain(subtotal.inner_text()),
        "vat_10": plain(vat_rows.nth(0).locator("td").last.inner_text()),
        "vat_22": plain(vat_rows.nth(1).locator("td").last.inner_text()),
        "tax_total": plain(page.locator("[data-total=tax_total]").inner_text()),
        "total": plain(total.inner_text()),
    }
    assert shown == {"subtotal": "1.640,22 €", "vat_10": "6,00 €", "vat_22": "347,66 €",
                     "tax_total": "353,66 €", "total": "1.993,88 €"}
    assert "10% su 59,97 €" in plain(vat_rows.nth(0).inner_text())
    assert "22% su 1.580,25 €" in plain(vat_rows.nth(1).inner_text())
    assert page.evaluate("window.__sameDocument === true"), "all of it in one page, without a reload"

    # Saved once: one invoice, with the totals the page showed.
    screenshot(page, "editor-italian-invoice", center_on="#editor-totals")
    page.click("#editor-save")
    page.wait_for_url("**/invoiceview/show/*")
    db.session.rollback()
    [invoice] = db.session.scalars(select(Invoice)).all()
    assert (invoice.issue_date, invoice.due_date) == (dt.date(2026, 12, 15), dt.date(2027, 1, 14))
    assert [line.description for line in invoice.lines] == [
        "Progettazione sito web\nGrafica e sviluppo", "Sviluppo", "Manuale utente"]
    assert (invoice.subtotal, invoice.tax_total, invoice.total) == (
        Decimal("1640.22"), Decimal("353.66"), Decimal("1993.88"))

    # Finalized from its page (FAB's action and its confirmation), then the PDF says the same.
    page.click("[id='btn-action-InvoiceView.action-finalize']")
    page.click("#modal-confirm-ok")
    page.wait_for_selector(".alert-success")
    db.session.rollback()
    invoice = db.session.get(Invoice, invoice.id)
    assert invoice.status == "sent" and invoice.number
    response = page.request.get(f"/invoiceview/pdf/{invoice.id}")
    assert response.ok and response.body().startswith(b"%PDF-")
    text = pdf_text(response.body())
    for figure in shown.values():
        assert figure.replace(" €", "") in text, figure
    assert "1.355,25" in text and "225,00" in text and "59,97" in text


def _italian(value: Decimal, amount: bool = False) -> str:
    return format_decimal(value, format=AMOUNT_FORMAT if amount else NUMBER_FORMAT, locale="it")


def _text(value: Decimal) -> str:
    return f"{value.quantize(CENT) + 0:f}"  # + 0: Decimal's -0.00 is the browser's 0.00


def test_the_browsers_arithmetic_is_the_servers_on_random_documents(page):
    """editor.js against app/billing/totals.py and app/i18n.parse_number, case by case: line
    amounts, VAT blocks, pension fund, stamp duty, withholding and split payment, to the cent."""
    client = make_client()
    db.session.commit()
    sign_in(page)
    page.goto(f"/invoiceview/add?client_id={client.id}")
    page.wait_for_function("window.clientelaEditor !== undefined")

    texts = ["1.355,25", "1355,25", "12,5", "1.355", "1355.25", "-3", " 1 355,25 ", "1,355.25", "1.35.5", "abc",
             "1e5", "NaN", "€ 3", "0,001", "1.234.567,891", "12.34", "1.2345", "+7", "-0,5", "1..2", ",5",
             "5,", "1.355,", ".5", "1.", "+-5", "-,5", "1.3555,5", "123.4567", "12.345,6", "0012"]
    parsed = page.evaluate("texts => texts.map(t => window.clientelaEditor.parseNumber(t))", texts)
    for text, value in zip(texts, parsed):
        try:
            expected = parse_number(text, "it")
        except ValueError:
            expected = None
        got = None if value is None else Decimal(value["n"]).scaleb(-value["s"])
        assert got == expected, (text, got, expected)

    rng = random.Random(14)
    cases, expected = [], []
    for _ in range(300):
        lines = []
        for _ in range(rng.randint(1, 6)):
            rate = rng.choice([Decimal(22), Decimal(10), Decimal(4), Decimal("5.5"), Decimal(0)])
            lines.append(SimpleNamespace(
                quantity=Decimal(rng.randint(0, 5000)) / rng.choice([1, 10, 100, 1000]),
                unit_price=Decimal(rng.randint(-20000, 2000000)) / 100,
                discount=rng.choice([Decimal(0), Decimal(rng.randint(0, 10000)) / 100]),
                tax_rate=rate, vat_nature=rng.choice(["N2.2", "N4", "N3.1"]) if not rate else ""))
        terms = TaxTerms(withholding_rate=rng.choice([Decimal(0), Decimal(20), Decimal("11.5")]),
                         pension_fund_type=rng.choice(["", "TC22", "TC04"]), pension_fund_rate=Decimal(4),
                         pension_fund_tax_rate=rng.choice([Decimal(22), Decimal(0)]),
                         stamp_duty_auto=rng.random() < 0.7, stamp_duty_charged=rng.random() < 0.5,
                         split_payment=rng.random() < 0.2)
        cases.append({
            "rows": [{"quantity": _italian(line.quantity), "unit_price": _italian(line.unit_price, amount=True),
                      "discount": _italian(line.discount), "tax_rate": _italian(line.tax_rate),
                      "nature": line.vat_nature} for line in lines],
            "terms": {"withholding_rate": f"{terms.withholding_rate:f}", "pension_fund_type": terms.pension_fund_type,
                      "pension_fund_rate": f"{terms.pension_fund_rate:f}",
                      "pension_fund_tax_rate": f"{terms.pension_fund_tax_rate:f}",
                      "stamp_duty_auto": terms.stamp_duty_auto, "stamp_duty_charged": terms.stamp_duty_charged,
                      "split_payment": terms.split_payment},
        })
        totals = compute_totals(lines, terms)
        expected.append({
            "amounts": [_text(line_amount(line.quantity, line.unit_price, line.discount)) for line in lines],
            "subtotal": _text(totals.subtotal), "tax_total": _text(totals.tax_total), "total": _text(totals.total),
            "pension_fund": _text(totals.pension_fund_amount), "stamp_duty": _text(totals.stamp_duty_amount),
            "withholding": _text(totals.withholding_amount), "net_to_pay": _text(totals.net_to_pay),
            "taxes": [[_text(t.rate), t.nature, _text(t.taxable), _text(t.tax)] for t in totals.taxes],
        })
    got = page.evaluate("cases => cases.map(c => window.clientelaEditor.totals(c.rows, c.terms))", cases)
    for case, browser, server in zip(cases, got, expected):
        assert browser == server, case
