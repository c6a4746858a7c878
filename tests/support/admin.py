"""The admin's forms as a browser posts them."""
from __future__ import annotations

from app.billing.models import Invoice
from tests.support.factories import VALID_PARTITE_IVA

VALID_IBAN = "IT60 X054 2811 1010 0000 0123 456"


def client_form(**overrides) -> dict[str, str]:
    data = {
        "name": "Rossi Impianti S.r.l.", "kind": "business", "email": "amministrazione@rossi.it",
        "phone": "", "address": "Via Garibaldi 3", "city": "Torino", "province": "to", "postal_code": "10122",
        "country": "IT", "vat_number": f"IT {VALID_PARTITE_IVA[0]}", "tax_code": "", "sdi_code": "",
        "pec": "", "language": "it", "currency": "EUR", "notes": "",
        "contacts-0-id": "", "contacts-0-name": "Maria Rossi", "contacts-0-email": "maria@rossi.it",
        "contacts-0-phone": "", "contacts-0-is_primary": "y",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def line_form(document, lines, **fields) -> dict[str, str]:
    """A draft's edit form with `lines` as rows `lines-<n>-<field>`."""
    data = {"issue_date": document.issue_date.isoformat(), "notes": "", "terms": ""}
    if isinstance(document, Invoice):
        data["due_date"] = document.due_date.isoformat()
    else:
        data["valid_until"] = document.valid_until.isoformat()
    for index, line in enumerate(lines):
        for name, value in line.items():
            data[f"lines-{index}-{name}"] = value
    data.update(fields)
    return data


def settings_form(**overrides) -> dict[str, object]:
    """The company settings form, valid, with `overrides`."""
    data = {
        "legal_name": "Studio Bianchi S.r.l.", "address": "Corso Italia 10", "city": "Milano", "province": "MI",
        "postal_code": "20122", "country": "IT", "vat_number": VALID_PARTITE_IVA[0], "tax_code": "",
        "iban": VALID_IBAN, "bank_name": "Banca", "email": "info@bianchi.it", "phone": "", "website": "",
        "currency": "eur", "default_tax_rate": "22", "payment_terms_days": "30", "quote_validity_days": "30",
        "invoice_number_format": "{year}/{seq:04d}", "quote_number_format": "P{year}/{seq:04d}", "locale": "it",
        "sender_email": "", "support_email": "", "default_terms": "",
        "credit_note_number_format": "NC{year}/{seq:04d}", "regime_fiscale": "RF01", "withholding_rate": "0",
        "withholding_type": "RT01", "withholding_reason": "A", "pension_fund_type": "", "pension_fund_rate": "0",
        "pension_fund_tax_rate": "22", "stamp_duty": "auto", "stamp_duty_charged_to_client": "y",
        "einvoice_channel": "export", "sdi_pec_address": "sdi01@pec.fatturapa.it", "transmitter_id": "",
    }
    data.update(overrides)
    return data
