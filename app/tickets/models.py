"""Support tickets: a subject, one thread of messages, and the files attached to them.

Status says whose turn it is: "open" waits for staff (new, or the client wrote last),
"answered" waits for the client, "closed" waits for nobody. The rules that move it live in
`app.tickets.services`.
"""
from __future__ import annotations

import datetime as dt
import enum

from flask_appbuilder import Model
from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from app.billing.models import Invoice, Quote
from app.clients.models import Client, Contact


class TicketStatus(str, enum.Enum):
    OPEN = "open"
    ANSWERED = "answered"
    CLOSED = "closed"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class Ticket(Model):
    __tablename__ = "ticket"
    __table_args__ = (
        Index("ix_ticket_status_last_activity", "status", "last_activity_at"),
        Index("ix_ticket_client_last_activity", "client_id", "last_activity_at"),
        # The inbox, latest activity first (ties by id): its status filter is a list (IN), so
        # the page is read in this order and filtered rather than sorted per status.
        Index("ix_ticket_last_activity_id", "last_activity_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default=TicketStatus.OPEN.value)
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id", ondelete="CASCADE"))
    # The contact who opened it; kept as NULL if staff later remove that contact.
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id", ondelete="SET NULL"), nullable=True,
                                                   index=True)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoice.id", ondelete="SET NULL"), nullable=True,
                                                   index=True)
    quote_id: Mapped[int | None] = mapped_column(ForeignKey("quote.id", ondelete="SET NULL"), nullable=True,
                                                 index=True)
    # Moved by every message the client can see (internal notes do not move it).
    last_activity_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)

    client: Mapped[Client] = relationship(lazy="joined", innerjoin=True)
    contact: Mapped[Contact | None] = relationship(lazy="joined")
    invoice: Mapped[Invoice | None] = relationship(lazy="joined")
    quote: Mapped[Quote | None] = relationship(lazy="joined")
    messages: Mapped[list["TicketMessage"]] = relationship(
        back_populates="ticket",
        cascade="all, delete-orphan",
        order_by="(TicketMessage.created_at, TicketMessage.id)",
        lazy="select",
    )

    def __repr__(self) -> str:
        return self.subject

    @property
    def document(self) -> Invoice | Quote | None:
        return self.invoice or self.quote


class TicketMessage(Model):
    """One message of the thread, by the contact or by a staff user; internal notes are for
    staff only and never reach the portal, the API's client view or an email."""

    __tablename__ = "ticket_message"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id", ondelete="SET NULL"), nullable=True,
                                                   index=True)
    staff_user_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id", ondelete="SET NULL"), nullable=True,
                                                      index=True)
    # The author's name when they wrote: the thread still reads right after a contact is removed.
    author_name: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text)
    from_staff: Mapped[bool] = mapped_column(Boolean, default=False)
    is_internal: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)

    ticket: Mapped[Ticket] = relationship(back_populates="messages")
    attachments: Mapped[list["TicketAttachment"]] = relationship(
        back_populates="message", cascade="all, delete-orphan", order_by="TicketAttachment.id", lazy="selectin"
    )


class TicketAttachment(Model):
    """A PDF, PNG or JPEG (checked by content), kept in the database so web nodes stay
    stateless. `filename` is cleaned and `content_type` is the detected type, never the
    browser's: downloads are always served as attachments with nosniff."""

    __tablename__ = "ticket_attachment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("ticket_message.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(120))
    content_type: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = deferred(mapped_column(LargeBinary))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)

    message: Mapped[TicketMessage] = relationship(back_populates="attachments")
