"""Exports of clients, invoices and payments as CSV and XLSX, read back with the csv module and
openpyxl: one row per issued invoice of the period, amounts that add up, numbers and dates as
such in the sheet; from the API and from the admin lists."""
from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from app.billing import services as billing
from app.extensions import db
from app.transfer.imports import import_file
from tests.support.factories import line, login, make_client, make_invoice, make_staff_user
from tests.support.api import api_headers

D = dt.date


@pytest.fixture
def books():
    """Two clients; invoices in March and April 2026 (one paid, one in part), a draft, one in May."""
    rossi = make_client("Rossi S.r.l.", email="rossi@rossi.it")
    bianchi = make_client("Bianchi, Verdi & C. S.n.c.", email="info@bianchi.it")  # a comma, for CSV quoting
    march = make_invoice(rossi, lines=[line(unit_price="100.00")], finalize=True, issue_date=D(2026, 3, 10))
    april = make_invoice(bianchi, lines=[line(unit_price="1000.00"), line(unit_price="0.50", quantity="3")],
                         finalize=True, issue_date=D(2026, 4, 2))
    make_invoice(rossi, finalize=False, issue_date=D(2026, 3, 20))
    make_invoice(rossi, lines=[line(unit_price="9.00")], finalize=True, issue_date=D(2026, 5, 1))
    billing.record_payment(march, amount="122.00", date=D(2026, 3, 31), method="bank_transfer", reference="CRO 123")
    billing.record_payment(april, amount="500.00", date=D(2026, 4, 15), method="cash")
    db.session.commit()
    return march, april


def read_csv(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def read_xlsx(data: bytes) -> list[dict[str, object]]:
    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    header, *rows = list(sheet.iter_rows())
    return [{title.value: cell for title, cell in zip(header, row)} for row in rows]


def test_the_invoices_of_a_period_as_csv(web, books):
    march, april = books
    response = web.get("/api/v1/export/invoices.csv?from=2026-03-01&to=2026-04-30", headers=api_headers(web))
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert 'filename="invoices_2026-03-01_2026-04-30.csv"' in response.headers["Content-Disposition"]
    rows = read_csv(response.data)

    assert [row["number"] for row in rows] == [march.number, april.number]  # no draft, nothing from May
    assert rows[1] == {"number": april.number, "date": "2026-04-02", "due_date": april.due_date.isoformat(),
                       "client": "Bianchi, Verdi & C. S.n.c.", "vat_number": april.bill_vat_number,
                       "currency": "EUR", "subtotal": "1001.50", "tax": "220.33", "total": "1221.83",
                       "paid": "500.00", "balance": "721.83", "status": "partial"}
    assert sum(Decimal(row["total"]) for row in rows) == Decimal("1343.83")
    assert sum(Decimal(row["balance"]) for row in rows) == Decimal("721.83")


def test_the_invoices_as_a_sheet_with_numbers_and_dates(web, books):
    response = web.get("/api/v1/export/invoices.csv?from=2026-03-01&to=2026-04-30&format=xlsx",
                       headers=api_headers(web))
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    rows = read_xlsx(response.data)

    total = rows[1]["total"]
    assert isinstance(total.value, (int, float)) and total.number_format == "#,##0.00"
    assert rows[1]["date"].value == dt.datetime(2026, 4, 2) and rows[1]["date"].is_date
    assert sum(Decimal(str(row["total"].value)) for row in rows) == Decimal("1343.83")
    assert sum(Decimal(str(row["paid"].value)) for row in rows) == Decimal("622.00")


def test_the_payments_of_a_period(web, books):
    march, _april = books
    rows = read_csv(web.get("/api/v1/export/payments.csv?from=2026-03-01&to=2026-03-31",
                            headers=api_headers(web)).data)
    assert rows == [{"date": "2026-03-31", "invoice": march.number, "client": "Rossi S.r.l.",
                     "vat_number": march.client.vat_number, "currency": "EUR", "amount": "122.00",
                     "method": "bank_transfer", "reference": "CRO 123"}]
    sheet = read_xlsx(web.get("/api/v1/export/payments.csv?format=xlsx", headers=api_headers(web)).data)
    assert sum(Decimal(str(row["amount"].value)) for row in sheet) == Decimal("622.00")


def test_the_clients_export_imports_back_as_it_is(web, books):
    rows = read_csv(web.get("/api/v1/export/clients.csv", headers=api_headers(web)).data)
    assert [(row["name"], row["contact_email"]) for row in rows] == [
        ("Bianchi, Verdi & C. S.n.c.", "info@bianchi.it"), ("Rossi S.r.l.", "rossi@rossi.it")]
    exported = web.get("/api/v1/export/clients.csv", headers=api_headers(web)).data
    assert import_file(exported).as_dict() == {"created": 0, "updated": 2, "errors": []}


def test_a_large_export_streams_every_row(web):
    client = make_client()
    for day in range(1, 29):
        make_invoice(client, finalize=True, issue_date=D(2026, 2, day))
    db.session.commit()
    from app.transfer import exports

    exports_batch, exports.BATCH = exports.BATCH, 5  # several batches, each its own chunk
    try:
        response = web.get("/api/v1/export/invoices.csv", headers=api_headers(web))
        assert response.is_streamed
        rows = read_csv(response.data)
    finally:
        exports.BATCH = exports_batch
    assert len(rows) == 28 and sum(Decimal(row["total"]) for row in rows) == Decimal("3416.00")


def test_wrong_periods_and_formats_are_refused_at_the_field(web, books):
    headers = api_headers(web, language="it")
    response = web.get("/api/v1/export/invoices.csv?from=2026-31-01", headers=headers)
    assert response.status_code == 400
    assert response.get_json() == {"message": {"from": ["Inserisci una data nel formato AAAA-MM-GG (per esempio 2026-01-31)."]}}
    assert web.get("/api/v1/export/payments.csv?from=2026-05-01&to=2026-04-01", headers=headers).get_json() == {
        "message": {"to": ["La fine del periodo non può precedere il suo inizio."]}}
    assert web.get("/api/v1/export/clients.csv?format=ods", headers=headers).status_code == 400


def test_each_export_needs_the_read_permission_of_what_it_exports(web, books):
    support = api_headers(web, "Support")  # reads clients, not invoices or payments
    assert web.get("/api/v1/export/clients.csv", headers=support).status_code == 200
    assert web.get("/api/v1/export/invoices.csv", headers=support).status_code == 403
    assert web.get("/api/v1/export/payments.csv", headers=support).status_code == 403
    assert web.get("/api/v1/export/clients.csv").status_code == 401


def test_the_admin_lists_link_to_their_exports(web, books):
    login(web, make_staff_user("Billing").username)
    for list_url, export_url in (("/clientview/list/", "/exports/clients"), ("/invoiceview/list/", "/exports/invoices"),
                                 ("/paymentview/list/", "/exports/payments")):
        page = web.get(list_url).get_data(as_text=True)
        assert f'action="{export_url}"' in page and 'value="xlsx"' in page, list_url
    response = web.get("/exports/invoices?from=2026-04-01&to=2026-04-30&format=xlsx")
    assert [row["total"].value for row in read_xlsx(response.data)] == [pytest.approx(1221.83)]
    assert len(read_csv(web.get("/exports/payments?format=csv").data)) == 2
