"""An invoice's life: draft → sent → partial → paid, cancelled, overdue, and locked amounts."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.activity.models import Activity
from app.billing import services as billing
from app.billing.models import Invoice, InvoiceLine
from app.billing.services import BillingError
from app.extensions import db
from tests.support.factories import TODAY, line, make_client, make_invoice, make_staff_user


def test_a_new_invoice_is_a_draft_without_number_and_copies_the_billing_block(app):
    client = make_client("Rossi S.r.l.", city="Torino", province="TO", postal_code="10121")
    invoice = make_invoice(client)
    assert invoice.status == "draft"
    assert invoice.number is None
    assert (invoice.bill_name, invoice.bill_city, invoice.bill_province, invoice.bill_postal_code) == (
        "Rossi S.r.l.", "Torino", "TO", "10121")
    assert invoice.bill_vat_number == client.vat_number
    assert (invoice.total, invoice.balance) == (Decimal("122.00"), Decimal("122.00"))


def test_the_due_date_follows_the_company_payment_terms(app):
    invoice = make_invoice(issue_date=dt.date(2026, 3, 1))
    assert invoice.due_date == dt.date(2026, 3, 31)


def test_a_due_date_before_the_issue_date_is_refused(app):
    with pytest.raises(BillingError) as error:
        make_invoice(issue_date=dt.date(2026, 3, 1), due_date=dt.date(2026, 2, 1))
    assert error.value.field == "due_date"


def test_an_archived_client_cannot_be_billed(app):
    with pytest.raises(BillingError) as error:
        make_invoice(make_client(archived=True))
    assert error.value.field == "client_id"


def test_a_draft_can_be_edited_and_its_totals_follow(app):
    invoice = make_invoice()
    billing.set_lines(invoice, [line("Sito", "2", "250.00"), line("Libro", "1", "20.00", tax_rate="4")])
    assert (invoice.subtotal, invoice.tax_total, invoice.total) == (Decimal("520.00"), Decimal("110.80"), Decimal("630.80"))


def test_invalid_lines_are_refused_per_field_and_the_draft_keeps_its_lines(app):
    invoice = make_invoice()
    with pytest.raises(billing.BillingErrors) as error:
        billing.set_lines(invoice, [line("Ok"), {"description": "", "quantity": "-1", "unit_price": "abc",
                                                 "discount": "150", "tax_rate": "101"}])
    assert set(error.value.errors) == {"lines.1.description", "lines.1.quantity", "lines.1.unit_price",
                                       "lines.1.discount", "lines.1.tax_rate"}
    assert [item.description for item in invoice.lines] == ["Consulenza"]
    assert invoice.total == Decimal("122.00")


def test_a_line_too_large_to_store_is_refused(app):
    invoice = make_invoice()
    with pytest.raises(billing.BillingErrors) as error:
        billing.set_lines(invoice, [line("Enorme", "999999999", "999999999999")])
    assert "lines.0.quantity" in error.value.errors
    assert invoice.total == Decimal("122.00")


def test_a_line_with_more_decimals_than_are_kept_is_refused_rather_than_rounded(app):
    """A price of 10,555 stored as 10,56 beside an amount computed from 10,555 would no longer
    be its quantity times its price (and SdI refuses such a line)."""
    invoice = make_invoice()
    with pytest.raises(billing.BillingErrors) as error:
        billing.set_lines(invoice, [{"description": "Carburante", "quantity": "1.2345", "unit_price": "10.555",
                                     "discount": "2.505", "tax_rate": "22.001"}])
    assert set(error.value.errors) == {"lines.0.quantity", "lines.0.unit_price", "lines.0.discount",
                                       "lines.0.tax_rate"}
    assert str(error.value.errors["lines.0.quantity"]) == "Al massimo 3 decimali."
    assert [item.description for item in invoice.lines] == ["Consulenza"]
    billing.set_lines(invoice, [line("Carburante", "1.234", "10.55", discount="2.5", tax_rate="22")])
    assert invoice.lines[0].quantity == Decimal("1.234")


def test_finalizing_gives_a_number_and_makes_the_invoice_sent(app):
    invoice = make_invoice(issue_date=dt.date(2026, 5, 4), finalize=True)
    assert invoice.status == "sent"
    assert invoice.number == "2026/0001"
    assert invoice.sent_at is not None
    kinds = db.session.scalars(select(Activity.kind).where(Activity.invoice_id == invoice.id)).all()
    assert "invoice_sent" in kinds


def test_an_invoice_without_lines_cannot_be_finalized(app):
    invoice = make_invoice(lines=[])
    with pytest.raises(BillingError) as error:
        billing.finalize_invoice(invoice)
    assert error.value.field == "lines"
    assert invoice.status == "draft" and invoice.number is None


def test_an_invoice_with_a_negative_total_cannot_be_finalized(app):
    invoice = make_invoice(lines=[line("Storno", "1", "-50.00")])
    with pytest.raises(BillingError) as error:
        billing.finalize_invoice(invoice)
    assert error.value.field == "lines"
    assert invoice.number is None


def test_finalizing_twice_keeps_the_first_number(app):
    invoice = make_invoice(finalize=True)
    number = invoice.number
    billing.finalize_invoice(invoice)
    assert invoice.number == number


def test_a_sent_invoices_amounts_are_locked_in_the_service(app):
    invoice = make_invoice(finalize=True)
    with pytest.raises(BillingError) as error:
        billing.set_lines(invoice, [line("Altro", "1", "1.00")])
    assert error.value.field == "lines"
    assert invoice.total == Decimal("122.00")


def test_a_sent_invoices_lines_cannot_be_changed_through_the_orm(app):
    invoice = make_invoice(finalize=True)
    db.session.commit()
    invoice.lines[0].unit_price = Decimal("1.00")
    with pytest.raises(billing.LockedDocumentError):
        db.session.flush()
    db.session.rollback()
    assert db.session.get(Invoice, invoice.id).lines[0].unit_price == Decimal("100.00")


def test_a_sent_invoices_lines_cannot_be_added_or_removed_through_the_orm(app):
    invoice = make_invoice(finalize=True)
    db.session.commit()
    invoice.lines.append(InvoiceLine(description="Extra", quantity=Decimal(1), unit_price=Decimal(5)))
    with pytest.raises(billing.LockedDocumentError):
        db.session.flush()
    db.session.rollback()

    invoice = db.session.get(Invoice, invoice.id)
    invoice.lines.clear()
    with pytest.raises(billing.LockedDocumentError):
        db.session.flush()
    db.session.rollback()
    assert len(db.session.get(Invoice, invoice.id).lines) == 1


def test_a_sent_invoices_stored_totals_cannot_be_changed_through_the_orm(app):
    invoice = make_invoice(finalize=True)
    db.session.commit()
    invoice.total = Decimal("1.00")
    with pytest.raises(billing.LockedDocumentError):
        db.session.flush()
    db.session.rollback()
    assert db.session.get(Invoice, invoice.id).total == Decimal("122.00")


def test_a_sent_invoice_cannot_be_deleted_through_the_orm(app):
    invoice = make_invoice(finalize=True)
    db.session.commit()
    db.session.delete(invoice)
    with pytest.raises(billing.LockedDocumentError):
        db.session.flush()
    db.session.rollback()
    assert db.session.get(Invoice, invoice.id) is not None


def test_a_draft_can_be_deleted(app):
    invoice = make_invoice()
    db.session.commit()
    db.session.delete(invoice)
    db.session.commit()
    assert db.session.get(Invoice, invoice.id) is None


def test_a_sent_invoice_past_its_due_date_shows_as_overdue(app):
    invoice = make_invoice(issue_date=TODAY - dt.timedelta(days=40), due_date=TODAY - dt.timedelta(days=10),
                           finalize=True)
    assert invoice.status == "sent"
    assert invoice.is_overdue()
    assert invoice.display_status() == "overdue"
    assert invoice.display_status(today=TODAY - dt.timedelta(days=11)) == "issued"  # finalized, not emailed yet


def test_a_draft_or_paid_invoice_is_never_overdue(app):
    past = {"issue_date": TODAY - dt.timedelta(days=40), "due_date": TODAY - dt.timedelta(days=10)}
    draft = make_invoice(**past)
    paid = make_invoice(**past, finalize=True)
    billing.record_payment(paid, amount="122.00")
    assert draft.display_status() == "draft"
    assert paid.display_status() == "paid"


def test_a_sent_invoice_without_payments_can_be_cancelled_and_keeps_its_number(app):
    invoice = make_invoice(finalize=True)
    billing.cancel_invoice(invoice)
    db.session.commit()
    assert invoice.status == "cancelled"
    assert invoice.number is not None
    assert not invoice.is_overdue(today=invoice.due_date + dt.timedelta(days=100))


def test_an_invoice_with_payments_cannot_be_cancelled(app):
    invoice = make_invoice(finalize=True)
    billing.record_payment(invoice, amount="10.00")
    with pytest.raises(BillingError):
        billing.cancel_invoice(invoice)
    assert invoice.status == "partial"


def test_a_cancelled_draft_cannot_be_finalized_or_edited(app):
    invoice = make_invoice()
    billing.cancel_invoice(invoice)
    billing.finalize_invoice(invoice)
    assert invoice.status == "cancelled" and invoice.number is None
    with pytest.raises(BillingError):
        billing.set_lines(invoice, [line()])


def test_a_zero_total_invoice_is_paid_when_finalized(app):
    invoice = make_invoice(lines=[line("Omaggio", "1", "0.00")], finalize=True)
    assert invoice.status == "paid"


def test_staff_users_have_the_role_they_were_given(app):
    assert [role.name for role in make_staff_user("Support").roles] == ["Support"]
