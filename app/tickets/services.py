"""The ticket rules, callable without HTTP: opening, replying, closing and reopening, the
attachment check, and who hears about what.

- A contact opens a ticket (status open) and staff are emailed at the support address.
- A staff reply makes it "answered" and emails the contact a sign-in link to the ticket; an
  internal note changes nothing the client can see (no status, no email, no activity date).
- A contact's reply makes it "open" again, whether it was answered or closed.
- Staff close and reopen it.

Nothing here commits: the request, API call or job does, so a refused attachment or a failed
check leaves nothing behind (no ticket, no message, no email in the outbox).
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Iterable, Protocol

from flask import current_app, has_request_context, request
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from werkzeug.utils import secure_filename

from app.activity import services as activity
from app.activity.services import contact_actor, staff_name
from app.billing.models import Invoice, Quote
from app.clients.models import Contact
from app.errors import Refusal
from app.extensions import db
from app.tickets.models import Ticket, TicketAttachment, TicketMessage, TicketStatus

MAX_SUBJECT_LENGTH = 200
MAX_BODY_LENGTH = 20_000
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
MAX_ATTACHMENTS_PER_MESSAGE = 5

# What a file's first bytes must be, whatever its name or the browser says: type → (magic, extension).
ALLOWED_TYPES = {
    "application/pdf": (b"%PDF-", "pdf"),
    "image/png": (b"\x89PNG\r\n\x1a\n", "png"),
    "image/jpeg": (b"\xff\xd8\xff", "jpg"),
}


class TicketError(Refusal):
    """A ticket rule refused the change."""


@dataclass(frozen=True)
class Upload:
    """A file as the caller received it: the name the user gave it and its bytes."""

    filename: str
    content: bytes


class _FileLike(Protocol):
    filename: str | None

    def read(self, size: int = -1) -> bytes: ...


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


# ---------------------------------------------------------------- input

def read_uploads(files: Iterable[_FileLike]) -> list[Upload]:
    """The non-empty file fields of a form; each read to one byte past the limit, enough to
    tell that it is too big without holding more of it."""
    uploads = []
    for file in files:
        if not file or not file.filename:
            continue
        uploads.append(Upload(file.filename, file.read(MAX_ATTACHMENT_BYTES + 1)))
    return uploads


def check_upload(upload: Upload) -> TicketAttachment:
    """A stored attachment for `upload`, or TicketError: empty, over 10 MB, or not a PDF, PNG
    or JPEG by its content. The stored name is cleaned and given the detected type's extension."""
    size = len(upload.content)
    if size == 0:
        raise TicketError(_l("The file %(name)s is empty.", name=_display_name(upload.filename)), "attachments")
    if size > MAX_ATTACHMENT_BYTES:
        raise TicketError(_l("The file %(name)s is larger than 10 MB: attach a smaller file.",
                             name=_display_name(upload.filename)), "attachments")
    content_type = detect_type(upload.content)
    if content_type is None:
        raise TicketError(_l("The file %(name)s is not a PDF, PNG or JPEG: only those can be attached.",
                             name=_display_name(upload.filename)), "attachments")
    return TicketAttachment(filename=safe_filename(upload.filename, content_type), content_type=content_type,
                            size=size, content=upload.content)


def detect_type(content: bytes) -> str | None:
    for content_type, (magic, _extension) in ALLOWED_TYPES.items():
        if content.startswith(magic):
            return content_type
    return None


def safe_filename(filename: str, content_type: str) -> str:
    """ASCII letters, digits, dots, dashes and underscores, ending in the detected type's extension."""
    extension = ALLOWED_TYPES[content_type][1]
    stem = secure_filename(filename or "").rsplit(".", 1)[0][:80] or "attachment"
    return f"{stem}.{extension}"


def _display_name(filename: str) -> str:
    return re.sub(r"[\x00-\x1f]", "", filename or "")[:80]


def _clean_subject(subject: str | None) -> str:
    # One line: the subject goes into email subjects, where a line break would be refused.
    subject = " ".join((subject or "").split())
    if not subject:
        raise TicketError(_l("Write a subject for your request."), "subject")
    if len(subject) > MAX_SUBJECT_LENGTH:
        raise TicketError(_l("The subject can be at most %(max)d characters.", max=MAX_SUBJECT_LENGTH), "subject")
    return subject


def _clean_body(body: str | None) -> str:
    body = (body or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    if not body:
        raise TicketError(_l("Write a message."), "body")
    if len(body) > MAX_BODY_LENGTH:
        raise TicketError(_l("A message can be at most %(max)d characters.", max=MAX_BODY_LENGTH), "body")
    return body


def _attachments(uploads: Iterable[Upload]) -> list[TicketAttachment]:
    uploads = list(uploads)
    if len(uploads) > MAX_ATTACHMENTS_PER_MESSAGE:
        raise TicketError(_l("At most %(max)d files can be attached to one message.",
                             max=MAX_ATTACHMENTS_PER_MESSAGE), "attachments")
    return [check_upload(upload) for upload in uploads]


# ---------------------------------------------------------------- the rules

def open_ticket(contact: Contact, subject: str, body: str, *, document: Invoice | Quote | None = None,
                uploads: Iterable[Upload] = ()) -> Ticket:
    """A contact asks for help, optionally about one of their client's invoices or quotes.
    Staff are told at the support address from Company settings."""
    subject = _clean_subject(subject)
    body = _clean_body(body)
    if document is not None and (document.client_id != contact.client_id or document.status == "draft"):
        raise TicketError(_l("Choose one of your invoices or quotes."), "document")
    attachments = _attachments(uploads)
    now = _now()
    ticket = Ticket(subject=subject, status=TicketStatus.OPEN.value, client_id=contact.client_id,
                    contact_id=contact.id, last_activity_at=now, created_at=now,
                    invoice_id=document.id if isinstance(document, Invoice) else None,
                    quote_id=document.id if isinstance(document, Quote) else None)
    message = TicketMessage(contact_id=contact.id, author_name=contact.name[:200], body=body, created_at=now,
                            attachments=attachments)
    ticket.messages.append(message)
    db.session.add(ticket)
    db.session.flush()
    activity.record("ticket_opened", contact.client_id, actor=contact_actor(contact),
                    invoice_id=ticket.invoice_id, quote_id=ticket.quote_id, ticket_id=ticket.id, subject=subject)
    from app.mail.notifications import notify_staff

    notify_staff("new_ticket", contact.client, {
        "contact": contact,
        "document": document,
        "ticket_subject": subject,
        "ticket_message": body,
        "staff_link": staff_url(ticket),
    })
    return ticket


def reply_as_contact(ticket: Ticket, contact: Contact, body: str, uploads: Iterable[Upload] = ()) -> TicketMessage:
    """The client writes in the thread: an answered or closed ticket is open again."""
    if ticket.client_id != contact.client_id:
        raise TicketError(_l("This ticket is not yours."), "ticket")
    message = TicketMessage(contact_id=contact.id, author_name=contact.name[:200], body=_clean_body(body),
                            attachments=_attachments(uploads), created_at=_now())
    reopened = ticket.status == TicketStatus.CLOSED.value
    ticket.messages.append(message)
    ticket.status = TicketStatus.OPEN.value
    ticket.closed_at = None
    ticket.last_activity_at = message.created_at
    db.session.flush()
    activity.record("ticket_reopened_by_client" if reopened else "ticket_client_replied", ticket.client_id,
                    actor=contact_actor(contact), ticket_id=ticket.id, subject=ticket.subject)
    return message


def reply_as_staff(ticket: Ticket, user, body: str, *, internal: bool = False,
                   uploads: Iterable[Upload] = ()) -> TicketMessage:
    """Staff answer (the ticket becomes "answered" and the contact gets an email with a link
    to it), or leave an internal note (nothing changes for the client)."""
    message = TicketMessage(staff_user_id=getattr(user, "id", None), author_name=staff_name(user),
                            from_staff=True, is_internal=internal, body=_clean_body(body),
                            attachments=_attachments(uploads), created_at=_now())
    ticket.messages.append(message)
    if internal:
        db.session.flush()
        return message
    ticket.status = TicketStatus.ANSWERED.value
    ticket.closed_at = None
    ticket.last_activity_at = message.created_at
    db.session.flush()
    activity.record("ticket_answered", ticket.client_id, actor=staff_name(user) if user else None,
                    ticket_id=ticket.id, subject=ticket.subject)
    _email_reply(ticket, message)
    return message


def close_ticket(ticket: Ticket, user=None) -> bool:
    """True when it was not closed yet (closing twice is harmless)."""
    if ticket.status == TicketStatus.CLOSED.value:
        return False
    ticket.status = TicketStatus.CLOSED.value
    ticket.closed_at = _now()
    activity.record("ticket_closed", ticket.client_id, actor=staff_name(user) if user else None,
                    ticket_id=ticket.id, subject=ticket.subject)
    return True


def reopen_ticket(ticket: Ticket, user=None) -> bool:
    """Staff reopen a closed ticket: it waits for them again."""
    if ticket.status != TicketStatus.CLOSED.value:
        return False
    ticket.status = TicketStatus.OPEN.value
    ticket.closed_at = None
    activity.record("ticket_reopened", ticket.client_id, actor=staff_name(user) if user else None,
                    ticket_id=ticket.id, subject=ticket.subject)
    return True


def waiting_count() -> int:
    """Tickets waiting for staff (status open) of every client: the menu badge and the home
    page's card (one client's, the 360 page's Tickets badge: `waiting_statement`).

    Read once per request: FAB draws the menu label more than once per page and the home
    page shows the count too. It is kept in the request's WSGI environ (as the permissions
    are, app/security/cache.py), so the next request counts afresh."""
    kept = request.environ if has_request_context() else {}
    if _WAITING_COUNT_KEY not in kept:
        kept[_WAITING_COUNT_KEY] = db.session.scalar(waiting_statement()) or 0
    return kept[_WAITING_COUNT_KEY]


_WAITING_COUNT_KEY = "clientela.tickets_waiting"


def waiting_statement(client_id: int | None = None):
    """The count of tickets waiting for staff, of one client or of all, as a statement (the
    360 page reads it beside the client's tickets)."""
    statement = select(func.count()).select_from(Ticket).where(Ticket.status == TicketStatus.OPEN.value)
    return statement if client_id is None else statement.where(Ticket.client_id == client_id)


def visible_messages(ticket: Ticket) -> list[TicketMessage]:
    """The thread as the client sees it: every message in order, internal notes left out."""
    return [message for message in ticket.messages if not message.is_internal]


# ---------------------------------------------------------------- email and links

def portal_path(ticket: Ticket) -> str:
    return f"/portal/tickets/{ticket.id}"


def staff_url(ticket: Ticket) -> str:
    return f"{current_app.config['PUBLIC_BASE_URL'].rstrip('/')}/tickets/show/{ticket.id}"


def _email_reply(ticket: Ticket, message: TicketMessage) -> None:
    """The staff reply to the ticket's contact (else the client's primary contact), through the
    client's template for "ticket_reply", with a sign-in link that lands on the ticket. Queued
    once per message, whoever asks."""
    from app.mail.outbox import send_templated
    from app.portal.tokens import contact_may_sign_in, issue_sign_in_link

    contact = ticket.contact or ticket.client.primary_contact
    if contact is None or not contact.email:
        return
    if contact_may_sign_in(contact):
        link = issue_sign_in_link(contact, target=portal_path(ticket), purpose="ticket")
    else:
        link = f"{current_app.config['PUBLIC_BASE_URL'].rstrip('/')}/portal/login"
    send_templated("ticket_reply", ticket.client, contact.email,
                   {"ticket_subject": ticket.subject, "ticket_message": message.body, "portal_link": link},
                   contact=contact, idempotency_key=f"ticket_reply:{message.id}")
