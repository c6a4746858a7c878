"""Email templates (global per kind and language, overrides per client) and the outbox.

Every email Clientela sends is first an `OutboxEmail` row, committed before the send job
runs: the row is the truth about what was (or was not) sent, and its unique idempotency
key stops a retried request or job from producing a second email.
"""
from __future__ import annotations

import datetime as dt
import enum

from flask_appbuilder import Model
from flask_babel import lazy_gettext as _l
from sqlalchemy import DateTime, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clients.models import Client


class EmailKind(str, enum.Enum):
    INVOICE = "invoice"
    QUOTE = "quote"
    CREDIT_NOTE = "credit_note"
    PAYMENT_RECEIPT = "payment_receipt"
    REMINDER = "reminder"
    TICKET_REPLY = "ticket_reply"
    NEW_TICKET = "new_ticket"
    PORTAL_LOGIN = "portal_login"
    QUOTE_ACCEPTED = "quote_accepted"
    QUOTE_REJECTED = "quote_rejected"
    STATEMENT = "statement"


EMAIL_KINDS = tuple(kind.value for kind in EmailKind)
# Emails to the company's own staff: global templates only, never a client's override.
STAFF_KINDS = (EmailKind.NEW_TICKET.value, EmailKind.QUOTE_ACCEPTED.value, EmailKind.QUOTE_REJECTED.value)
CLIENT_KINDS = tuple(kind for kind in EMAIL_KINDS if kind not in STAFF_KINDS)


class OutboxStatus(str, enum.Enum):
    QUEUED = "queued"
    SENDING = "sending"  # claimed by a worker under a lease its heartbeat renews; retried once it lapses
    SENT = "sent"
    FAILED = "failed"
    NOT_CONFIGURED = "not_configured"  # no MAIL_SERVER: recorded, readable, never sent


KIND_LABELS = {
    "invoice": _l("Invoice"),
    "quote": _l("Quote"),
    "credit_note": _l("Credit note"),
    "payment_receipt": _l("Payment receipt"),
    "reminder": _l("Overdue reminder"),
    "ticket_reply": _l("Ticket reply"),
    "new_ticket": _l("New ticket (to staff)"),
    "portal_login": _l("Portal sign-in link"),
    "quote_accepted": _l("Quote accepted (to staff)"),
    "quote_rejected": _l("Quote rejected (to staff)"),
    "statement": _l("Account statement"),
}
STATUS_LABELS = {
    OutboxStatus.QUEUED.value: _l("Queued"),
    OutboxStatus.SENDING.value: _l("Sending"),
    OutboxStatus.SENT.value: _l("Sent"),
    OutboxStatus.FAILED.value: _l("Failed"),
    OutboxStatus.NOT_CONFIGURED.value: _l("Not sent: no mail server configured"),
}
# The error of a row recorded without a mail server: stored in English like the SMTP errors
# beside it (an operator's log reads it); the Outbox shows it translated (ERROR_LABELS).
NOT_CONFIGURED_ERROR = "MAIL_SERVER is not set: recorded in the outbox only."
ERROR_LABELS = {NOT_CONFIGURED_ERROR: _l("No mail server is configured (MAIL_SERVER): recorded in the outbox only.")}


class EmailTemplate(Model):
    """The company-wide template of one kind in one language (defaults live in code)."""

    __tablename__ = "email_template"
    __table_args__ = (UniqueConstraint("kind", "language", name="uq_email_template_kind_language"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    language: Mapped[str] = mapped_column(String(5))
    subject: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now(), onupdate=func.now())

    def __repr__(self) -> str:
        return f"{self.kind} ({self.language})"


class ClientEmailTemplate(Model):
    """A client's own subject and body for one kind: when present, the global one is ignored."""

    __tablename__ = "client_email_template"
    __table_args__ = (UniqueConstraint("client_id", "kind", name="uq_client_email_template_client_id_kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    subject: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now(), onupdate=func.now())

    client: Mapped[Client] = relationship()

    def __repr__(self) -> str:
        return f"{self.kind} ({self.client_id})"


class OutboxEmail(Model):
    __tablename__ = "outbox_email"
    __table_args__ = (
        # The outbox list, newest first (ties by id), all of it or one status.
        Index("ix_outbox_email_created_at_id", "created_at", "id"),
        Index("ix_outbox_email_status_created_at_id", "status", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    # Written with the row, before any attempt, and sent as the Message-ID header by every
    # attempt: a resend is recognisable as the same message (docs/email.md, "Exactly once").
    message_id: Mapped[str] = mapped_column(String(255), default="", server_default="")
    kind: Mapped[str] = mapped_column(String(30), index=True)
    language: Mapped[str] = mapped_column(String(5), default="it")
    sender: Mapped[str] = mapped_column(String(200), default="")
    to_email: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(255))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default=OutboxStatus.QUEUED.value, index=True)
    error: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)

    client_id: Mapped[int | None] = mapped_column(ForeignKey("client.id", ondelete="SET NULL"), nullable=True,
                                                  index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id", ondelete="SET NULL"), nullable=True,
                                                   index=True)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoice.id", ondelete="SET NULL"), nullable=True,
                                                   index=True)
    quote_id: Mapped[int | None] = mapped_column(ForeignKey("quote.id", ondelete="SET NULL"), nullable=True,
                                                 index=True)

    created_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now(), index=True)
    claimed_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)

    client: Mapped[Client | None] = relationship(lazy="joined")
    attachments: Mapped[list["OutboxAttachment"]] = relationship(
        back_populates="email", cascade="all, delete-orphan", lazy="selectin", order_by="OutboxAttachment.id"
    )

    def __repr__(self) -> str:
        return f"{self.subject} → {self.to_email}"

    @property
    def status_label(self) -> str:
        return str(STATUS_LABELS.get(self.status, self.status))

    @property
    def kind_label(self) -> str:
        return str(KIND_LABELS.get(self.kind, self.kind))

    @property
    def attachment_names(self) -> str:
        return ", ".join(attachment.filename for attachment in self.attachments)


class OutboxAttachment(Model):
    """Either the bytes themselves, or a document whose (cached) PDF is attached at send time."""

    __tablename__ = "outbox_attachment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email_id: Mapped[int] = mapped_column(ForeignKey("outbox_email.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    mime_type: Mapped[str] = mapped_column(String(100), default="application/pdf")
    content: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    document_kind: Mapped[str | None] = mapped_column(String(20), nullable=True)  # "invoice" | "quote" | "credit_note"
    document_id: Mapped[int | None] = mapped_column(Integer, nullable=True)

    email: Mapped[OutboxEmail] = relationship(back_populates="attachments")


class ReminderSent(Model):
    """One row per overdue reminder step per invoice: the unique key makes each step send once."""

    __tablename__ = "reminder_sent"
    __table_args__ = (UniqueConstraint("invoice_id", "step", name="uq_reminder_sent_invoice_id_step"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id", ondelete="CASCADE"))
    step: Mapped[int] = mapped_column(Integer)  # days past the due date
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())
