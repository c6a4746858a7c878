"""The staff invoice, quote and payment pages: thin pages over the billing rules."""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.activity.models import Activity
from app.billing.models import Invoice, Payment, Quote
from app.extensions import db
from tests.support.admin import line_form
from tests.support.factories import login, make_client, make_invoice, make_quote, make_staff_user
from tests.support.queries import counted_statements

TODAY = dt.date.today()


@pytest.fixture
def staff(web):
    user = make_staff_user("Billing")
    login(web, user.username)
    web.get("/lang/en")  # assertions read the English messages
    return web


def test_a_new_invoice_for_a_client_opens_the_editor_with_the_billing_block_and_is_made_on_save(staff):
    # Changed with the one-page editor: "New invoice" no longer makes a draft; Save does.
    client = make_client("Rossi S.r.l.", city="Torino", province="TO", postal_code="10122")
    db.session.commit()
    response = staff.post(f"/invoiceview/new/{client.id}")
    assert response.headers["Location"].endswith(f"/invoiceview/add?client_id={client.id}")
    page = staff.get(f"/invoiceview/add?client_id={client.id}").get_data(as_text=True)
    assert "Rossi S.r.l." in page and client.vat_number in page
    assert db.session.scalars(select(Invoice)).all() == []
    form = line_form(Invoice(issue_date=TODAY, due_date=TODAY), [
        {"description": "Sviluppo", "quantity": "1", "unit_price": "100", "discount": "0", "tax_rate": "22"}])
    response = staff.post(f"/invoiceview/add?client_id={client.id}", data=form)
    invoice = db.session.scalars(select(Invoice)).one()
    assert response.headers["Location"].endswith(f"/invoiceview/show/{invoice.id}")
    assert (invoice.bill_name, invoice.bill_city, invoice.bill_vat_number) == ("Rossi S.r.l.", "Torino",
                                                                                client.vat_number)


def test_lines_are_saved_inline_through_the_billing_rules(staff):
    invoice = make_invoice(lines=[])
    db.session.commit()
    form = line_form(invoice, [
        {"description": "Sviluppo", "quantity": "2", "unit_price": "150", "discount": "0", "tax_rate": "22"},
        {"description": "Hosting", "quantity": "1", "unit_price": "100", "discount": "10", "tax_rate": "22"},
    ])
    assert staff.post(f"/invoiceview/edit/{invoice.id}", data=form).status_code == 302
    db.session.refresh(invoice)
    assert [line.description for line in invoice.lines] == ["Sviluppo", "Hosting"]
    assert (invoice.subtotal, invoice.tax_total, invoice.total) == (Decimal("390.00"), Decimal("85.80"),
                                                                    Decimal("475.80"))


def test_the_draft_form_shows_its_lines_as_typed_numbers(staff):
    invoice = make_invoice(lines=[{"description": "Sviluppo", "quantity": "2.5", "unit_price": "120.50",
                                   "tax_rate": "22"}])
    db.session.commit()
    page = staff.get(f"/invoiceview/edit/{invoice.id}").get_data(as_text=True)
    # The description is a growing text box; a price shows its cents (the editor's notation).
    assert "Sviluppo</textarea>" in page and 'value="2.5"' in page and 'value="120.50"' in page


def test_a_negative_quantity_is_refused_at_the_line_and_nothing_is_saved(staff):
    invoice = make_invoice()
    db.session.commit()
    form = line_form(invoice, [
        {"description": "Sviluppo", "quantity": "-2", "unit_price": "150", "discount": "0", "tax_rate": "22"},
    ])
    response = staff.post(f"/invoiceview/edit/{invoice.id}", data=form)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "The quantity must be a number, zero or more." in page
    assert 'value="-2"' in page and "Sviluppo</textarea>" in page
    db.session.refresh(invoice)
    assert [line.description for line in invoice.lines] == ["Consulenza"]
    assert invoice.total == Decimal("122.00")


def test_finalize_is_a_post_action_that_numbers_the_invoice_and_locks_its_lines(staff):
    invoice = make_invoice()
    db.session.commit()
    staff.get(f"/invoiceview/action/finalize/{invoice.id}")
    db.session.refresh(invoice)
    assert invoice.status == "draft"  # a GET changes nothing

    staff.post(f"/invoiceview/action/finalize/{invoice.id}")
    db.session.refresh(invoice)
    assert invoice.status == "sent" and invoice.number == f"{TODAY.year}/0001"

    response = staff.get(f"/invoiceview/edit/{invoice.id}")
    assert response.status_code == 302  # back to the show page: no form for a finalized invoice
    response = staff.post(f"/invoiceview/edit/{invoice.id}", data=line_form(invoice, [
        {"description": "Altro", "quantity": "1", "unit_price": "1", "discount": "0", "tax_rate": "22"}]))
    db.session.refresh(invoice)
    assert [line.description for line in invoice.lines] == ["Consulenza"]


def test_the_timeline_names_staff_by_their_full_name_as_ticket_threads_do(web):
    user = make_staff_user("Billing")
    user.first_name, user.last_name = "Marta", "Bianchi"
    login(web, user.username)
    invoice = make_invoice()
    db.session.commit()

    web.post(f"/invoiceview/action/finalize/{invoice.id}")

    entry = db.session.scalars(select(Activity).where(Activity.kind == "invoice_sent")).one()
    assert entry.actor == "Marta Bianchi"


def test_the_show_page_offers_only_the_buttons_that_apply(staff):
    draft = make_invoice()
    sent = make_invoice(finalize=True)
    db.session.commit()
    draft_page = staff.get(f"/invoiceview/show/{draft.id}").get_data(as_text=True)
    sent_page = staff.get(f"/invoiceview/show/{sent.id}").get_data(as_text=True)
    assert "/invoiceview/action/finalize/" in draft_page and "Record payment" not in draft_page
    assert "/invoiceview/action/finalize/" not in sent_page and f"/invoiceview/payment/{sent.id}" in sent_page
    assert "Consulenza" in sent_page and f"/invoiceview/pdf/{sent.id}" in sent_page


def test_record_payment_moves_the_balance_and_refuses_overpayment_at_the_amount(staff):
    invoice = make_invoice(finalize=True)
    db.session.commit()
    response = staff.post(f"/invoiceview/payment/{invoice.id}", data={
        "amount": "500.00", "date": TODAY.isoformat(), "method": "bank_transfer", "reference": "CRO 1"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "more than the balance due" in page and 'value="CRO 1"' in page
    assert db.session.scalar(select(func.count(Payment.id))) == 0

    response = staff.post(f"/invoiceview/payment/{invoice.id}", data={
        "amount": "22.00", "date": TODAY.isoformat(), "method": "bank_transfer", "reference": "CRO 2"})
    assert response.status_code == 302
    db.session.refresh(invoice)
    assert (invoice.status, invoice.amount_paid, invoice.balance) == ("partial", Decimal("22.00"), Decimal("100.00"))
    assert "CRO 2" in staff.get("/paymentview/list/").get_data(as_text=True)


def test_an_open_invoice_past_its_due_date_is_listed_as_overdue(staff):
    make_invoice(finalize=True, issue_date=TODAY - dt.timedelta(days=60), due_date=TODAY - dt.timedelta(days=30))
    db.session.commit()
    page = staff.get("/invoiceview/list/").get_data(as_text=True)
    assert "status-overdue" in page and "Overdue" in page


def test_cancel_refuses_an_invoice_with_payments(staff):
    invoice = make_invoice(finalize=True)
    from app.billing import services

    services.record_payment(invoice, amount="10.00")
    db.session.commit()
    response = staff.post(f"/invoiceview/action/cancel/{invoice.id}", follow_redirects=True)
    assert "An invoice with payments cannot be cancelled." in response.get_data(as_text=True)
    db.session.refresh(invoice)
    assert invoice.status == "partial"


def test_a_quote_is_finalized_accepted_for_the_client_and_converted_in_one_click(staff):
    quote = make_quote()
    db.session.commit()
    staff.post(f"/quoteview/action/finalize/{quote.id}")
    staff.post(f"/quoteview/action/accept/{quote.id}")
    response = staff.post(f"/quoteview/action/convert/{quote.id}")
    invoice = db.session.scalars(select(Invoice)).one()
    assert response.headers["Location"].endswith(f"/invoiceview/show/{invoice.id}")
    assert invoice.quote_id == quote.id and invoice.status == "draft" and invoice.total == Decimal("122.00")
    staff.post(f"/quoteview/action/convert/{quote.id}")
    assert db.session.scalar(select(func.count(Invoice.id))) == 1


def test_a_quote_can_be_rejected_for_the_client(staff):
    quote = make_quote(finalize=True)
    db.session.commit()
    staff.post(f"/quoteview/action/reject/{quote.id}")
    db.session.refresh(quote)
    assert quote.status == "rejected"


def test_the_pdf_downloads_as_an_attachment(staff):
    invoice = make_invoice(finalize=True)
    db.session.commit()
    response = staff.get(f"/invoiceview/pdf/{invoice.id}")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")
    assert "attachment" in response.headers["Content-Disposition"]


def test_only_drafts_can_be_deleted(staff):
    draft, sent = make_invoice(), make_invoice(finalize=True)
    db.session.commit()
    staff.post(f"/invoiceview/delete/{draft.id}")
    staff.post(f"/invoiceview/delete/{sent.id}")
    assert db.session.scalars(select(Invoice.id)).all() == [sent.id]


@pytest.mark.parametrize("path", ["/invoiceview/list/", "/paymentview/list/", "/quoteview/list/"])
def test_list_pages_run_the_same_number_of_queries_for_3_or_15_documents(staff, path):
    def add_documents(count):
        for _ in range(count):
            invoice = make_invoice(make_client(), finalize=True)
            from app.billing import services

            services.record_payment(invoice, amount="10.00")
            make_quote(invoice.client, finalize=True)
        db.session.commit()

    def queries():
        staff.get(path)
        with counted_statements() as counter:
            assert staff.get(path).status_code == 200
        return counter["n"]

    add_documents(3)
    few = queries()
    add_documents(12)
    assert queries() == few


def test_send_by_email_finalizes_the_draft_and_mails_the_chosen_contacts(staff, smtp_server):
    client = make_client(contacts=[{"name": "Uno", "email": "uno@example.it"},
                                   {"name": "Due", "email": "due@example.it"}])
    invoice = make_invoice(client)
    db.session.commit()
    page = staff.get(f"/invoiceview/send/{invoice.id}").get_data(as_text=True)
    assert "uno@example.it" in page and "due@example.it" in page

    second = next(contact for contact in client.contacts if contact.email == "due@example.it")
    response = staff.post(f"/invoiceview/send/{invoice.id}", data={"contact_ids": [str(second.id)]})

    assert response.status_code == 302
    assert [message["To"] for message in smtp_server.messages] == ["due@example.it"]
    db.session.expire_all()
    sent = db.session.get(Invoice, invoice.id)
    assert sent.status == "sent" and sent.number


def test_send_by_email_without_a_recipient_sends_nothing_and_keeps_the_draft(staff, smtp_server):
    invoice = make_invoice(make_client())
    db.session.commit()
    page = staff.post(f"/invoiceview/send/{invoice.id}", data={}, follow_redirects=True).get_data(as_text=True)
    assert "Choose at least one recipient." in page
    assert smtp_server.messages == []
    db.session.expire_all()
    assert db.session.get(Invoice, invoice.id).status == "draft"


def test_italian_labels_agree_with_the_document_they_describe(web):
    """"Sent" is "Inviata" for an invoice (la fattura) and "Inviato" for a quote (il
    preventivo), "issued" (finalized, not emailed yet) "Emessa" and "Emesso"; "Paid" beside
    an amount is "Pagato"."""
    login(web, make_staff_user("Billing").username)  # the admin speaks Italian by default
    invoice = make_invoice(finalize=True)
    quote = make_quote(finalize=True)
    emailed = [make_invoice(finalize=True), make_quote(finalize=True)]
    for document in emailed:
        document.emailed_at = dt.datetime(2026, 5, 4, 9, 0)
    db.session.commit()

    invoices = web.get("/invoiceview/list/").get_data(as_text=True)
    quotes = web.get("/quoteview/list/").get_data(as_text=True)
    shown = web.get(f"/invoiceview/show/{invoice.id}").get_data(as_text=True)

    assert re.search(r'status-sent">Inviata<', invoices) and re.search(r'status-issued">Emessa<', invoices)
    assert re.search(r'status-sent">Inviato<', quotes) and re.search(r'status-issued">Emesso<', quotes)
    assert quote.number in quotes
    assert re.search(r">Pagato</t[dh]>", shown)


def test_a_credit_note_is_drafted_from_the_invoice_page_edited_and_finalized(staff):
    invoice = make_invoice(lines=[{"description": "Sviluppo", "quantity": "2", "unit_price": "100", "tax_rate": "22"}],
                           finalize=True)
    db.session.commit()
    page = staff.get(f"/invoiceview/show/{invoice.id}").get_data(as_text=True)
    assert f"/invoiceview/credit-note/{invoice.id}" in page

    assert staff.get(f"/invoiceview/credit-note/{invoice.id}").status_code == 200
    response = staff.post(f"/invoiceview/credit-note/{invoice.id}", data={"reason": "Reso"})
    assert response.status_code == 302, response.get_data(as_text=True)
    db.session.expire_all()
    [note] = invoice.credit_notes
    assert response.headers["Location"].endswith(f"/creditnoteview/show/{note.id}")

    edit = staff.post(f"/creditnoteview/edit/{note.id}", data={
        "issue_date": note.issue_date.isoformat(), "reason": "Reso parziale", "notes": "",
        "lines-0-description": "Sviluppo", "lines-0-quantity": "1", "lines-0-unit_price": "100",
        "lines-0-discount": "0", "lines-0-tax_rate": "22", "lines-0-vat_nature": "", "lines-0-vat_nature_reference": "",
    })
    assert edit.status_code == 302, edit.get_data(as_text=True)
    db.session.expire_all()
    assert note.total == Decimal("122.00") and note.reason == "Reso parziale"

    shown = staff.get(f"/creditnoteview/show/{note.id}").get_data(as_text=True)
    assert "Credits invoice" in shown and "Reso parziale" in shown
    finalized = staff.post(f"/creditnoteview/action/finalize/{note.id}")
    assert finalized.status_code == 302
    db.session.expire_all()
    assert note.status == "sent" and note.number
    assert invoice.balance == Decimal("122.00")
    assert staff.get("/creditnoteview/list/").status_code == 200
    assert "Credited" in staff.get(f"/invoiceview/show/{invoice.id}").get_data(as_text=True)
