"""Recurring invoices: a schedule per client that makes one invoice per period.

`RecurringRun` is the ledger of periods already invoiced: its unique key (schedule, period)
is inserted in the same transaction as the invoice it stands for, so a period is invoiced
once however many workers run the task at the same moment (app.recurring.services).
"""
from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal

from flask_appbuilder import Model
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.billing.models import Invoice
from app.clients.models import Client
from app.money import MONEY_PRECISION, QUANTITY_PRECISION, RATE_PRECISION, ZERO
from app.products.models import Product


class Frequency(str, enum.Enum):
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    YEARLY = "yearly"


MONTHS_PER_PERIOD = {Frequency.MONTHLY.value: 1, Frequency.QUARTERLY.value: 3, Frequency.YEARLY.value: 12}
ACTIVE_SCHEDULE = "active"


class RecurringInvoice(Model):
    __tablename__ = "recurring_invoice"
    __table_args__ = (
        CheckConstraint("frequency IN ('monthly', 'quarterly', 'yearly')", name="frequency_known"),
        CheckConstraint("end_date IS NULL OR end_date >= start_date", name="ends_after_it_starts"),
        # What `generate_due` reads on every run: the active schedules by the date they fall due.
        Index("ix_recurring_invoice_active_next_date", "next_date",
              postgresql_where=text(ACTIVE_SCHEDULE), sqlite_where=text(ACTIVE_SCHEDULE)),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id"), index=True)  # the 360 page's tab
    frequency: Mapped[str] = mapped_column(String(10), default=Frequency.MONTHLY.value)
    start_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    # Finalize and email each invoice; otherwise it waits as a draft for review.
    auto_send: Mapped[bool] = mapped_column(Boolean, default=False)
    # The first day of the next period to invoice (start_date, then one period later each time).
    next_date: Mapped[dt.date] = mapped_column(Date)
    last_invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoice.id", ondelete="SET NULL"),
                                                        nullable=True, index=True)
    # Paused schedules make nothing, and resuming does not bill the months of the pause.
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now(), onupdate=func.now())

    client: Mapped[Client] = relationship(lazy="joined", innerjoin=True)
    last_invoice: Mapped[Invoice | None] = relationship()
    lines: Mapped[list["RecurringLine"]] = relationship(
        back_populates="schedule", cascade="all, delete-orphan", order_by="RecurringLine.position", lazy="selectin"
    )

    @property
    def ended(self) -> bool:
        return self.end_date is not None and self.next_date > self.end_date

    @property
    def status(self) -> str:
        """"ended" once past its end date, else "paused" or "active"."""
        if self.ended:
            return "ended"
        return "active" if self.active else "paused"

    def __repr__(self) -> str:
        return f"{self.client.name if self.client else ''} ({self.frequency})"


class RecurringLine(Model):
    """A line template; a value left empty (None, or "" for the nature) is taken from the
    product at each invoice."""

    __tablename__ = "recurring_invoice_line"
    __table_args__ = (CheckConstraint("quantity >= 0", name="quantity_not_negative"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("recurring_invoice.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("product.id", ondelete="SET NULL"), nullable=True,
                                                   index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    quantity: Mapped[Decimal] = mapped_column(Numeric(*QUANTITY_PRECISION), default=Decimal(1))
    unit_price: Mapped[Decimal | None] = mapped_column(Numeric(*MONEY_PRECISION), nullable=True)
    discount: Mapped[Decimal] = mapped_column(Numeric(*RATE_PRECISION), default=ZERO)
    tax_rate: Mapped[Decimal | None] = mapped_column(Numeric(*RATE_PRECISION), nullable=True)
    # Why a 0 % line bears no VAT, and the law it cites, as on billing's lines (a 0 % line
    # without a product cannot be finalized without it).
    vat_nature: Mapped[str] = mapped_column(String(5), default="", server_default="")
    vat_nature_reference: Mapped[str] = mapped_column(String(100), default="", server_default="")

    schedule: Mapped[RecurringInvoice] = relationship(back_populates="lines")
    product: Mapped[Product | None] = relationship()


class RecurringRun(Model):
    """One period of one schedule, invoiced. The unique key is the once-per-period guarantee."""

    __tablename__ = "recurring_run"
    __table_args__ = (UniqueConstraint("schedule_id", "period_start", name="uq_recurring_run_schedule_period"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("recurring_invoice.id", ondelete="CASCADE"))
    period_start: Mapped[dt.date] = mapped_column(Date)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoice.id", ondelete="SET NULL"), nullable=True,
                                                   index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())
