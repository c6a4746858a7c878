"""The company that issues the invoices: one row of settings, editable by Admin."""
from __future__ import annotations

from decimal import Decimal

from flask_appbuilder import Model
from sqlalchemy import Boolean, Integer, LargeBinary, Numeric, String, Text, true
from sqlalchemy.orm import Mapped, mapped_column

from app.money import RATE_PRECISION

DEFAULT_INVOICE_NUMBER_FORMAT = "{year}/{seq:04d}"
DEFAULT_QUOTE_NUMBER_FORMAT = "P{year}/{seq:04d}"
DEFAULT_CREDIT_NOTE_NUMBER_FORMAT = "NC{year}/{seq:04d}"
SDI_PEC_ADDRESS = "sdi01@pec.fatturapa.it"  # SdI's first PEC address; it answers with the one to use next


class CompanySettings(Model):
    __tablename__ = "company_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    legal_name: Mapped[str] = mapped_column(String(200), default="La mia azienda S.r.l.")
    address: Mapped[str] = mapped_column(String(200), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    province: Mapped[str] = mapped_column(String(50), default="")
    postal_code: Mapped[str] = mapped_column(String(20), default="")
    country: Mapped[str] = mapped_column(String(2), default="IT")
    vat_number: Mapped[str] = mapped_column(String(30), default="")
    tax_code: Mapped[str] = mapped_column(String(30), default="")
    iban: Mapped[str] = mapped_column(String(40), default="")
    bank_name: Mapped[str] = mapped_column(String(100), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(50), default="")
    website: Mapped[str] = mapped_column(String(200), default="")
    # Deferred: read only by what shows it (PDFs, the portal logo route), never with the row.
    logo: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True, deferred=True)
    logo_mime: Mapped[str] = mapped_column(String(50), default="")
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    default_tax_rate: Mapped[Decimal] = mapped_column(Numeric(*RATE_PRECISION), default=Decimal("22.00"))
    payment_terms_days: Mapped[int] = mapped_column(Integer, default=30)
    quote_validity_days: Mapped[int] = mapped_column(Integer, default=30)
    invoice_number_format: Mapped[str] = mapped_column(String(50), default=DEFAULT_INVOICE_NUMBER_FORMAT)
    quote_number_format: Mapped[str] = mapped_column(String(50), default=DEFAULT_QUOTE_NUMBER_FORMAT)
    locale: Mapped[str] = mapped_column(String(5), default="it")
    sender_email: Mapped[str] = mapped_column(String(200), default="")
    support_email: Mapped[str] = mapped_column(String(200), default="")
    default_terms: Mapped[str] = mapped_column(Text, default="")
    credit_note_number_format: Mapped[str] = mapped_column(String(50), default=DEFAULT_CREDIT_NOTE_NUMBER_FORMAT,
                                                           server_default=DEFAULT_CREDIT_NOTE_NUMBER_FORMAT)

    # ── Electronic invoicing and the Italian tax blocks (app.company.tax) ──
    regime_fiscale: Mapped[str] = mapped_column(String(4), default="RF01", server_default="RF01")
    # Ritenuta d'acconto the company suffers, applied when the client is a withholding agent.
    withholding_rate: Mapped[Decimal] = mapped_column(Numeric(*RATE_PRECISION), default=Decimal("0.00"),
                                                      server_default="0")
    withholding_type: Mapped[str] = mapped_column(String(4), default="RT01", server_default="RT01")
    withholding_reason: Mapped[str] = mapped_column(String(2), default="A", server_default="A")
    # Rivalsa of a professional pension fund (e.g. TC22 INPS 4 %), charged on the lines.
    pension_fund_type: Mapped[str] = mapped_column(String(4), default="", server_default="")
    pension_fund_rate: Mapped[Decimal] = mapped_column(Numeric(*RATE_PRECISION), default=Decimal("0.00"),
                                                       server_default="0")
    pension_fund_tax_rate: Mapped[Decimal] = mapped_column(Numeric(*RATE_PRECISION), default=Decimal("22.00"),
                                                           server_default="22")
    stamp_duty: Mapped[str] = mapped_column(String(4), default="auto", server_default="auto")
    stamp_duty_charged_to_client: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    einvoice_channel: Mapped[str] = mapped_column(String(10), default="export", server_default="export")
    sdi_pec_address: Mapped[str] = mapped_column(String(200), default=SDI_PEC_ADDRESS, server_default=SDI_PEC_ADDRESS)
    # IdTrasmittente's IdCodice; "" = the company's own VAT number (app.company.tax.transmitter_id).
    transmitter_id: Mapped[str] = mapped_column(String(28), default="", server_default="")

    def __repr__(self) -> str:
        return self.legal_name
