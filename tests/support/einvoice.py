"""Helpers the e-invoicing tests share (no tests here): an Italian company that issues
e-invoices, and SdI's official example receipts (tests/fixtures/sdi, see PROVENANCE there)."""
from __future__ import annotations

from pathlib import Path

from app.company.services import get_company
from app.extensions import db

RECEIPTS = Path(__file__).resolve().parents[1] / "fixtures" / "sdi"
# The official samples all name IT01234567890_11111.xml.p7m: progressive "11111" in base 36.
SAMPLE_PROGRESSIVE = int("11111", 36)


def italian_company(**settings) -> None:
    """The company as an Italian business with every field the seller block needs."""
    company = get_company()
    values = dict(legal_name="Studio Bianchi S.r.l.", address="Corso Italia 10", city="Torino", province="TO",
                  postal_code="10121", country="IT", vat_number="IT01234567890", tax_code="01234567890",
                  iban="IT60X0542811101000000123456", bank_name="Banca di Prova", email="studio@bianchi.it",
                  phone="011 123456", regime_fiscale="RF01", einvoice_channel="export")
    values.update(settings)
    for name, value in values.items():
        setattr(company, name, value)
    db.session.flush()


def sample(kind: str) -> bytes:
    """One of SdI's example receipts: RC, NS, MC, NE, DT, AT."""
    return (RECEIPTS / f"IT01234567890_11111_{kind}_001.xml").read_bytes()
