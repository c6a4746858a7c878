"""The company that issues the invoices: one row of settings, editable by Admin."""
from __future__ import annotations

from decimal import Decimal

from flask_appbuilder import Model
from sqlalchemy import Integer, LargeBinary, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.money import RATE_PRECISION

DEFAULT_INVOICE_NUMBER_FORMAT = "{year}/{seq:04d}"
DEFAULT_QUOTE_NUMBER_FORMAT = "P{year}/{seq:04d}"


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

    def __repr__(self) -> str:
        return self.legal_name
