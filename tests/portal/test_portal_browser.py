"""The portal in a real browser: Debian's Chromium, driven by Playwright, against a live server.

A contact asks for a link, the email arrives at a real SMTP server, the link is opened, the
button pressed; the statement shows the right total; two invoices are ticked and downloaded
as one ZIP whose PDFs are exactly theirs.
"""
from __future__ import annotations

import io
import re
import zipfile

import pytest

from app.billing.models import Invoice
from app.extensions import db
from app.pdf.service import pdf_for
from tests.support.portal import make_client, make_invoice

LINK = re.compile(r"https?://[^\s\"'<>]+/portal/auth/[A-Za-z0-9_-]+")


@pytest.mark.browser
def test_a_contact_signs_in_from_the_email_and_downloads_two_invoices(live_server, smtp_server, browser_page):
    client, _contact = make_client("Rossi Arredamenti S.r.l.", "giulia@rossi.it")
    first = make_invoice(client, amount="100.00")
    second = make_invoice(client, amount="250.00", days_overdue=40)
    third = make_invoice(client, amount="1000.00")
    expected = {f"Fattura_{doc.number.replace('/', '-')}.pdf": doc.id for doc in (first, third)}
    db.session.commit()
    page = browser_page

    page.goto(f"{live_server}/portal/login")
    page.fill("input[name=email]", "giulia@rossi.it")
    page.click("button[type=submit]")
    page.wait_for_selector("text=giulia@rossi.it")

    [message] = smtp_server.to("giulia@rossi.it")
    link = LINK.search(message.get_body(("plain",)).get_content()).group(0)
    assert link.startswith(live_server)
    page.goto(link)
    button = page.locator("form button")
    assert "g*****@r*****.it" in button.inner_text()
    button.click()
    page.wait_for_url(f"{live_server}/portal/")

    assert page.locator("[data-testid=total-due]").inner_text().replace("\xa0", " ") == "1.647,00 €"
    assert page.locator("[data-testid=overdue]").inner_text().replace("\xa0", " ") == "305,00 €"

    page.click("nav.mainnav >> text=Fatture")  # an Italian client reads Italian
    page.check(f"input[name=ids][value='{first.id}']")
    page.check(f"input[name=ids][value='{third.id}']")
    with page.expect_download() as download_info:
        page.click("#download-form button[type=submit]")
    archive = zipfile.ZipFile(io.BytesIO(open(download_info.value.path(), "rb").read()))

    assert sorted(archive.namelist()) == sorted(expected)
    db.session.expire_all()
    for name, invoice_id in expected.items():
        assert archive.read(name) == pdf_for(db.session.get(Invoice, invoice_id))
    assert second.number not in " ".join(archive.namelist())
