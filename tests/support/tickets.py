"""Builders shared by the ticket tests: files of each kind, a ticket opened through the rules,
and reading a sent email. No tests live here.
"""
from __future__ import annotations

from io import BytesIO

from sqlalchemy import select

from app.clients.models import Contact
from app.extensions import db
from app.tickets import services
from app.tickets.models import Ticket

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(40)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(40)


def file_field(content: bytes, name: str) -> tuple[BytesIO, str]:
    """A file as the test client posts it in a multipart form."""
    return BytesIO(content), name


def ticket_of(contact: Contact) -> Ticket:
    """The contact's client's ticket (opened once, with a PDF attached to its first message)."""
    ticket = db.session.scalar(select(Ticket).where(Ticket.client_id == contact.client_id).order_by(Ticket.id))
    if ticket is None:
        ticket = services.open_ticket(contact, "Domanda sulla fattura", "Buongiorno,\nuna domanda.",
                                      uploads=[services.Upload("estratto.pdf", PDF)])
        db.session.flush()
    return ticket


def attachment_path(contact: Contact) -> str:
    ticket = ticket_of(contact)
    return f"/portal/tickets/{ticket.id}/attachments/{ticket.messages[0].attachments[0].id}"


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content()
