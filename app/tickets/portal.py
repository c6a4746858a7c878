"""The client's side of support, under /portal: the list of their tickets with the form to open
one, each ticket's thread with a reply box, and attachment downloads.

Every ticket query starts from `_client_tickets()`, scoped to the signed-in contact's client:
another client's ticket (or attachment, or an internal note's attachment) answers 404, exactly
like an id that does not exist. Documents offered in the form come from the portal's `scoped()`.
"""
from __future__ import annotations

from io import BytesIO

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, select
from sqlalchemy.orm import lazyload, selectinload, undefer

from app.billing.models import Invoice, Quote
from app.extensions import db, limiter
from app.portal import views as portal_views
from app.portal.security import current_contact, portal_login_required, scoped
from app.tickets import services
from app.tickets.models import Ticket, TicketAttachment, TicketMessage

bp = Blueprint("tickets", __name__, url_prefix="/portal")
portal_views.use_portal_pages(bp)

TICKETS_PER_PAGE = 200
DOCUMENTS_OFFERED = 50  # the latest invoices and quotes offered in "about"



def _messages_limit() -> str:
    return current_app.config.get("PORTAL_TICKET_LIMIT", "20 per hour;100 per day")


def _contact_key() -> str:
    contact = current_contact()
    return f"portal-tickets:{contact.id if contact else request.remote_addr}"


# New tickets and replies, counted together per contact: a runaway script cannot flood staff.
limit_messages = limiter.limit(_messages_limit, methods=["POST"], key_func=_contact_key, scope="portal-tickets")

STATUS_LABELS = {
    "open": _l("Waiting for us"),
    "answered": _l("Answered"),
    "closed": _l("Closed"),
}


def _client_tickets() -> Select:
    """The signed-in contact's client's tickets: the one query every ticket page starts from."""
    return select(Ticket).where(Ticket.client_id == current_contact().client_id)


def _ticket(ticket_id: int) -> Ticket:
    ticket = db.session.scalar(_client_tickets().where(Ticket.id == ticket_id))
    if ticket is None:
        abort(404)
    return ticket


def _documents() -> list[tuple[str, str]]:
    """(value, label) of the invoices and quotes a ticket may be about: this client's, never drafts."""
    invoices = db.session.scalars(
        scoped(Invoice).options(lazyload("*")).order_by(Invoice.issue_date.desc(), Invoice.id.desc())
        .limit(DOCUMENTS_OFFERED)
    ).all()
    quotes = db.session.scalars(
        scoped(Quote).options(lazyload("*")).order_by(Quote.issue_date.desc(), Quote.id.desc())
        .limit(DOCUMENTS_OFFERED)
    ).all()
    return ([(f"invoice-{doc.id}", _("Invoice %(number)s", number=doc.number)) for doc in invoices]
            + [(f"quote-{doc.id}", _("Quote %(number)s", number=doc.number)) for doc in quotes])


def _chosen_document(value: str) -> Invoice | Quote | None:
    """The document picked in the form, loaded through scoping; a foreign id is refused."""
    if not value:
        return None
    kind, _dash, raw_id = value.partition("-")
    model = {"invoice": Invoice, "quote": Quote}.get(kind)
    if model is None or not raw_id.isdigit():
        raise services.TicketError(_l("Choose one of your invoices or quotes."), "document")
    document = db.session.scalar(scoped(model).where(model.id == int(raw_id)))
    if document is None:
        raise services.TicketError(_l("Choose one of your invoices or quotes."), "document")
    return document


@bp.route("/tickets", methods=["GET", "POST"])
@portal_login_required
@limit_messages
def portal_list():
    """The client's tickets, newest activity first, and the form to open a new one."""
    form = {"subject": "", "body": "", "document": request.args.get("about", "")}
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = {name: request.form.get(name, "") for name in ("subject", "body", "document")}
        try:
            ticket = services.open_ticket(
                current_contact(), form["subject"], form["body"],
                document=_chosen_document(form["document"]),
                uploads=services.read_uploads(request.files.getlist("attachments")),
            )
        except services.TicketError as error:
            db.session.rollback()
            errors = error.as_dict()
        else:
            db.session.commit()
            flash(_("Thank you: your request is with us. We will answer here and by email."), "success")
            return redirect(url_for("tickets.portal_ticket", ticket_id=ticket.id), 303)
    tickets = db.session.scalars(
        _client_tickets().order_by(Ticket.last_activity_at.desc(), Ticket.id.desc()).limit(TICKETS_PER_PAGE)
    ).all()
    status = 400 if errors else 200
    return render_template("portal/tickets.html", tickets=tickets, form=form, errors=errors,
                           documents=_documents(), ticket_status_labels=STATUS_LABELS,
                           max_files=services.MAX_ATTACHMENTS_PER_MESSAGE), status


@bp.route("/tickets/<int:ticket_id>", methods=["GET", "POST"])
@portal_login_required
@limit_messages
def portal_ticket(ticket_id: int):
    """The whole thread (internal notes left out) and a reply box; a reply reopens the ticket."""
    ticket = _ticket(ticket_id)
    body, errors = "", {}
    if request.method == "POST":
        body = request.form.get("body", "")
        try:
            services.reply_as_contact(ticket, current_contact(), body,
                                      uploads=services.read_uploads(request.files.getlist("attachments")))
        except services.TicketError as error:
            db.session.rollback()
            errors = error.as_dict()
            ticket = _ticket(ticket_id)
        else:
            db.session.commit()
            flash(_("Your reply is sent."), "success")
            return redirect(url_for("tickets.portal_ticket", ticket_id=ticket.id), 303)
    messages = db.session.scalars(
        select(TicketMessage)
        .where(TicketMessage.ticket_id == ticket.id, TicketMessage.is_internal.is_(False))
        .options(selectinload(TicketMessage.attachments))
        .order_by(TicketMessage.created_at, TicketMessage.id)
    ).all()
    return render_template("portal/ticket.html", ticket=ticket, messages=messages, body=body, errors=errors,
                           ticket_status_labels=STATUS_LABELS,
                           max_files=services.MAX_ATTACHMENTS_PER_MESSAGE), 400 if errors else 200


@bp.get("/tickets/<int:ticket_id>/attachments/<int:attachment_id>")
@portal_login_required
def portal_attachment(ticket_id: int, attachment_id: int):
    """A file of a message this client can see, always as a download of its detected type."""
    attachment = db.session.scalar(
        select(TicketAttachment)
        .join(TicketMessage, TicketMessage.id == TicketAttachment.message_id)
        .join(Ticket, Ticket.id == TicketMessage.ticket_id)
        .where(TicketAttachment.id == attachment_id, Ticket.id == ticket_id,
               Ticket.client_id == current_contact().client_id, TicketMessage.is_internal.is_(False))
        .options(undefer(TicketAttachment.content))
    )
    if attachment is None:
        abort(404)
    return attachment_response(attachment)


def attachment_response(attachment: TicketAttachment):
    """The one way an attachment leaves Clientela (portal and admin): the stored, detected type,
    a cleaned file name, as a download, never sniffed or rendered inline."""
    response = send_file(BytesIO(attachment.content), mimetype=attachment.content_type, as_attachment=True,
                         download_name=attachment.filename, max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(429)
def _too_many_messages(_error):
    return render_template(
        "portal/message.html", title=_("Too many messages"),
        message=_("You have sent many messages in a short time. Please wait a while before writing again."),
        back=url_for("tickets.portal_list"),
    ), 429


@bp.errorhandler(413)
def _too_large(_error):
    return render_template(
        "portal/message.html", title=_("File too large"),
        message=_("Attachments can be at most 10 MB each, and a message's files together at most 12 MB."),
        back=request.path,
    ), 413
