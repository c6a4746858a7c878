"""The demo generator: realistic, valid, consistent with the billing rules, additive and gapless."""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

import pytest
from flask_appbuilder import Model
from sqlalchemy import func, select
from stdnum.eu import vat as eu_vat
from stdnum.it import codicefiscale, iva

from app.activity.models import Activity
from app.billing.models import Invoice, InvoiceStatus, NumberSequence, Payment, Quote, QuoteStatus
from app.billing.services import finalize_invoice, new_invoice
from app.billing.totals import STAMP_DUTY, STAMP_DUTY_THRESHOLD, document_totals, line_amount
from app.clients.models import Client, ClientKind, Contact
from app.clients.validation import clean_client_fields
from app.company.services import get_company
from app.demo import create_demo_data
from app.extensions import db
from tests.support.database import KEEP_TABLES

TODAY = dt.date(2025, 3, 14)
CLIENT_FIELDS = ("name", "kind", "email", "phone", "address", "city", "province", "postal_code", "country",
                 "vat_number", "tax_code", "sdi_code", "pec", "language", "currency")


def test_demo_clients_have_valid_tax_ids_and_one_primary_contact():
    summary = create_demo_data(clients=40, invoices_per_client=2, seed=11, today=TODAY)

    clients = db.session.scalars(select(Client)).all()
    assert summary.clients == len(clients) == 40
    kinds = defaultdict(int)
    for client in clients:
        fields = {name: getattr(client, name) for name in CLIENT_FIELDS}
        cleaned = clean_client_fields(fields)
        assert cleaned.errors == {}, client.name
        assert cleaned.values["vat_number"] == client.vat_number
        assert cleaned.values["tax_code"] == client.tax_code
        if client.country == "IT" and client.kind == ClientKind.BUSINESS.value:
            kinds["italian business"] += 1
            assert iva.is_valid(client.vat_number)
            assert client.name.endswith(("S.r.l.", "S.r.l.s.", "S.p.A.", "S.n.c.", "S.a.s."))
            assert len(client.province) == 2 and len(client.postal_code) == 5
        elif client.country == "IT":
            kinds["italian person"] += 1
            assert len(client.tax_code) == 16 and codicefiscale.is_valid(client.tax_code)
        else:
            kinds["eu business"] += 1
            assert client.vat_number.startswith(client.country) and eu_vat.is_valid(client.vat_number)
            assert client.language == "en"
        assert client.email.endswith(".example")  # never a real mailbox
        assert [c.is_primary for c in client.contacts].count(True) == 1
    assert set(kinds) == {"italian business", "italian person", "eu business"}
    assert len({c.email for c in db.session.scalars(select(Contact))}) == summary.contacts


def test_demo_covers_every_invoice_and_quote_status():
    create_demo_data(clients=25, invoices_per_client=6, seed=3, today=TODAY)

    invoices = db.session.scalars(select(Invoice)).all()
    shown = {invoice.display_status(TODAY) for invoice in invoices}
    assert {"draft", "sent", "partial", "paid", "overdue", "cancelled"} <= shown
    assert {quote.status for quote in db.session.scalars(select(Quote))} == {s.value for s in QuoteStatus}
    converted = [invoice for invoice in invoices if invoice.quote_id]
    assert converted, "an accepted quote is converted into an invoice"
    for invoice in converted:
        assert invoice.quote.status == QuoteStatus.ACCEPTED.value
        assert [line.description for line in invoice.lines] == [line.description for line in invoice.quote.lines]
        assert invoice.quote.issue_date <= invoice.issue_date
    assert {line.tax_rate for invoice in invoices for line in invoice.lines} >= {
        Decimal("22"), Decimal("10"), Decimal("4"), Decimal("0")}


def test_demo_totals_follow_the_billing_rules():
    create_demo_data(clients=25, invoices_per_client=6, seed=5, today=TODAY)

    documents = [*db.session.scalars(select(Invoice)), *db.session.scalars(select(Quote))]
    assert documents
    for document in documents:
        assert document.lines, document
        for line in document.lines:
            assert line.amount == line_amount(line.quantity, line.unit_price, line.discount)
        totals = document_totals(document)
        assert (document.subtotal, document.tax_total, document.total) == (
            totals.subtotal, totals.tax_total, totals.total)
        assert document.bill_name == document.client.name
        assert document.bill_vat_number == document.client.vat_number

    for invoice in db.session.scalars(select(Invoice)):
        paid = sum((p.amount for p in invoice.payments), Decimal("0.00"))
        assert invoice.amount_paid == paid
        assert invoice.net_to_pay == document_totals(invoice).net_to_pay
        assert invoice.balance == invoice.net_to_pay - paid
        assert all(invoice.issue_date <= p.date <= TODAY for p in invoice.payments)
        if invoice.status == InvoiceStatus.PAID.value:
            assert invoice.balance == 0 and invoice.payments
        elif invoice.status == InvoiceStatus.PARTIAL.value:
            assert 0 < invoice.amount_paid < invoice.total
        else:
            assert invoice.payments == []
        assert (invoice.number is None) == (invoice.status == InvoiceStatus.DRAFT.value)


def test_demo_numbering_is_gapless_after_two_runs_and_continues_with_finalize():
    create_demo_data(clients=20, invoices_per_client=5, seed=1, today=TODAY)
    create_demo_data(clients=15, invoices_per_client=5, seed=2, today=TODAY)

    assert db.session.scalar(select(func.count(Client.id))) == 35
    for model, kind in ((Invoice, "invoice"), (Quote, "quote")):
        by_year = defaultdict(list)
        for document in db.session.scalars(select(model).where(model.number.is_not(None))):
            by_year[document.year].append(document.sequence)
            assert document.number.endswith(f"{document.year}/{document.sequence:04d}")
        assert by_year
        for year, sequences in by_year.items():
            assert sorted(sequences) == list(range(1, len(sequences) + 1)), (kind, year)
            last = db.session.scalar(
                select(NumberSequence.last_value).where(NumberSequence.kind == kind, NumberSequence.year == year))
            assert last == len(sequences)

    client = db.session.scalars(select(Client).where(Client.country == "IT")).first()
    invoice = new_invoice(client, issue_date=TODAY, lines=[{"description": "Consulenza", "unit_price": "100"}])
    finalize_invoice(invoice)
    taken = db.session.scalars(select(Invoice.sequence).where(Invoice.year == TODAY.year)).all()
    assert invoice.sequence == max(taken) == len(taken)


def test_demo_timeline_tells_what_happened():
    create_demo_data(clients=10, invoices_per_client=6, seed=9, today=TODAY)

    kinds = set(db.session.scalars(select(Activity.kind)))
    assert {"client_created", "invoice_created", "invoice_sent", "payment_recorded", "invoice_paid",
            "invoice_cancelled", "quote_sent", "quote_accepted", "quote_rejected", "quote_expired"} <= kinds
    paid = db.session.scalars(select(Invoice).where(Invoice.status == InvoiceStatus.PAID.value)).first()
    entries = db.session.scalars(select(Activity).where(Activity.invoice_id == paid.id)
                                 .order_by(Activity.created_at)).all()
    assert [e.kind for e in entries][:2] == ["invoice_created", "invoice_sent"]
    assert entries[-1].kind == "invoice_paid" and entries[-1].params == {"number": paid.number}
    recorded = [e.params["amount"] for e in entries if e.kind == "payment_recorded"]
    assert sorted(recorded) == sorted(str(p.amount) for p in paid.payments)


def test_demo_is_deterministic_with_a_seed():
    def snapshot():
        clients = [(c.name, c.vat_number, c.tax_code, c.email) for c in db.session.scalars(select(Client).order_by(Client.id))]
        invoices = [(i.number, i.status, i.total, i.amount_paid)
                    for i in db.session.scalars(select(Invoice).order_by(Invoice.id))]
        return clients, invoices

    create_demo_data(clients=12, invoices_per_client=4, seed=42, today=TODAY)
    first = snapshot()
    db.session.remove()
    with db.engine.begin() as connection:
        for table in reversed(Model.metadata.sorted_tables):
            if table.name not in KEEP_TABLES:
                connection.execute(table.delete())
    create_demo_data(clients=12, invoices_per_client=4, seed=42, today=TODAY)
    assert snapshot() == first
    create_demo_data(clients=12, invoices_per_client=4, seed=43, today=TODAY)
    assert snapshot()[0][12:] != first[0]


def test_demo_fills_company_settings_only_while_they_are_the_defaults():
    create_demo_data(clients=1, invoices_per_client=1, seed=1, today=TODAY)
    company = get_company()
    assert company.legal_name.endswith("S.r.l.") and company.legal_name != "La mia azienda S.r.l."
    assert iva.is_valid(company.vat_number) and company.iban.startswith("IT")

    company.legal_name, company.vat_number = "Officina Neri S.n.c.", "12345678903"
    db.session.commit()
    create_demo_data(clients=1, invoices_per_client=1, seed=2, today=TODAY)
    db.session.expire_all()
    assert (get_company().legal_name, get_company().vat_number) == ("Officina Neri S.n.c.", "12345678903")


@pytest.mark.parametrize("invoices_per_client", [0, 1])
def test_demo_accepts_tiny_runs(invoices_per_client):
    summary = create_demo_data(clients=2, invoices_per_client=invoices_per_client, seed=1, today=TODAY)
    assert summary.invoices == db.session.scalar(select(func.count(Invoice.id))) == 2 * invoices_per_client
    assert summary.payments == db.session.scalar(select(func.count(Payment.id)))


def test_demo_lines_without_vat_name_their_nature_and_stamp_duty_follows_the_rule():
    """Every 0 % line says why (an e-invoice needs it); stamp duty is the rule's, never a 0 % line."""
    create_demo_data(clients=25, invoices_per_client=6, seed=5, today=TODAY)

    invoices = db.session.scalars(select(Invoice)).all()
    lines = [line for invoice in invoices for line in invoice.lines]
    assert all(line.vat_nature for line in lines if not line.tax_rate)
    assert all(not line.vat_nature for line in lines if line.tax_rate)
    assert not any("bollo" in line.description.lower() for line in lines)
    stamped = [invoice for invoice in invoices if invoice.stamp_duty_amount]
    assert stamped, "the demo shows stamp duty somewhere"
    for invoice in invoices:
        vat_free = sum((line.amount for line in invoice.lines if not line.tax_rate), Decimal("0.00"))
        assert invoice.stamp_duty_amount == (STAMP_DUTY if vat_free > STAMP_DUTY_THRESHOLD else 0)
