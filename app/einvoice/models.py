"""Every FatturaPA file Clientela made, the progressive that names them, and the receipts.

A file is written once and never changed: a later download, the accountant's export and the
PEC attachment are the same bytes. A document rejected by SdI gets a new file (a new name)
when it is corrected; the old ones stay as its history.
"""
from __future__ import annotations

import datetime as dt

from flask_appbuilder import Model
from sqlalchemy import JSON, Date, DateTime, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint, func, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

INVOICE = "invoice"
CREDIT_NOTE = "credit_note"


class EInvoiceFile(Model):
    __tablename__ = "einvoice_file"
    __table_args__ = (
        UniqueConstraint("file_name", name="uq_einvoice_file_file_name"),
        UniqueConstraint("progressive", name="uq_einvoice_file_progressive"),
        # A document's files, latest last (its current file is the one with the highest id).
        Index("ix_einvoice_file_document", "document_kind", "document_id", "id"),
        # The accountant's export reads a period's files by the documents' date.
        Index("ix_einvoice_file_issue_date", "issue_date"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_kind: Mapped[str] = mapped_column(String(20))  # INVOICE | CREDIT_NOTE
    document_id: Mapped[int] = mapped_column(Integer)
    document_number: Mapped[str] = mapped_column(String(40))
    issue_date: Mapped[dt.date] = mapped_column(Date)
    file_name: Mapped[str] = mapped_column(String(50))
    progressive: Mapped[str] = mapped_column(String(10))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    # This file's own state with SdI (the document shows its latest file's).
    sdi_status: Mapped[str] = mapped_column(String(20), default="not_sent", server_default="not_sent")
    sdi_errors: Mapped[list] = mapped_column(JSON, default=list, server_default=text("'[]'"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())

    receipts: Mapped[list["SdiReceipt"]] = relationship(back_populates="file", order_by="SdiReceipt.id",
                                                        lazy="selectin")

    def __repr__(self) -> str:
        return self.file_name


class EInvoiceProgressive(Model):
    """The last file progressive given: one row, locked while the next one is taken, so two
    finalizations on two workers never name two files alike (and a name is never reused)."""

    __tablename__ = "einvoice_progressive"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer, default=0)


class SdiReceipt(Model):
    """A receipt applied to a file; the unique key makes importing it again change nothing."""

    __tablename__ = "sdi_receipt"
    __table_args__ = (
        UniqueConstraint("file_id", "kind", "message_id", name="uq_sdi_receipt_file_id_kind_message_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("einvoice_file.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(2))  # RC, NS, MC, NE, DT, AT
    message_id: Mapped[str] = mapped_column(String(30))
    sdi_id: Mapped[str] = mapped_column(String(30), default="")
    content: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())

    file: Mapped[EInvoiceFile] = relationship(back_populates="receipts")
