"""The product catalogue: what a business sells again and again, with its price and VAT.

A product is a template for invoice and quote lines: a line that names it takes its
description, price, rate and nature unless the line gives its own (`app.billing.services`).
Products are archived, never deleted, so old documents keep pointing at them.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from flask_appbuilder import Model
from sqlalchemy import Boolean, CheckConstraint, DateTime, Index, Integer, Numeric, String, Text, false, func, text
from sqlalchemy.orm import Mapped, mapped_column

from app.money import MONEY_PRECISION, RATE_PRECISION, ZERO

ACTIVE_PRODUCT = "NOT archived"


class Product(Model):
    __tablename__ = "product"
    __table_args__ = (
        CheckConstraint("tax_rate >= 0 AND tax_rate <= 100", name="tax_rate_is_a_percentage"),
        # FatturaPA: a line at 0% names why (Natura); the rule (app.products.services) says so
        # in words, this keeps rows written any other way honest too.
        CheckConstraint("tax_rate > 0 OR vat_nature <> ''", name="zero_rate_has_a_nature"),
        # The line pickers offer the active products by name: read from this index alone.
        Index("ix_product_active_name", "name", postgresql_where=text(ACTIVE_PRODUCT),
              sqlite_where=text(ACTIVE_PRODUCT)),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    unit: Mapped[str] = mapped_column(String(20), default="")  # "ora", "mese", "pz" …: shown, not computed
    unit_price: Mapped[Decimal] = mapped_column(Numeric(*MONEY_PRECISION), default=ZERO)
    tax_rate: Mapped[Decimal] = mapped_column(Numeric(*RATE_PRECISION), default=Decimal("22.00"))
    # A plain code (N1 … N7): billing owns the meaning of natures on lines; mirrored here.
    vat_nature: Mapped[str] = mapped_column(String(6), default="", server_default="")
    archived: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now(), onupdate=func.now())

    def __repr__(self) -> str:
        return self.name
