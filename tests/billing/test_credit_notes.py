"""Credit notes (TD04): drafted from an invoice, numbered on their own, never above what is
left to credit, and lowering the invoice's balance once sent; corrections after SdI rejects."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from app.billing import services as billing
from app.billing.accounts import ClientAccount, account_aggregates
from app.billing.models import CreditNote, Invoice
from app.billing.signals import document_finalized, document_finalizing
from app.extensions import db
from app.mail.models import OutboxEmail
from tests.support.factories import line, make_client, make_invoice
from tests.support.api import api_headers

D = Decimal
TWO_LINES = [line("Sviluppo", "10", "50.00"), line("Hosting", "1", "100.00", tax_rate="10")]


def sent_invoice(**options) -> Invoice:
    return make_invoice(lines=TWO_LINES, finalize=True, issue_date=options.pop("issue_date", dt.date.today()),
                        **options)


def test_by_default_a_credit_note_credits_the_whole_invoice_and_settles_it(app):
    invoice = sent_invoice()
    note = billing.create_credit_note(invoice, "Fattura emessa per errore")
    assert (note.status, note.number, note.document_type) == ("draft", None, "TD04")
    assert [(l.description, l.quantity) for l in note.lines] == [("Sviluppo", D("10")), ("Hosting", D("1"))]
    assert note.total == invoice.total == D("720.00")
    assert invoice.balance == D("720.00")  # a draft credits nothing yet

    billing.finalize_credit_note(note)
    assert (note.status, note.number) == ("sent", f"NC{dt.date.today().year}/0001")
    assert (invoice.amount_credited, invoice.balance, invoice.status) == (D("720.00"), D("0.00"), "paid")


def test_a_partial_credit_note_lowers_the_balance_and_the_next_one_gets_what_is_left(app):
    invoice = sent_invoice()
    first = billing.create_credit_note(invoice, "Sconto concordato", [line("Sviluppo", "2", "50.00")])
    billing.finalize_credit_note(first)
    assert (first.total, invoice.balance, invoice.status) == (D("122.00"), D("598.00"), "sent")
    rest = billing.create_credit_note(invoice, "Annullo il resto")
    assert [(l.description, l.quantity) for l in rest.lines] == [("Sviluppo", D("8")), ("Hosting", D("1"))]
    billing.finalize_credit_note(rest)
    assert (invoice.balance, invoice.status) == (D("0.00"), "paid")
    with pytest.raises(billing.BillingError) as refused:
        billing.create_credit_note(invoice, "Ancora")
    assert refused.value.field == "lines"


def test_a_credit_note_above_what_is_left_to_credit_is_refused(app):
    invoice = sent_invoice()
    billing.finalize_credit_note(billing.create_credit_note(invoice, "Parte", [line("Sviluppo", "5", "50.00")]))
    with pytest.raises(billing.BillingError) as refused:
        billing.create_credit_note(invoice, "Troppo", [line("Sviluppo", "7", "50.00")])  # 427 > 415 left
    with force_locale("en"):
        assert refused.value.field == "lines" and "left to credit" in str(refused.value.message)


@pytest.mark.parametrize("status", ["draft", "cancelled"])
def test_only_a_finalized_invoice_can_be_credited(app, status):
    invoice = make_invoice()
    if status == "cancelled":
        billing.cancel_invoice(invoice)
    with pytest.raises(billing.BillingError):
        billing.create_credit_note(invoice, "Motivo")


def test_a_credit_note_needs_a_reason_and_cannot_predate_its_invoice(app):
    invoice = sent_invoice()
    with pytest.raises(billing.BillingError) as no_reason:
        billing.create_credit_note(invoice, "  ")
    assert no_reason.value.field == "reason"
    with pytest.raises(billing.BillingError) as early:
        billing.create_credit_note(invoice, "Motivo", issue_date=invoice.issue_date - dt.timedelta(days=1))
    assert early.value.field == "issue_date"


def test_credit_notes_have_their_own_gapless_yearly_numbers(app):
    invoices = [sent_invoice() for _ in range(3)]
    year = dt.date.today().year
    numbers = []
    for invoice in invoices:
        note = billing.create_credit_note(invoice, "Reso")
        billing.finalize_credit_note(note)
        numbers.append(note.number)
    assert numbers == [f"NC{year}/0001", f"NC{year}/0002", f"NC{year}/0003"]
    assert [invoice.number for invoice in invoices] == [f"{year}/0001", f"{year}/0002", f"{year}/0003"]


def test_a_credit_note_takes_the_invoices_tax_blocks(app):
    from app.company.services import get_company

    company = get_company()
    company.withholding_rate, company.pension_fund_type, company.pension_fund_rate = D("20"), "TC22", D("4")
    invoice = make_invoice(make_client(), lines=[line("Parcella", "1", "1000.00")], finalize=True)
    company.withholding_rate = D("0")  # a later change does not reach the credit note of that invoice
    note = billing.create_credit_note(invoice, "Storno")
    billing.finalize_credit_note(note)
    assert (note.withholding_amount, note.pension_fund_amount, note.net_to_pay) == (
        invoice.withholding_amount, invoice.pension_fund_amount, invoice.net_to_pay)
    assert invoice.balance == 0 and invoice.status == "paid"


def test_the_client_rollups_count_what_was_credited(app):
    invoice = sent_invoice()
    billing.finalize_credit_note(billing.create_credit_note(invoice, "Reso", [line("Sviluppo", "4", "50.00")]))
    db.session.flush()
    account = db.session.get(ClientAccount, invoice.client_id)
    assert (account.total_credited, account.balance_due) == (D("244.00"), D("476.00"))
    fresh = account_aggregates([invoice.client_id])[invoice.client_id]
    assert (fresh["total_credited"], fresh["balance_due"]) == (D("244.00"), D("476.00"))


def test_a_sent_credit_notes_amounts_are_locked(app):
    note = billing.create_credit_note(sent_invoice(), "Reso")
    billing.finalize_credit_note(note)
    db.session.flush()
    with pytest.raises(billing.BillingError):
        billing.set_credit_note_lines(note, [line("Altro", "1", "1.00")])


def test_reopening_a_rejected_invoice_keeps_its_number_and_finalizes_again_with_both_signals(app):
    invoice = sent_invoice()
    number, sequence = invoice.number, invoice.sequence
    seen = []

    def finalizing(document, **_kwargs):
        seen.append(("finalizing", document.number))

    def finalized(document, **_kwargs):
        seen.append(("finalized", document.number))

    billing.reopen_for_correction(invoice)
    assert invoice.status == "draft" and invoice.number == number
    billing.set_lines(invoice, [line("Sviluppo corretto", "10", "50.00")])
    document_finalizing.connect(finalizing)
    document_finalized.connect(finalized)
    try:
        billing.finalize_invoice(invoice)
    finally:
        document_finalizing.disconnect(finalizing)
        document_finalized.disconnect(finalized)
    assert (invoice.status, invoice.number, invoice.sequence, invoice.total) == ("sent", number, sequence, D("610.00"))
    assert seen == [("finalizing", number), ("finalized", number)]
    # No number was used up: the next invoice takes the one after.
    assert sent_invoice().sequence == sequence + 1


# --- the API ---------------------------------------------------------------------------------

def test_api_creates_lists_reads_and_sends_a_credit_note(web, smtp_server):
    invoice = sent_invoice()
    db.session.commit()
    headers = api_headers(web)

    created = web.post(f"/api/v1/invoice/{invoice.id}/credit-note", json={"reason": "Reso merce"}, headers=headers)
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    result = body["result"]
    assert (result["id"], result["invoice_id"], result["client_id"], result["status"], result["number"]) == (
        body["id"], invoice.id, invoice.client_id, "draft", None)
    assert (result["subtotal"], result["tax_total"], result["total"], result["document_type"]) == (
        "600.00", "120.00", "720.00", "TD04")
    assert result["sdi_status"] == "not_sent" and result["sdi_errors"] == []
    assert [l["description"] for l in result["lines"]] == ["Sviluppo", "Hosting"]

    listed = web.get("/api/v1/credit-note/", headers=headers).get_json()
    assert listed["count"] == 1 and listed["ids"] == [body["id"]]
    assert web.get(f"/api/v1/credit-note/{body['id']}", headers=headers).get_json()["result"]["reason"] == "Reso merce"

    sent = web.post(f"/api/v1/credit-note/{body['id']}/send", headers=headers)
    assert sent.status_code == 200, sent.get_json()
    assert sent.get_json()["result"]["status"] == "sent"
    assert sent.get_json()["result"]["number"].startswith("NC")
    shown = web.get(f"/api/v1/invoice/{invoice.id}", headers=headers).get_json()["result"]
    assert (shown["amount_credited"], shown["balance"], shown["status"]) == ("720.00", "0.00", "paid")
    [message] = smtp_server.messages
    assert "credit" in message["Subject"].lower() or "credito" in message["Subject"].lower()
    [attachment] = message.iter_attachments()
    assert attachment.get_content().startswith(b"%PDF")
    assert db.session.scalar(select(OutboxEmail.kind).where(OutboxEmail.invoice_id == invoice.id)) == "credit_note"

    pdf = web.get(f"/api/v1/credit-note/{body['id']}/pdf", headers=headers)
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert "Nota_di_credito" in pdf.headers["Content-Disposition"] or "Credit_note" in pdf.headers["Content-Disposition"]


def test_api_refuses_a_credit_note_without_reason_or_above_the_invoice_with_field_errors(web):
    invoice = sent_invoice()
    draft = make_invoice()
    db.session.commit()
    headers = api_headers(web)

    missing = web.post(f"/api/v1/invoice/{invoice.id}/credit-note", json={}, headers=headers)
    assert missing.status_code == 422 and "reason" in missing.get_json()["message"]
    too_much = web.post(f"/api/v1/invoice/{invoice.id}/credit-note",
                        json={"reason": "Troppo", "lines": [line("Sviluppo", "100", "50.00")]}, headers=headers)
    assert too_much.status_code == 422 and "lines" in too_much.get_json()["message"]
    bad_line = web.post(f"/api/v1/invoice/{invoice.id}/credit-note",
                        json={"reason": "X", "lines": [line("Voce", "1", "10", tax_rate="0", vat_nature="")]},
                        headers=headers)
    assert bad_line.status_code == 422 and "lines.0.vat_nature" in bad_line.get_json()["message"]
    assert web.post(f"/api/v1/invoice/{draft.id}/credit-note", json={"reason": "X"},
                    headers=headers).status_code == 422
    assert web.post("/api/v1/invoice/999999/credit-note", json={"reason": "X"}, headers=headers).status_code == 404
    assert db.session.scalar(select(CreditNote.id)) is None


def test_api_line_shape_carries_the_nature(web):
    client = make_client()
    db.session.commit()
    response = web.post("/api/v1/invoice/", json={
        "client_id": client.id,
        "lines": [{"description": "Formazione", "quantity": "1", "unit_price": "500", "tax_rate": "0",
                   "vat_nature": "N4", "vat_nature_reference": "Art. 10 n. 20 DPR 633/72"}],
    }, headers=api_headers(web))
    assert response.status_code == 201, response.get_json()
    [shown] = response.get_json()["result"]["lines"]
    assert (shown["vat_nature"], shown["vat_nature_reference"]) == ("N4", "Art. 10 n. 20 DPR 633/72")
    result = response.get_json()["result"]
    assert (result["stamp_duty_amount"], result["total"], result["net_to_pay"]) == ("2.00", "502.00", "502.00")
    assert result["document_type"] == "TD01"
