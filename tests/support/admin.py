"""The admin's forms as a browser posts them."""
from __future__ import annotations

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
