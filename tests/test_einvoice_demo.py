"""The demo's finalized invoices are documents SdI would accept: they pass Clientela's checks
and their FatturaPA file validates against the vendored schema."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from app.billing.models import Invoice
from app.company.services import get_company
from app.demo import create_demo_data
from app.einvoice import checks, services
from app.einvoice.schema import schema_errors
from app.extensions import db


def test_demo_invoices_make_valid_e_invoices():
    create_demo_data(clients=12, invoices_per_client=5, seed=7, today=dt.date(2026, 11, 30))
    company = get_company()
    assert services.enabled(company), "the demo company is an Italian business with a VAT number"
    invoices = db.session.scalars(select(Invoice).where(Invoice.status != "draft")).all()
    assert invoices
    for invoice in invoices:
        checks.check_document(invoice, company)
        content = services.build_xml(invoice, "DEMO1", company)
        assert schema_errors(content) == [], invoice.number
