"""The staff side of support: the ticket inbox and each ticket's page.

The inbox is FAB's list, newest activity first, with three switches of its own (waiting for
us, open, closed, all: `?show=`) and a client filter (`?client=<id>`, reached from a client's
name in the list or the client's 360° page) instead of FAB's search form, whose client
drop-down would load every client. The ticket page shows the whole thread, internal notes
included, with the reply form and the close / reopen buttons; every change is a POST with a
CSRF token and goes through `app.tickets.services`.
"""
from __future__ import annotations

from flask import abort, flash, has_request_context, redirect, request, url_for
from flask_appbuilder import expose, has_access
from flask_appbuilder.models.filters import BaseFilter
from flask_babel import LazyString
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import selectinload, undefer

from app.clients.models import Client
from app.extensions import db
from app.fab.base import ClientelaInterface, ClientelaModelView
from app.i18n import format_date
from app.security.roles import READ_WRITE
from app.tickets import services
from app.tickets.models import Ticket, TicketAttachment, TicketMessage, TicketStatus
from app.tickets.portal import attachment_response

STATUS_LABELS = {
    "open": _l("Waiting for us"),
    "answered": _l("Answered"),
    "closed": _l("Closed"),
}
STATUS_STYLES = {"open": "danger", "answered": "info", "closed": "default"}

# The inbox's switches: name → (label, statuses shown; None for all). Tuples, because FAB
# applies a list value once per item.
INBOX_VIEWS = {
    "waiting": (_l("Waiting for us"), (TicketStatus.OPEN.value,)),
    "open": (_l("Open"), (TicketStatus.OPEN.value, TicketStatus.ANSWERED.value)),
    "closed": (_l("Closed"), (TicketStatus.CLOSED.value,)),
    "all": (_l("All"), None),
}
DEFAULT_INBOX_VIEW = "open"


def status_chip(status: str) -> Markup:
    return Markup('<span class="label label-{} ticket-status-{}">{}</span>').format(
        STATUS_STYLES.get(status, "default"), status, STATUS_LABELS.get(status, status))


def _client_link(client: Client | None) -> Markup:
    if client is None:
        return Markup("")
    return Markup('<a href="{}" title="{}">{}</a>').format(
        url_for("TicketView.list", client=client.id, show="all"), _("This client's tickets"), client.name)


def _when(value) -> str:
    return f"{format_date(value.date())} {value.strftime('%H:%M')}" if value else ""


class FilterStatuses(BaseFilter):
    name = _l("Status")
    arg_name = "statuses"

    def apply(self, query, value):
        return query.filter(Ticket.status.in_(value))


class FilterClient(BaseFilter):
    name = _l("Client")
    arg_name = "client"

    def apply(self, query, value):
        return query.filter(Ticket.client_id == value)


def menu_label() -> str:
    """"Tickets (3)": the menu shows how many wait for staff, counted when the menu is drawn
    (FAB also reads the label while registering the view, outside any request: no count then;
    within one, the count is read once however often FAB draws the label)."""
    if not has_request_context():
        return _("Tickets")
    count = services.waiting_count()
    return _("Tickets (%(count)d)", count=count) if count else _("Tickets")


class TicketView(ClientelaModelView):
    route_base = "/tickets"
    datamodel = ClientelaInterface(Ticket)
    class_permission_name = "Ticket"
    method_permission_name = {**READ_WRITE, "reply": "write", "close": "write", "reopen": "write",
                              "attachment": "read"}
    # Tickets are opened by contacts and change only through the thread's buttons: no generic
    # add / edit / delete forms.
    include_route_methods = {"list", "show", "reply", "close", "reopen", "attachment"}

    list_title = _l("Tickets")
    show_title = _l("Ticket")
    list_template = "admin/tickets/list.html"
    label_columns = {
        "subject": _l("Subject"), "client": _l("Client"), "contact": _l("Contact"), "status": _l("Status"),
        "last_activity_at": _l("Last activity"), "created_at": _l("Opened"),
    }
    list_columns = ["subject", "client", "contact", "status", "last_activity_at"]
    order_columns = ["subject", "status", "last_activity_at", "created_at"]
    search_columns = ["subject"]
    base_order = ("last_activity_at", "desc")
    page_size = 25
    formatters_columns = {
        "status": status_chip,
        "client": _client_link,
        "contact": lambda contact: contact.name if contact else "",
        "last_activity_at": _when,
        "created_at": _when,
    }

    # -- the inbox ------------------------------------------------------------------------

    def inbox_view(self) -> str:
        shown = request.args.get("show", DEFAULT_INBOX_VIEW)
        return shown if shown in INBOX_VIEWS else DEFAULT_INBOX_VIEW

    def inbox_client(self) -> Client | None:
        client_id = request.args.get("client", type=int)
        return db.session.get(Client, client_id) if client_id else None

    def _get_list_widget(self, filters, **kwargs):
        extra = self.datamodel.get_filters()
        statuses = INBOX_VIEWS[self.inbox_view()][1]
        if statuses is not None:
            extra.add_filter("status", FilterStatuses, statuses)
        client = self.inbox_client()
        if request.args.get("client"):
            extra.add_filter("client_id", FilterClient, client.id if client else 0)
        return super()._get_list_widget(filters=filters.get_joined_filters(extra), **kwargs)

    def render_template(self, template, **kwargs):
        if template == self.list_template:
            kwargs.update(inbox_views=INBOX_VIEWS, inbox_view=self.inbox_view(), inbox_client=self.inbox_client())
        return super().render_template(template, **kwargs)

    # -- one ticket: the thread, the reply form, close and reopen ---------------------------

    def _ticket(self, pk) -> Ticket:
        ticket = db.session.get(Ticket, int(pk)) if str(pk).isdigit() else None
        return ticket or abort(404)

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        return self._render_thread(self._ticket(pk))

    def _render_thread(self, ticket: Ticket, body: str = "", internal: bool = False,
                       errors: dict[str, str] | None = None, status: int = 200):
        messages = db.session.scalars(
            select(TicketMessage).where(TicketMessage.ticket_id == ticket.id)
            .options(selectinload(TicketMessage.attachments))
            .order_by(TicketMessage.created_at, TicketMessage.id)
        ).all()
        page = self.render_template(
            "admin/tickets/show.html", title=ticket.subject, ticket=ticket, messages=messages, body=body,
            internal=internal, errors=errors or {}, status_chip=status_chip, when=_when,
            can_write=self.appbuilder.sm.has_access("can_write", self.class_permission_name),
            max_files=services.MAX_ATTACHMENTS_PER_MESSAGE,
        )
        return page, status

    @expose("/reply/<int:pk>", methods=["POST"])
    @has_access
    def reply(self, pk: int):
        ticket = self._ticket(pk)
        body = request.form.get("body", "")
        internal = bool(request.form.get("internal"))
        try:
            services.reply_as_staff(ticket, current_user._get_current_object(), body, internal=internal,
                                    uploads=services.read_uploads(request.files.getlist("attachments")))
        except services.TicketError as error:
            db.session.rollback()
            return self._render_thread(self._ticket(pk), body, internal, error.as_dict(), 400)
        db.session.commit()
        flash(_("Internal note added.") if internal else _("Reply sent: the client gets it by email."), "success")
        return redirect(url_for("TicketView.show", pk=pk))

    @expose("/close/<int:pk>", methods=["POST"])
    @has_access
    def close(self, pk: int):
        ticket = self._ticket(pk)
        if services.close_ticket(ticket, current_user._get_current_object()):
            db.session.commit()
            flash(_("Ticket closed."), "success")
        return redirect(url_for("TicketView.show", pk=pk))

    @expose("/reopen/<int:pk>", methods=["POST"])
    @has_access
    def reopen(self, pk: int):
        ticket = self._ticket(pk)
        if services.reopen_ticket(ticket, current_user._get_current_object()):
            db.session.commit()
            flash(_("Ticket reopened."), "success")
        return redirect(url_for("TicketView.show", pk=pk))

    @expose("/attachment/<int:pk>/<int:attachment_id>", methods=["GET"])
    @has_access
    def attachment(self, pk: int, attachment_id: int):
        attachment = db.session.scalar(
            select(TicketAttachment)
            .join(TicketMessage, TicketMessage.id == TicketAttachment.message_id)
            .where(TicketAttachment.id == attachment_id, TicketMessage.ticket_id == pk)
            .options(undefer(TicketAttachment.content))
        )
        return attachment_response(attachment) if attachment is not None else abort(404)


def register(appbuilder) -> None:
    appbuilder.add_view(TicketView, "Tickets", label=LazyString(menu_label), icon="fa-life-ring", category="")
