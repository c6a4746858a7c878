"""A document SdI would reject is refused when it is finalized, before it takes a number,
at the field it concerns, with a translated message naming SdI's error code."""
from __future__ import annotations

import datetime as dt

import pytest
from flask_babel import force_locale

from app.billing import services as billing
from app.billing.models import InvoiceLine
from app.einvoice.checks import SdiCheckFailed
from app.errors import Refusal
from app.extensions import db
from tests.support.factories import make_client, make_invoice
from tests.support.einvoice import italian_company


def refusal_of(invoice) -> Refusal:
    with pytest.raises(Refusal) as caught:
        billing.finalize_invoice(invoice)
    return caught.value


def test_a_private_person_without_tax_code_is_00417():
    italian_company()
    client = make_client("Mario Rossi", kind="individual")
    invoice = make_invoice(client)
    invoice.bill_tax_code = ""
    refusal = refusal_of(invoice)
    assert isinstance(refusal, SdiCheckFailed) and refusal.code == "00417" and refusal.field == "bill_tax_code"
    with force_locale("it"):
        assert "00417" in str(refusal.message)
    db.session.rollback()


def test_a_public_administration_needs_a_six_character_code_00427():
    italian_company()
    invoice = make_invoice(make_client(kind="public_administration", sdi_code="UFABC1"))
    invoice.bill_sdi_code = "ABC1234"  # the snapshot of a client whose kind changed since
    refusal = refusal_of(invoice)
    assert (refusal.code, refusal.field) == ("00427", "bill_sdi_code")


def test_a_line_at_zero_without_nature_is_00400_even_if_stored_before():
    """Lines stored before natures existed (old drafts, the old demo's stamp line)."""
    italian_company()
    invoice = make_invoice(make_client())
    invoice.lines.append(InvoiceLine(description="Bollo", quantity=1, unit_price=2, tax_rate=0, vat_nature="",
                                     position=1))
    db.session.flush()
    refusal = refusal_of(invoice)
    assert (refusal.code, refusal.field) == ("00400", "lines.1.vat_nature")


def test_a_retired_nature_is_00445():
    italian_company()
    invoice = make_invoice(make_client())
    invoice.lines[0].tax_rate = 0
    invoice.lines[0].vat_nature = "N2"
    db.session.flush()
    refusal = refusal_of(invoice)
    assert refusal.code == "00445"


def test_a_credit_note_before_its_invoice_is_00418():
    italian_company()
    invoice = make_invoice(make_client(), issue_date=dt.date(2026, 11, 20))
    billing.finalize_invoice(invoice)
    note = billing.create_credit_note(invoice, "Reso")
    note.issue_date = dt.date(2026, 11, 1)
    with pytest.raises(Refusal) as caught:
        billing.finalize_credit_note(note)
    assert (caught.value.code, caught.value.field) == ("00418", "issue_date")
    assert note.number is None


def test_a_number_without_digits_is_00425():
    italian_company(invoice_number_format="FATTURA")
    invoice = make_invoice(make_client())
    refusal = refusal_of(invoice)
    assert (refusal.code, refusal.field) == ("00425", "number")
    assert invoice.number is None


def test_the_api_answers_422_at_the_field(web):
    from tests.support.api import api_headers

    italian_company()
    invoice = make_invoice(make_client(kind="public_administration", sdi_code="UFABC1"))
    invoice.bill_sdi_code = "ABC1234"
    db.session.commit()
    headers = api_headers(web, language="it")
    response = web.post(f"/api/v1/invoice/{invoice.id}/send", json={}, headers=headers)
    assert response.status_code == 422
    [message] = response.get_json()["message"]["bill_sdi_code"]
    assert "00427" in message
