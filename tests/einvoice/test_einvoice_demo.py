"""The demo's finalized invoices are documents SdI would accept: they pass Clientela's checks,
and the demo stores each one's FatturaPA file, which validates against the vendored schema
and downloads like any other."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from app.billing.models import Invoice
from app.company.services import get_company
from app.demo import create_demo_data
from app.einvoice import checks, services
from app.einvoice.models import EInvoiceFile
from app.einvoice.schema import schema_errors
from app.extensions import db
from tests.support.factories import STAFF_PASSWORD, make_staff_user

TODAY = dt.date(2026, 11, 30)


@pytest.fixture
def api(web):
    user = make_staff_user("Billing")
    db.session.commit()
    response = web.post("/api/v1/security/login", json={"username": user.username, "password": STAFF_PASSWORD,
                                                         "provider": "db", "refresh": False})
    return {"Authorization": f"Bearer {response.get_json()['access_token']}"}


def test_demo_invoices_make_valid_e_invoices():
    create_demo_data(clients=12, invoices_per_client=5, seed=7, today=TODAY)
    company = get_company()
    assert services.enabled(company), "the demo company is an Italian business with a VAT number"
    invoices = db.session.scalars(select(Invoice).where(Invoice.status != "draft")).all()
    assert invoices
    for invoice in invoices:
        checks.check_document(invoice, company)
        content = services.build_xml(invoice, "DEMO1", company)
        assert schema_errors(content) == [], invoice.number


def test_the_demo_stores_a_valid_file_for_every_finalized_invoice(web, api):
    summary = create_demo_data(clients=12, invoices_per_client=5, seed=7, today=TODAY)

    invoices = db.session.scalars(select(Invoice).order_by(Invoice.id)).all()
    finalized = [invoice for invoice in invoices if invoice.status != "draft"]
    assert finalized and len(finalized) < len(invoices)  # drafts too, which have no file
    assert summary.einvoices == len(finalized) and summary.einvoice_seconds > 0
    for invoice in invoices:
        file = services.current_file(invoice)
        if invoice.status == "draft":
            assert file is None and invoice.sdi_file_name == ""
            continue
        assert file is not None, invoice.number
        assert file.document_number == invoice.number and invoice.sdi_file_name == file.file_name
        assert schema_errors(file.content) == [], invoice.number
    sample = finalized[:: max(1, len(finalized) // 8)]
    for invoice in sample:
        response = web.get(f"/api/v1/invoice/{invoice.id}/fatturapa", headers=api)
        assert response.status_code == 200, invoice.number
        assert response.data == services.current_file(invoice).content
    draft = next(invoice for invoice in invoices if invoice.status == "draft")
    assert web.get(f"/api/v1/invoice/{draft.id}/fatturapa", headers=api).status_code == 409

    # A second run continues the progressives: every file name stays unique.
    create_demo_data(clients=3, invoices_per_client=4, seed=8, today=TODAY)
    names = db.session.scalars(select(EInvoiceFile.file_name)).all()
    assert len(names) == len(set(names)) == db.session.scalar(
        select(func.count(Invoice.id)).where(Invoice.status != "draft"))


def test_no_files_when_asked_or_when_the_company_sends_by_pec():
    summary = create_demo_data(clients=3, invoices_per_client=4, seed=7, today=TODAY, einvoices=False)
    assert summary.invoices and summary.einvoices == 0
    assert db.session.scalar(select(func.count(EInvoiceFile.id))) == 0

    get_company().einvoice_channel = "pec"  # demo files must never reach SdI
    db.session.commit()
    assert create_demo_data(clients=3, invoices_per_client=4, seed=8, today=TODAY).einvoices == 0
    assert db.session.scalar(select(func.count(EInvoiceFile.id))) == 0
