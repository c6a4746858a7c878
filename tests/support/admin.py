"""The admin's forms as a browser posts them."""
from __future__ import annotations

from app.billing.models import Invoice
from tests.support.factories import VALID_PARTITE_IVA


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
