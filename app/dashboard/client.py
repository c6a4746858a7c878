"""The client 360° page: `/clients/<id>/dashboard`, what a click on a client's name opens.

Figures come from `queries.client_summary`; each tab shows the latest rows only (LIST_LIMIT)
and loads exactly what it shows, so the page costs the same number of SQL statements for a
client with five invoices and one with ten thousand.
"""
from __future__ import annotations

import datetime as dt

from io import BytesIO

from flask import abort, flash, redirect, request, send_file, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext as _
from sqlalchemy import Result, Select, select
from sqlalchemy.orm import raiseload

from app.activity.services import describe
from app.billing.labels import INVOICE_STATUS_LABELS, METHOD_LABELS, QUOTE_STATUS_LABELS, STATUS_STYLES
from app.billing.models import Invoice, Payment, Quote
from app.clients.models import Client, Contact
from app.dashboard import queries
from app.errors import Refusal
from app.extensions import db
from app.mail.models import ClientEmailTemplate
from app.pdf.statement import default_period, parse_period, statement_filename, statement_pdf
from app.tickets.models import Ticket
from app.tickets.views import status_chip as ticket_status_chip

# The latest 20 of each kind: the page stays the same size for any client; the admin lists
# (linked from each tab) have everything, filtered and paged.
LIST_LIMIT = 20



def _admin_url(endpoint: str, **values) -> str | None:
    """A link into another admin view, or None when that view is not registered."""
    try:
        return url_for(endpoint, **values)
    except Exception:  # werkzeug.routing.BuildError: the view does not exist in this build
        return None


def _latest(statement: Select, *order_by) -> Result:
    """The first LIST_LIMIT rows of a tab in the given order; a template that reached for a
    relationship would raise instead of issuing a query per row."""
    return db.session.execute(statement.order_by(*order_by).limit(LIST_LIMIT).options(raiseload("*")))


class ClientDashboardView(BaseView):
    route_base = "/clients"
    default_view = "show"
    class_permission_name = "Client"
    # Issuing a portal link signs someone in as the client: that is a write, not a read.
    method_permission_name = {"show": "read", "portal_link": "write", "statement_pdf": "read"}

    @expose("/<int:client_id>/dashboard")
    @has_access
    def show(self, client_id: int):
        return self._render(client_id)

    @expose("/<int:client_id>/statement.pdf")
    @has_access
    def statement_pdf(self, client_id: int):
        """The statement of account for the period picked on the 360 page; a wrong date shows
        the page again with the error at the field."""
        client = db.session.get(Client, client_id) or abort(404)
        try:
            period = parse_period(request.args.get("from"), request.args.get("to"))
        except Refusal as refusal:
            asked = {"start": request.args.get("from", ""), "end": request.args.get("to", "")}
            return self._render(client_id, statement_period=asked,
                                statement_errors={refusal.field: str(refusal.message)}), 400
        return send_file(BytesIO(statement_pdf(client, period)), mimetype="application/pdf",
                         download_name=statement_filename(client, period), as_attachment=False)

    def _render(self, client_id: int, portal_link: tuple[Contact, str] | None = None,
                statement_period: object = None, statement_errors: dict[str, str] | None = None):
        client = db.session.get(Client, client_id)
        if client is None:
            abort(404)
        today = dt.date.today()
        summary = queries.client_summary(client.id, today)
        invoices = _latest(select(Invoice).where(Invoice.client_id == client.id),
                           Invoice.issue_date.desc(), Invoice.id.desc()).scalars().all()
        quotes = _latest(select(Quote).where(Quote.client_id == client.id),
                         Quote.issue_date.desc(), Quote.id.desc()).scalars().all()
        payments = _latest(
            select(Payment, Invoice.id, Invoice.number).join(Invoice, Invoice.id == Payment.invoice_id)
            .where(Payment.client_id == client.id),
            Payment.date.desc(), Payment.id.desc(),
        ).all()
        templates = db.session.scalars(
            select(ClientEmailTemplate)
            .where(ClientEmailTemplate.client_id == client.id)
            .order_by(ClientEmailTemplate.kind)
            .options(raiseload("*"))
        ).all()
        timeline = [
            (entry, describe(entry)) for entry, _name in queries.recent_activity(LIST_LIMIT, client_id=client.id)
        ]
        # The tickets tab only for staff who may open tickets (Support, Admin).
        reads_tickets = self.appbuilder.sm.has_access("can_read", "Ticket")

        def can_write(permission_view: str) -> bool:
            return self.appbuilder.sm.has_access("can_write", permission_view)

        tickets = _latest(select(Ticket).where(Ticket.client_id == client.id),
                          Ticket.last_activity_at.desc(), Ticket.id.desc()).scalars().all() if reads_tickets else []
        return self.render_template(
            "admin/dashboard/client.html",
            client=client,
            summary=summary,
            today=today,
            invoices=invoices,
            quotes=quotes,
            payments=payments,
            templates=templates,
            timeline=timeline,
            list_limit=LIST_LIMIT,
            invoice_status_labels=INVOICE_STATUS_LABELS,
            quote_status_labels=QUOTE_STATUS_LABELS,
            payment_method_labels=METHOD_LABELS,
            shown_quote_status=lambda quote: queries.shown_quote_status(quote, today),
            status_styles=STATUS_STYLES,
            open_tickets=queries.open_tickets(client.id) if reads_tickets else None,
            tickets=tickets,
            ticket_status_chip=ticket_status_chip,
            links={
                "new_invoice": can_write("Invoice") and _admin_url("InvoiceView.new_for_client", client_id=client.id),
                "new_quote": can_write("Quote") and _admin_url("QuoteView.new_for_client", client_id=client.id),
                "send_statement": can_write("Client") and _admin_url("ClientView.send_statement",
                                                                     client_id=client.id),
                "edit_client": can_write("Client") and _admin_url("ClientView.edit", pk=client.id),
                "invoice": lambda invoice_id: _admin_url("InvoiceView.show", pk=invoice_id),
                "quote": lambda quote_id: _admin_url("QuoteView.show", pk=quote_id),
            },
            portal_link=portal_link,
            statement_period=statement_period or default_period(today),
            statement_errors=statement_errors or {},
        )

    @expose("/<int:client_id>/portal-link", methods=["POST"])
    @has_access
    def portal_link(self, client_id: int):
        """Issue a portal sign-in link for one of the client's contacts, to copy into a chat
        or a phone call. The link is shown in this response only (never in a redirect URL or
        the session cookie): the database keeps just its hash."""
        from app.portal.tokens import issue_sign_in_link

        contact = db.session.get(Contact, request.form.get("contact_id", type=int) or 0)
        if contact is None or contact.client_id != client_id:
            abort(404)
        if not contact.portal_enabled:
            flash(_("This contact's portal access is disabled."), "warning")
            return redirect(url_for(".show", client_id=client_id))
        link = issue_sign_in_link(contact, purpose="staff_copy")
        db.session.commit()
        return self._render(client_id, portal_link=(contact, link))


def register(appbuilder) -> None:
    appbuilder.add_view_no_menu(ClientDashboardView)
