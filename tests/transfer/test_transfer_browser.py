"""Import and export in a real browser (Debian's Chromium, driven by Playwright): staff upload a
CSV on the admin's import page, read the preview, import it; then download the invoices of a
period as XLSX from the invoice list, and openpyxl reads the right totals back."""
from __future__ import annotations

import datetime as dt
import io
import threading
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select
from werkzeug.serving import make_server

from app.billing import services as billing
from app.clients.models import Client
from app.extensions import db
from tests.support.browser import sign_in_staff
from tests.support.factories import VALID_PARTITE_IVA, line, make_client, make_invoice, make_staff_user

PORTS = range(5181, 5190)  # this suite's own range on the shared machine
CSV = (
    "name,email,vat_number,city,province,postal_code,contact_name,contact_email\n"
    f"Bianchi Impianti S.r.l.,info@bianchi.it,{VALID_PARTITE_IVA[0]},Milano,MI,20123,Laura Bianchi,laura@bianchi.it\n"
    f"Verdi Studio S.r.l.,studio@verdi.it,{VALID_PARTITE_IVA[1]},Torino,TO,10121,Paolo Verdi,paolo@verdi.it\n"
)


def _server_on_a_free_port(app):
    for port in PORTS:
        try:
            return make_server("127.0.0.1", port, app, threaded=True)
        except OSError:
            continue
    raise RuntimeError(f"no free port in {PORTS}")


@pytest.fixture
def live_server(app):
    server = _server_on_a_free_port(app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    app.config["WTF_CSRF_ENABLED"] = True  # as in production: every form carries its token
    yield f"http://127.0.0.1:{server.server_port}"
    app.config["WTF_CSRF_ENABLED"] = False
    server.shutdown()
    thread.join(timeout=10)


@pytest.mark.browser
def test_staff_import_a_csv_and_download_the_invoices_as_a_sheet(live_server, browser_page):
    page = browser_page
    staff = make_staff_user("Billing")
    rossi = make_client("Rossi S.r.l.", vat_number=VALID_PARTITE_IVA[2])  # none of the file's VAT numbers
    april = make_invoice(rossi, lines=[line(unit_price="1000.00")], finalize=True, issue_date=dt.date(2026, 4, 2))
    make_invoice(rossi, lines=[line(unit_price="250.00")], finalize=True, issue_date=dt.date(2026, 4, 20))
    make_invoice(rossi, lines=[line(unit_price="99.00")], finalize=True, issue_date=dt.date(2026, 5, 2))
    billing.record_payment(april, amount="220.00", date=dt.date(2026, 4, 30))
    db.session.commit()

    sign_in_staff(page, live_server, staff.username)

    page.goto(f"{live_server}/clientview/list/")
    page.click("text=Importa clienti")
    page.set_input_files("#import-upload input[type=file]", files=[
        {"name": "clienti.csv", "mimeType": "text/csv", "buffer": CSV.encode()}])
    page.click("#import-upload button[type=submit]")
    assert "2 clienti saranno creati, 0 aggiornati" in page.inner_text("#import-preview")
    db.session.rollback()
    assert db.session.scalar(select(func.count(Client.id))) == 1  # the preview imported nothing
    page.click("#import-confirm button[type=submit]")
    page.wait_for_url(f"{live_server}/clientview/list/")
    assert "Bianchi Impianti S.r.l." in page.content()
    db.session.rollback()
    assert db.session.scalar(select(func.count(Client.id))) == 3

    page.goto(f"{live_server}/invoiceview/list/")
    page.fill(".export-links input[name=from]", "2026-04-01")
    page.fill(".export-links input[name=to]", "2026-04-30")
    with page.expect_download() as download_info:
        page.click(".export-links button[value=xlsx]")
    download = download_info.value
    assert download.suggested_filename == "invoices_2026-04-01_2026-04-30.xlsx"
    sheet = load_workbook(io.BytesIO(open(download.path(), "rb").read())).worksheets[0]
    header, *rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    values = [dict(zip(header, row)) for row in rows]

    assert [row["number"] for row in values] == [april.number, values[1]["number"]] and len(values) == 2
    assert sum(Decimal(str(row["total"])) for row in values) == Decimal("1525.00")  # 1220.00 + 305.00
    assert sum(Decimal(str(row["paid"])) for row in values) == Decimal("220.00")
    assert sum(Decimal(str(row["balance"])) for row in values) == Decimal("1305.00")
