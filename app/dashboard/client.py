"""The client 360° page: `/clients/<id>/dashboard`, the client's one page.

Every link to a client opens it (FAB's `/clientview/show/<id>` sends here, and so does saving
the client form). Figures come from `app.billing.accounts.client_summary`; each tab shows the
latest rows only (LIST_LIMIT) and loads exactly what it shows, so the page costs the same
number of SQL statements for a client with five invoices and one with ten thousand. Contacts,
notes and the client's own email templates are edited from their tabs, through the client
rules (`app.clients.services`) and mail's template rules.
"""
from __future__ import annotations

import datetime as dt
import functools
from io import BytesIO

from flask import abort, flash, redirect, request, send_file, url_for
from flask_appbuilder import expose, has_access
from flask_babel import gettext as _
from sqlalchemy import Result, Select, and_, select
from sqlalchemy.orm import joinedload, raiseload

from app.activity import services as activity
from app.activity.models import Activity
from app.activity.services import describe
from app.billing.accounts import client_summary
from app.billing.labels import (
    INVOICE_STATUS_LABELS,
    METHOD_LABELS,
    QUOTE_STATUS_LABELS,
    SDI_STATUS_LABELS,
    STATUS_STYLES,
    sdi_status_label,
)
from app.billing.models import Invoice, Payment, Quote
from app.billing.services import BillingError
from app.clients.models import Client, Contact
from app.clients.services import ClientRefused, ContactData, remove_contact, save_contact, update_client
from app.errors import Refusal
from app.extensions import db
from app.fab.base import ClientelaBaseView, row_address
from app.mail import templating
from app.mail.models import CLIENT_KINDS, KIND_LABELS, ClientEmailTemplate
from app.mail.notifications import send_statement as email_statement
from app.mail.sandbox import PLACEHOLDERS, TemplateRefused
from app.mail.views import email_preview
from app.pdf.statement import default_period, parse_period, statement_filename, statement_pdf
from app.portal.tokens import issue_sign_in_link, revoke_contact_access
from app.recurring.models import RecurringInvoice
from app.recurring.views import FREQUENCY_LABELS
from app.recurring.views import status_chip as recurring_status_chip
from app.tickets.models import Ticket
from app.tickets.services import waiting_statement
from app.tickets.views import status_chip as ticket_status_chip

# The latest 20 of each kind: the page stays the same size for any client; the admin lists
# (linked from each tab) have everything, filtered and paged.
LIST_LIMIT = 20
# Timeline entries that carry the client's note from the portal (the quote keeps the note).
DECISION_KINDS = ("quote_accepted", "quote_rejected")

def _admin_url(endpoint: str, **values) -> str | None:
    """A link into another admin view, or None when that view is not registered."""
    try:
        return url_for(endpoint, **values)
    except Exception:  # werkzeug.routing.BuildError: the view does not exist in this build
        return None


def _translated(labels: dict[str, object]) -> dict[str, str]:
    return {key: str(label) for key, label in labels.items()}


def _latest(statement: Select, *order_by) -> Result:
    """The first LIST_LIMIT rows of a tab in the given order; a template that reached for a
    relationship would raise instead of issuing a query per row."""
    return db.session.execute(statement.order_by(*order_by).limit(LIST_LIMIT).options(raiseload("*")))


class ClientDashboardView(ClientelaBaseView):
    route_base = "/clients"
    default_view = "show"
    class_permission_name = "Client"
    # Issuing a portal link signs someone in as the client: that is a write, not a read.
    method_permission_name = {"show": "read", "portal_link": "write", "portal_access": "write",
                              "send_statement": "write", "statement_pdf": "read", "save_contact": "write",
                              "remove_contact": "write", "save_notes": "write", "email_template": "write",
                              "reset_email_template": "write"}

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
                statement_period: object = None, statement_errors: dict[str, str] | None = None,
                typed: dict | None = None):
        """The page; `typed`, after a refused contact or notes form: {"form": "contact-<id>",
        "new" or "notes", "values": what was typed, "errors": by field}, shown again in its tab."""
        client = db.session.get(Client, client_id, options=[joinedload(Client.contacts)])  # one statement
        if client is None:
            abort(404)
        today = dt.date.today()
        summary = client_summary(client.id, today)
        # A tab only for staff who may open what it lists (Support reads clients, not invoices).
        reads = {name: self.appbuilder.sm.has_access("can_read", name)
                 for name in ("Invoice", "Quote", "Payment", "RecurringInvoice")}
        invoices = _latest(select(Invoice).where(Invoice.client_id == client.id),
                           Invoice.issue_date.desc(), Invoice.id.desc()).scalars().all() if reads["Invoice"] else []
        quotes = _latest(select(Quote).where(Quote.client_id == client.id),
                         Quote.issue_date.desc(), Quote.id.desc()).scalars().all() if reads["Quote"] else []
        payments = _latest(
            select(Payment, Invoice.id, Invoice.number).join(Invoice, Invoice.id == Payment.invoice_id)
            .where(Payment.client_id == client.id),
            Payment.date.desc(), Payment.id.desc(),
        ).all() if reads["Payment"] else []
        schedules = _latest(select(RecurringInvoice).where(RecurringInvoice.client_id == client.id),
                            RecurringInvoice.next_date, RecurringInvoice.id).scalars().all() \
            if reads["RecurringInvoice"] else []
        overrides = {template.kind: template for template in db.session.scalars(
            select(ClientEmailTemplate)
            .where(ClientEmailTemplate.client_id == client.id)
            .options(raiseload("*"))
        )}
        # Each entry with the client's note of a quote decision (the quote keeps it), joined in.
        timeline = [(entry, describe(entry), note) for entry, note in _latest(
            select(Activity, Quote.decision_reason)
            .outerjoin(Quote, and_(Quote.id == Activity.quote_id, Activity.kind.in_(DECISION_KINDS)))
            .where(Activity.client_id == client.id),
            Activity.created_at.desc(), Activity.id.desc(),
        ).all()]
        # The tickets tab only for staff who may open tickets (Support, Admin).
        reads_tickets = self.appbuilder.sm.has_access("can_read", "Ticket")

        def can_write(permission_view: str) -> bool:
            return self.appbuilder.sm.has_access("can_write", permission_view)

        # The tab's badge (tickets waiting for staff) rides along with its rows: a client
        # without a ticket has none waiting.
        ticket_rows = _latest(
            select(Ticket, waiting_statement(client.id).correlate(None).scalar_subquery())
            .where(Ticket.client_id == client.id),
            Ticket.last_activity_at.desc(), Ticket.id.desc()).all() if reads_tickets else []
        tickets = [ticket for ticket, _waiting in ticket_rows]
        return self.render_template(
            "admin/dashboard/client.html",
            client=client,
            summary=summary,
            today=today,
            invoices=invoices,
            quotes=quotes,
            payments=payments,
            email_kinds=[(kind, KIND_LABELS[kind], overrides.get(kind)) for kind in CLIENT_KINDS],
            schedules=schedules,
            frequency_labels=FREQUENCY_LABELS,
            recurring_status_chip=recurring_status_chip,
            timeline=timeline,
            list_limit=LIST_LIMIT,
            # Translated once for the page, not once per row.
            invoice_status_labels=_translated(INVOICE_STATUS_LABELS),
            quote_status_labels=_translated(QUOTE_STATUS_LABELS),
            payment_method_labels=_translated(METHOD_LABELS),
            status_styles=STATUS_STYLES,
            sdi_status_label=functools.partial(sdi_status_label, labels=_translated(SDI_STATUS_LABELS)),
            open_tickets=(ticket_rows[0][1] if ticket_rows else 0) if reads_tickets else None,
            tickets=tickets,
            ticket_status_chip=ticket_status_chip,
            links={
                "new_invoice": can_write("Invoice") and _admin_url("InvoiceView.new_for_client", client_id=client.id),
                "new_quote": can_write("Quote") and _admin_url("QuoteView.new_for_client", client_id=client.id),
                "send_statement": can_write("Client") and _admin_url("ClientDashboardView.send_statement",
                                                                     client_id=client.id),
                "edit_client": can_write("Client") and _admin_url("ClientView.edit", pk=client.id),
                "archive": can_write("Client") and _admin_url("ClientView.action", pk=client.id,
                                                              name="restore" if client.archived else "archive"),
                # Built once for the tab, each row putting in its id.
                "invoice": row_address("InvoiceView.show", "pk"),
                "quote": row_address("QuoteView.show", "pk"),
                "new_schedule": can_write("RecurringInvoice") and _admin_url("RecurringInvoiceView.add",
                                                                             client_id=client.id),
                "schedule": row_address("RecurringInvoiceView.show", "pk"),
            },
            portal_link=portal_link,
            statement_period=statement_period or default_period(today),
            statement_errors=statement_errors or {},
            can_edit=can_write("Client"),
            reads=reads,
            # The tab open on arrival: a refused form's, the contacts after a portal link, else the first.
            open_tab=("notes" if (typed or {}).get("form") == "notes" else "contacts" if typed or portal_link
                      else "invoices" if reads["Invoice"] else "contacts"),
            typed=typed or {},
        )

    @expose("/<int:client_id>/portal-link", methods=["POST"])
    @has_access
    def portal_link(self, client_id: int):
        """Issue a portal sign-in link for one of the client's contacts, to copy into a chat
        or a phone call. The link is shown in this response only (never in a redirect URL or
        the session cookie): the database keeps just its hash."""
        contact = db.session.get(Contact, request.form.get("contact_id", type=int) or 0)
        if contact is None or contact.client_id != client_id:
            abort(404)
        if not contact.portal_enabled:
            flash(_("This contact's portal access is disabled."), "warning")
            return redirect(url_for(".show", client_id=client_id))
        link = issue_sign_in_link(contact, purpose="staff_copy")
        db.session.commit()
        return self._render(client_id, portal_link=(contact, link))

    # -- the client's page and 360 page act on the portal and mail, which clients sit below --

    @expose("/contacts/<int:contact_id>/portal-access", methods=["POST"])
    @has_access
    def portal_access(self, contact_id: int):
        """Revoke a contact's portal access (every link and session ends at once) or give it back."""
        contact = db.session.get(Contact, contact_id) or abort(404)
        if request.form.get("enable") == "1":
            contact.portal_enabled = True
            activity.record("portal_access_restored", contact.client_id, contact=contact.email)
            flash(_("Portal access restored for %(email)s.", email=contact.email), "success")
        else:
            revoke_contact_access(contact)
            activity.record("portal_access_revoked", contact.client_id, contact=contact.email)
            flash(_("Portal access revoked for %(email)s: open sessions and links no longer work.",
                    email=contact.email), "success")
        db.session.commit()
        return redirect(url_for(".show", client_id=contact.client_id, _anchor="contacts"))

    @expose("/<int:client_id>/send-statement", methods=["POST"])
    @has_access
    def send_statement(self, client_id: int):
        """Email the account statement to the client's primary contact, then back to the 360 page."""
        client = db.session.get(Client, client_id) or abort(404)
        try:
            emails = email_statement(client)
        except BillingError as error:
            db.session.rollback()
            flash(str(error.message), "danger")
        else:
            db.session.commit()
            flash(_("Statement sent to %(to)s.", to=", ".join(email.to_email for email in emails)), "success")
        return redirect(url_for(".show", client_id=client.id))


    # -- contacts, notes and email templates, edited from their tabs -------------------------

    @expose("/<int:client_id>/contacts", methods=["POST"])
    @expose("/<int:client_id>/contacts/<int:contact_id>", methods=["POST"])
    @has_access
    def save_contact(self, client_id: int, contact_id: int | None = None):
        """Add a contact, or change one; a refusal shows the page again with what was typed."""
        client = db.session.get(Client, client_id) or abort(404)
        data = ContactData(id=contact_id, name=request.form.get("name", ""), email=request.form.get("email", ""),
                           phone=request.form.get("phone", ""), is_primary=request.form.get("is_primary") == "y")
        try:
            contact = save_contact(client, data)
            db.session.flush()
        except ClientRefused as refused:
            db.session.rollback()
            if "id" in refused.errors:  # another client's contact
                abort(404)
            form = f"contact-{contact_id}" if contact_id else "new"
            return self._render(client_id, typed={"form": form, "values": request.form,
                                                  "errors": refused.as_dict()}), 400
        db.session.commit()
        flash(_("Contact %(name)s saved.", name=contact.name), "success")
        return redirect(url_for(".show", client_id=client_id, _anchor="contacts"))

    @expose("/<int:client_id>/contacts/<int:contact_id>/remove", methods=["POST"])
    @has_access
    def remove_contact(self, client_id: int, contact_id: int):
        client = db.session.get(Client, client_id) or abort(404)
        try:
            remove_contact(client, contact_id)
        except ClientRefused as refused:
            db.session.rollback()
            if "id" in refused.errors:
                abort(404)
            flash(str(refused.message), "danger")
        else:
            db.session.commit()
            flash(_("Contact removed: its portal links and sessions no longer work."), "success")
        return redirect(url_for(".show", client_id=client_id, _anchor="contacts"))

    @expose("/<int:client_id>/notes", methods=["POST"])
    @has_access
    def save_notes(self, client_id: int):
        client = db.session.get(Client, client_id) or abort(404)
        try:
            update_client(client, {"notes": request.form.get("notes", "")})
        except ClientRefused as refused:
            db.session.rollback()
            return self._render(client_id, typed={"form": "notes", "values": request.form,
                                                  "errors": refused.as_dict()}), 400
        db.session.commit()
        flash(_("Notes saved."), "success")
        return redirect(url_for(".show", client_id=client_id, _anchor="notes"))

    @expose("/<int:client_id>/email-templates/<kind>", methods=["GET", "POST"])
    @has_access
    def email_template(self, client_id: int, kind: str):
        """The client's own template of one kind: starts from the template in use (the
        company's, in the client's language), previews without saving, saves through mail's
        rule (the sandbox refuses what it cannot render, at the field)."""
        client = db.session.get(Client, client_id) or abort(404)
        if kind not in CLIENT_KINDS:
            abort(404)
        subject, body, source = templating.template_for(kind, client, client.language or "it")
        errors: dict[str, str] = {}
        preview = None
        if request.method == "POST":
            subject, body = request.form.get("subject", ""), request.form.get("body", "")
            try:
                if "preview" in request.form:
                    rendered = templating.preview(kind, subject, body, client)
                    preview = (rendered, email_preview(rendered.html))
                else:
                    templating.save_client_template(client, kind, subject, body)
                    db.session.commit()
                    flash(_("The %(kind)s template of %(client)s is saved.", kind=KIND_LABELS[kind],
                            client=client.name), "success")
                    return redirect(url_for(".show", client_id=client_id, _anchor="email-templates"))
            except TemplateRefused as refused:
                db.session.rollback()
                errors[refused.field] = str(refused.message)
        return self.render_template(
            "admin/dashboard/client_email_template.html", client=client, kind=kind, kind_label=KIND_LABELS[kind],
            subject=subject, body=body, source=source, errors=errors, preview=preview,
            placeholders=PLACEHOLDERS, title=KIND_LABELS[kind],
        ), 400 if errors else 200

    @expose("/<int:client_id>/email-templates/<kind>/reset", methods=["POST"])
    @has_access
    def reset_email_template(self, client_id: int, kind: str):
        """Back to the company's template for this kind."""
        client = db.session.get(Client, client_id) or abort(404)
        if kind not in CLIENT_KINDS:
            abort(404)
        templating.reset_client_template(client, kind)
        db.session.commit()
        flash(_("%(client)s now receives the company's %(kind)s template.", client=client.name,
                kind=KIND_LABELS[kind]), "success")
        return redirect(url_for(".show", client_id=client_id, _anchor="email-templates"))


def register(appbuilder) -> None:
    appbuilder.add_view_no_menu(ClientDashboardView)
