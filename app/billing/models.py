"""Invoices, quotes, their lines, payments and the number sequences.

Totals (subtotal, tax, total, paid, balance) are stored on the document and recomputed by
`app.billing.totals` in the same transaction as any change to lines or payments, so lists
and dashboards can sum them in SQL without touching the lines.
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
    JSON,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
    text,
)
from sqlalchemy import inspect
from sqlalchemy.orm import Mapped, Session, declared_attr, mapped_column, relationship

from app.clients.models import Client
from app.billing.states import BILLED_INVOICE_STATUSES, OPEN_INVOICE_STATUSES, is_overdue, shown_status  # noqa: F401
from app.money import MONEY_PRECISION, QUANTITY_PRECISION, RATE_PRECISION, ZERO


class InvoiceStatus(str, enum.Enum):
    DRAFT = "draft"
    SENT = "sent"
    PARTIAL = "partial"
    PAID = "paid"
    CANCELLED = "cancelled"


# Partial indexes' predicates, used verbatim by the queries that need the index: PostgreSQL
# proves a query matches a partial index from literals, not from bound parameters.
OPEN_INVOICE = "status IN ({})".format(", ".join(f"'{status}'" for status in OPEN_INVOICE_STATUSES))
UNMARKED_OPEN_INVOICE = f"{OPEN_INVOICE} AND NOT overdue_marked"  # not yet marked overdue
UNMARKED_DUE_INDEX = "ix_invoice_client_unmarked_due_date"  # the open invoices not marked yet, by due date
SENT_QUOTE = "status = 'sent'"


class QuoteStatus(str, enum.Enum):
    DRAFT = "draft"
    SENT = "sent"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    EXPIRED = "expired"


class CreditNoteStatus(str, enum.Enum):
    DRAFT = "draft"
    SENT = "sent"


class SdiStatus(str, enum.Enum):
    """Where a document's FatturaPA file stands with the Sistema di Interscambio (app.einvoice
    writes it; billing only stores and shows it)."""

    NOT_SENT = "not_sent"
    SENT = "sent"
    DELIVERED = "delivered"
    NOT_DELIVERED = "not_delivered"
    REJECTED = "rejected"
    ACCEPTED = "accepted"
    REFUSED = "refused"
    EXPIRED = "expired"


# The VAT natures of a 0 % line (FatturaPA 1.2.x, from 2021): the plain N2, N3 and N6 are
# no longer accepted by SdI (error 00445), so they are not offered.
VAT_NATURES = (
    "N1", "N2.1", "N2.2", "N3.1", "N3.2", "N3.3", "N3.4", "N3.5", "N3.6", "N4", "N5",
    "N6.1", "N6.2", "N6.3", "N6.4", "N6.5", "N6.6", "N6.7", "N6.8", "N6.9", "N7",
)


class PaymentMethod(str, enum.Enum):
    STRIPE = "stripe"
    BANK_TRANSFER = "bank_transfer"
    CASH = "cash"
    OTHER = "other"


def _money(**kwargs) -> Mapped[Decimal]:
    return mapped_column(Numeric(*MONEY_PRECISION), default=ZERO, **kwargs)


class BillingDocument:
    """Columns shared by invoices, quotes and credit notes: numbering, billing snapshot, notes, totals."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str | None] = mapped_column(String(40), nullable=True)
    year: Mapped[int | None] = mapped_column(Integer, nullable=True)
    sequence: Mapped[int | None] = mapped_column(Integer, nullable=True)
    issue_date: Mapped[dt.date] = mapped_column(Date)
    # active_history: the rollups (app.billing.accounts, app.billing.rollups) subtract what a change replaced.
    currency: Mapped[str] = mapped_column(String(3), default="EUR", active_history=True)
    language: Mapped[str] = mapped_column(String(5), default="it")

    # "Fatturato a": the client's billing block as it was when the document was made.
    bill_name: Mapped[str] = mapped_column(String(200), default="")
    bill_address: Mapped[str] = mapped_column(String(200), default="")
    bill_city: Mapped[str] = mapped_column(String(100), default="")
    bill_province: Mapped[str] = mapped_column(String(50), default="")
    bill_postal_code: Mapped[str] = mapped_column(String(20), default="")
    bill_country: Mapped[str] = mapped_column(String(2), default="IT")
    bill_vat_number: Mapped[str] = mapped_column(String(30), default="")
    bill_tax_code: Mapped[str] = mapped_column(String(30), default="")
    bill_sdi_code: Mapped[str] = mapped_column(String(7), default="")
    bill_pec: Mapped[str] = mapped_column(String(200), default="")
    bill_kind: Mapped[str] = mapped_column(String(30), default="business", server_default="business")

    notes: Mapped[str] = mapped_column(Text, default="")
    terms: Mapped[str] = mapped_column(Text, default="")

    subtotal: Mapped[Decimal] = _money()
    tax_total: Mapped[Decimal] = _money()
    total: Mapped[Decimal] = _money(active_history=True)  # active_history: app.billing.accounts

    # Bumped in every flush that changes what the document's PDF shows (app.billing.revisions):
    # the PDF cache trusts a stored PDF of the same revision without rendering anything.
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    # sent_at: when it was finalized (issued); emailed_at: when it was first sent by email,
    # until then it reads "issued" (app.billing.states).
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    emailed_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    viewed_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now(), onupdate=func.now())

    @declared_attr
    def client_id(cls) -> Mapped[int]:
        return mapped_column(ForeignKey("client.id"), index=True, active_history=True)

    @declared_attr
    def client(cls) -> Mapped[Client]:
        return relationship(Client, lazy="joined", innerjoin=True)

    @property
    def is_draft(self) -> bool:
        return self.status == "draft"

    def display_status(self, today: dt.date | None = None) -> str:
        """The status a person sees (app.billing.states.shown_status)."""
        return shown_status(self, today)

    def __repr__(self) -> str:
        return self.number or f"#{self.id}"


class LineItem:
    """A line of an invoice or quote; `amount` is the net amount after discount."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    description: Mapped[str] = mapped_column(Text)
    quantity: Mapped[Decimal] = mapped_column(Numeric(*QUANTITY_PRECISION), default=Decimal(1))
    unit_price: Mapped[Decimal] = _money()
    discount: Mapped[Decimal] = mapped_column(Numeric(*RATE_PRECISION), default=ZERO)
    tax_rate: Mapped[Decimal] = mapped_column(Numeric(*RATE_PRECISION), default=Decimal("22.00"))
    amount: Mapped[Decimal] = _money()
    # Why a 0 % line carries no VAT (one of VAT_NATURES; "" on a taxed line) and the law it
    # cites on the e-invoice ("" = the default reference of the nature, app.billing.natures).
    vat_nature: Mapped[str] = mapped_column(String(5), default="", server_default="")
    vat_nature_reference: Mapped[str] = mapped_column(String(100), default="", server_default="")

    @declared_attr
    def product_id(cls) -> Mapped[int | None]:
        # The catalogue product the line came from, if any (its values were copied onto the
        # line). Indexed so that removing a product (SET NULL) need not scan every line.
        return mapped_column(ForeignKey("product.id", ondelete="SET NULL"), nullable=True, index=True)

    def __repr__(self) -> str:
        return self.description[:40]


def _rate(**kwargs) -> Mapped[Decimal]:
    return mapped_column(Numeric(*RATE_PRECISION), default=ZERO, server_default="0", **kwargs)


class TaxedDocument:
    """What invoices and credit notes carry beyond a quote: the Italian tax blocks, fixed at
    finalization from the company settings and the client's flags (a later change to either
    never alters an issued document), and the document's state with SdI."""

    withholding_rate: Mapped[Decimal] = _rate()
    withholding_type: Mapped[str] = mapped_column(String(4), default="", server_default="")
    withholding_reason: Mapped[str] = mapped_column(String(2), default="", server_default="")
    withholding_amount: Mapped[Decimal] = mapped_column(Numeric(*MONEY_PRECISION), default=ZERO, server_default="0")
    pension_fund_type: Mapped[str] = mapped_column(String(4), default="", server_default="")
    pension_fund_rate: Mapped[Decimal] = _rate()
    pension_fund_tax_rate: Mapped[Decimal] = _rate()
    pension_fund_amount: Mapped[Decimal] = mapped_column(Numeric(*MONEY_PRECISION), default=ZERO, server_default="0")
    # Whether the bollo virtuale applies by the rule (company setting "auto"), the amount due
    # (0.00 or 2.00) and whether the client pays it (then it is in `total`, and the
    # e-invoice has it as an N1 line).
    stamp_duty_auto: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    stamp_duty_amount: Mapped[Decimal] = mapped_column(Numeric(*MONEY_PRECISION), default=ZERO, server_default="0")
    stamp_duty_charged: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    split_payment: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # What the client pays: total less withholding, less VAT under split payment.
    net_to_pay: Mapped[Decimal] = mapped_column(Numeric(*MONEY_PRECISION), default=ZERO, server_default="0",
                                                active_history=True)

    sdi_status: Mapped[str] = mapped_column(String(20), default=SdiStatus.NOT_SENT.value,
                                            server_default=SdiStatus.NOT_SENT.value)
    sdi_file_name: Mapped[str] = mapped_column(String(50), default="", server_default="")
    sdi_errors: Mapped[list] = mapped_column(JSON, default=list, server_default=text("'[]'"))


class Invoice(TaxedDocument, BillingDocument, Model):
    __tablename__ = "invoice"
    __table_args__ = (
        UniqueConstraint("year", "sequence", name="uq_invoice_year_sequence"),
        UniqueConstraint("number", name="uq_invoice_number"),
        Index("ix_invoice_client_status", "client_id", "status"),
        # A client's open invoices by due date (portal statement, overdue): on PostgreSQL the
        # balance rides along, so the aggregates never visit the table.
        Index("ix_invoice_client_status_due_date", "client_id", "status", "due_date",
              postgresql_include=["currency", "balance"]),
        Index("ix_invoice_status_due_date", "status", "due_date"),
        # Every open invoice with what the home page sums (receivables by age, top clients),
        # read from the index alone on PostgreSQL.
        Index("ix_invoice_open_currency_client", "currency", "client_id",
              postgresql_where=text(OPEN_INVOICE), sqlite_where=text(OPEN_INVOICE),
              postgresql_include=["due_date", "balance"]),
        # The client 360 page lists a client's latest invoices first (ties by id, as it sorts:
        # the index hands over the first 20 without sorting a day's worth of rows).
        Index("ix_invoice_client_issue_date", "client_id", "issue_date", "id"),
        # Open invoices the overdue mark has not reached yet: what the client summary still
        # counts by date (app.billing.accounts, which names it on SQLite); a few per client
        # once the task has run.
        Index(UNMARKED_DUE_INDEX, "client_id", "due_date",
              postgresql_where=text(UNMARKED_OPEN_INVOICE), sqlite_where=text(UNMARKED_OPEN_INVOICE),
              postgresql_include=["status", "balance"]),
        # The invoice list: newest first (FAB breaks ties by id in the same direction), all of
        # them or one status, read in index order and stopped at the page (at 1M invoices a
        # top-N sort of the table took 558 ms, these 4.7 and 0.8 ms).
        Index("ix_invoice_issue_date_id", "issue_date", "id"),
        Index("ix_invoice_status_issue_date_id", "status", "issue_date", "id"),
    )

    # active_history: the client rollups (app.billing.accounts) subtract what a change replaced.
    status: Mapped[str] = mapped_column(String(20), default=InvoiceStatus.DRAFT.value, index=True,
                                        active_history=True)
    due_date: Mapped[dt.date] = mapped_column(Date, active_history=True)
    amount_paid: Mapped[Decimal] = _money(active_history=True)
    # What sent credit notes took off the invoice (their net to pay): balance counts it down.
    amount_credited: Mapped[Decimal] = mapped_column(Numeric(*MONEY_PRECISION), default=ZERO, server_default="0",
                                                     active_history=True)
    balance: Mapped[Decimal] = _money(active_history=True)
    quote_id: Mapped[int | None] = mapped_column(ForeignKey("quote.id"), nullable=True, index=True)
    # Set by the periodic `mark-overdue` task once an open invoice is past its due date, and
    # cleared when the due date changes: the client rollup counts marked invoices as overdue,
    # so the summary only reads the few past due since the last run (app.billing.accounts).
    overdue_marked: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false(),
                                                 active_history=True)

    lines: Mapped[list["InvoiceLine"]] = relationship(
        back_populates="invoice", cascade="all, delete-orphan", order_by="InvoiceLine.position", lazy="selectin"
    )
    payments: Mapped[list["Payment"]] = relationship(
        back_populates="invoice", order_by="Payment.date", lazy="selectin"
    )
    quote: Mapped["Quote | None"] = relationship(back_populates="invoices", foreign_keys=[quote_id])
    # Loaded when asked for (the invoice's page, crediting): lists of invoices never need them.
    credit_notes: Mapped[list["CreditNote"]] = relationship(back_populates="invoice", order_by="CreditNote.id")

    @property
    def document_type(self) -> str:
        return "TD01"

    def is_overdue(self, today: dt.date | None = None) -> bool:
        return is_overdue(self, today)


class InvoiceLine(LineItem, Model):
    __tablename__ = "invoice_line"
    __table_args__ = (CheckConstraint("quantity >= 0", name="quantity_not_negative"),)

    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id", ondelete="CASCADE"), index=True)
    invoice: Mapped[Invoice] = relationship(back_populates="lines")


class Quote(BillingDocument, Model):
    __tablename__ = "quote"
    __table_args__ = (
        UniqueConstraint("year", "sequence", name="uq_quote_year_sequence"),
        UniqueConstraint("number", name="uq_quote_number"),
        Index("ix_quote_client_status", "client_id", "status"),
        # The client 360 page lists a client's latest quotes; the home page, quotes awaiting an answer.
        Index("ix_quote_client_issue_date", "client_id", "issue_date", "id"),
        # Quotes awaiting an answer, expiring first (home page), ties by id: a LIMIT 8 stops
        # after 8 entries instead of sorting every quote valid until the same day.
        Index("ix_quote_status_valid_until", "status", "valid_until", "id"),
        # A client's sent quotes by validity: the summary counts those past it before the
        # nightly expiry marks them (few per client, since the index holds sent quotes only).
        Index("ix_quote_client_sent_valid_until", "client_id", "valid_until",
              postgresql_where=text(SENT_QUOTE), sqlite_where=text(SENT_QUOTE)),
        # The quote list, newest first, all or one status (as the invoice list).
        Index("ix_quote_issue_date_id", "issue_date", "id"),
        Index("ix_quote_status_issue_date_id", "status", "issue_date", "id"),
    )

    status: Mapped[str] = mapped_column(String(20), default=QuoteStatus.DRAFT.value, index=True,
                                        active_history=True)
    valid_until: Mapped[dt.date] = mapped_column(Date)
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    decision_reason: Mapped[str] = mapped_column(Text, default="")

    lines: Mapped[list["QuoteLine"]] = relationship(
        back_populates="quote", cascade="all, delete-orphan", order_by="QuoteLine.position", lazy="selectin"
    )
    invoices: Mapped[list[Invoice]] = relationship(back_populates="quote", foreign_keys=[Invoice.quote_id])


class QuoteLine(LineItem, Model):
    __tablename__ = "quote_line"
    __table_args__ = (CheckConstraint("quantity >= 0", name="quantity_not_negative"),)

    quote_id: Mapped[int] = mapped_column(ForeignKey("quote.id", ondelete="CASCADE"), index=True)
    quote: Mapped[Quote] = relationship(back_populates="lines")


class CreditNote(TaxedDocument, BillingDocument, Model):
    """A nota di credito (TD04) against one invoice: its own gapless yearly numbers; once
    sent it lowers the invoice's balance by its net to pay."""

    __tablename__ = "credit_note"
    __table_args__ = (
        UniqueConstraint("year", "sequence", name="uq_credit_note_year_sequence"),
        UniqueConstraint("number", name="uq_credit_note_number"),
        Index("ix_credit_note_client_issue_date", "client_id", "issue_date", "id"),
        Index("ix_credit_note_issue_date_id", "issue_date", "id"),  # the credit note list, newest first
    )

    status: Mapped[str] = mapped_column(String(20), default=CreditNoteStatus.DRAFT.value, index=True,
                                        active_history=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id"), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")

    invoice: Mapped[Invoice] = relationship(back_populates="credit_notes")
    lines: Mapped[list["CreditNoteLine"]] = relationship(
        back_populates="credit_note", cascade="all, delete-orphan", order_by="CreditNoteLine.position",
        lazy="selectin",
    )

    @property
    def document_type(self) -> str:
        return "TD04"


class CreditNoteLine(LineItem, Model):
    __tablename__ = "credit_note_line"
    __table_args__ = (CheckConstraint("quantity >= 0", name="quantity_not_negative"),)

    credit_note_id: Mapped[int] = mapped_column(ForeignKey("credit_note.id", ondelete="CASCADE"), index=True)
    credit_note: Mapped[CreditNote] = relationship(back_populates="lines")


class Payment(Model):
    __tablename__ = "payment"
    __table_args__ = (
        # A refund is a negative row pointing at the payment it gives back (billing.record_refund).
        CheckConstraint(
            "(refunded_payment_id IS NULL AND amount > 0) OR (refunded_payment_id IS NOT NULL AND amount < 0)",
            name="amount_sign",
        ),
        UniqueConstraint("stripe_payment_intent", name="uq_payment_stripe_payment_intent"),
        # Revenue per month in one currency (home page), read from the index alone, and a
        # client's latest payments (360 page).
        Index("ix_payment_currency_date", "currency", "date", postgresql_include=["amount"]),
        # Payments in a period (exports, revenue) and the payment list, newest first (ties by id).
        Index("ix_payment_date_id", "date", "id"),
        Index("ix_payment_client_date", "client_id", "date", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id"), index=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id"), index=True)
    # active_history: the revenue rollup (app.billing.rollups) subtracts what a change replaced.
    amount: Mapped[Decimal] = mapped_column(Numeric(*MONEY_PRECISION), active_history=True)
    # The invoice's currency, copied when the payment is recorded (an invoice's currency is
    # locked once finalized): revenue per currency without joining every payment's invoice.
    currency: Mapped[str] = mapped_column(String(3), active_history=True)
    date: Mapped[dt.date] = mapped_column(Date, active_history=True)
    method: Mapped[str] = mapped_column(String(20), default=PaymentMethod.BANK_TRANSFER.value)
    reference: Mapped[str] = mapped_column(String(200), default="")
    stripe_payment_intent: Mapped[str | None] = mapped_column(String(100), nullable=True)
    refunded_payment_id: Mapped[int | None] = mapped_column(ForeignKey("payment.id"), nullable=True, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())

    invoice: Mapped[Invoice] = relationship(back_populates="payments")
    client: Mapped[Client] = relationship()

    def __repr__(self) -> str:
        return f"{self.amount} {self.date}"


class NumberSequence(Model):
    """The last number given per document kind and year; locked while a number is taken."""

    __tablename__ = "number_sequence"
    __table_args__ = (UniqueConstraint("kind", "year", name="uq_number_sequence_kind_year"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    year: Mapped[int] = mapped_column(Integer)
    last_value: Mapped[int] = mapped_column(Integer, default=0)


class DocumentPdf(Model):
    """The rendered PDF of an invoice or quote, keyed by a hash of the HTML it came from."""

    __tablename__ = "document_pdf"
    __table_args__ = (UniqueConstraint("document_kind", "document_id", name="uq_document_pdf_document"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_kind: Mapped[str] = mapped_column(String(20))
    document_id: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    # What the PDF was rendered from (document revision, company settings, template): see
    # app.pdf.service.freshness_key. Equal key, same PDF: no need to render the HTML to know.
    source_key: Mapped[str] = mapped_column(String(64), default="", server_default="")
    content: Mapped[bytes] = mapped_column(LargeBinary)
    rendered_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())


LINE_CLASSES = (InvoiceLine, QuoteLine, CreditNoteLine)
DOCUMENT_CLASSES = (Invoice, Quote, CreditNote)


def line_document(session: Session, line: InvoiceLine | QuoteLine | CreditNoteLine
                  ) -> Invoice | Quote | CreditNote | None:
    """The document a line belongs (or belonged, if just removed from it) to; for flush hooks."""
    if isinstance(line, InvoiceLine):
        relation, document_class, key = "invoice", Invoice, line.invoice_id
    elif isinstance(line, QuoteLine):
        relation, document_class, key = "quote", Quote, line.quote_id
    else:
        relation, document_class, key = "credit_note", CreditNote, line.credit_note_id
    document = getattr(line, relation)
    if document is None:
        removed_from = inspect(line).attrs[relation].history.deleted
        document = removed_from[0] if removed_from else None
    if document is None and key is not None:
        with session.no_autoflush:
            document = session.get(document_class, key)
    return document
