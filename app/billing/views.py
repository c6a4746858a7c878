"""Staff views of invoices, quotes and payments: thin pages over `app.billing.services`.

A new invoice or quote opens the editor for a client (`add?client_id=`) and is created only
when it is saved (`new_invoice` / `new_quote` copy the billing block); a draft's lines are
edited in the same one-page editor (`app.billing.editor`, `templates/admin/document_edit.html`)
and saved through `set_lines`. The buttons on the show page (finalize, cancel, accept, reject,
convert) are FAB actions, POSTed with a CSRF token. Actions receive rows fetched without base
filters, so each one checks the document's state itself (the services refuse what does not
apply anyway).
"""
from __future__ import annotations

from types import SimpleNamespace

from flask import Response, abort, flash, redirect, request, url_for
from flask_appbuilder import expose, has_access
from flask_appbuilder.actions import action
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from sqlalchemy import select
from sqlalchemy.orm import defaultload, lazyload, selectinload

from app.billing import editor, services, states
from app.billing.forms import CreditNoteForm, InvoiceForm, NewCreditNoteForm, PaymentForm, QuoteForm
from app.billing.labels import (
    METHOD_LABELS,
    sdi_status_label,
)
from app.billing.models import CreditNote, CreditNoteLine, Invoice, InvoiceLine, Payment, Quote, QuoteLine
from app.billing.printing import document_pdf
from app.billing.signals import send_requested
from app.billing.totals import document_totals
from app.clients.models import Client
from app.clients.services import contact_for_client_email, unlisted_client_email
from app.extensions import db
from app.fab.base import ClientelaInterface, ClientelaModelView
from app.fab.workarounds import ShownActions
from app.i18n import format_date, format_money
from app.security.roles import READ_WRITE

MONEY_COLUMNS = frozenset({"subtotal", "tax_total", "total", "amount_paid", "balance", "amount", "unit_price",
                           "amount_credited", "withholding_amount", "pension_fund_amount", "stamp_duty_amount",
                           "net_to_pay"})

def _document_currency(item) -> str:
    """A document's (or payment's) own currency, else that of the line's document. The row's
    own column first: an invoice's `quote` relation, read before, was a query per converted
    invoice on the invoice list (and one more for the quote's lines)."""
    if getattr(item, "currency", None):
        return item.currency
    document = getattr(item, "invoice", None) or getattr(item, "quote", None) or getattr(item, "credit_note", None)
    return getattr(document, "currency", None) or "EUR"


class BillingInterface(ClientelaInterface):
    """Clientela's list interface, with each list's relations loaded in one query per relation
    (not per row), the relations a list never shows (`unread`, loader options: a document's
    lines, its client's contacts) loaded only if something reads them, and amounts shown in
    their document's currency."""

    def __init__(self, obj, eager=(), unread=(), session=None):
        super().__init__(obj, session=session)
        self._eager, self._unread = tuple(eager), tuple(unread)

    def apply_all(self, query, *args, **kwargs):
        return super().apply_all(query, *args, **kwargs).options(*(selectinload(rel) for rel in self._eager),
                                                                 *self._unread)

    @staticmethod
    def _get_attr_value(item, col):
        value = SQLAInterface._get_attr_value(item, col)
        if col == "balance" and not states.owes(item):
            return ""  # a draft or a cancelled invoice owes nothing (app.billing.states)
        if col in MONEY_COLUMNS:
            return format_money(value, _document_currency(item))
        return value


COMMON_LABELS = {
    "number": _l("Number"), "client": _l("Client"), "issue_date": _l("Issue date"), "due_date": _l("Due date"),
    "valid_until": _l("Valid until"), "status": _l("Status"), "display_status": _l("Status"),
    "subtotal": _l("Subtotal"), "tax_total": _l("Tax"), "total": _l("Total"),
    "amount_paid": lazy_pgettext("amount", "Paid"), "balance": _l("Balance due"), "notes": _l("Notes"), "terms": _l("Terms"), "currency": _l("Currency"),
    "bill_name": _l("Billed to"), "bill_address": _l("Address"), "bill_city": _l("City"),
    "bill_province": _l("Province"), "bill_postal_code": _l("Postal code"), "bill_country": _l("Country"),
    "bill_vat_number": _l("VAT number"), "bill_tax_code": _l("Codice fiscale"), "bill_sdi_code": _l("SDI code"),
    "bill_pec": _l("PEC"), "lines": _l("Lines"), "description": _l("Description"), "quantity": _l("Quantity"),
    "unit_price": _l("Unit price"), "discount": _l("Discount %"), "tax_rate": _l("Tax rate %"),
    "amount": _l("Amount"), "date": _l("Date"), "method": _l("Method"), "reference": _l("Reference"),
    "invoice": _l("Invoice"), "quote": _l("Quote"), "reason": _l("Reason"), "credit_notes": _l("Credit notes"),
    "amount_credited": _l("Credited"), "withholding_amount": _l("Withholding tax"),
    "pension_fund_amount": _l("Pension fund contribution"), "stamp_duty_amount": _l("Stamp duty"),
    "net_to_pay": _l("Net to pay"), "split_payment": _l("Split payment"), "sdi_status": _l("SdI status"),
    "sdi_file_name": _l("FatturaPA file"), "vat_nature": _l("VAT nature"),
}
DATE_FORMATTERS = {name: format_date for name in ("issue_date", "due_date", "valid_until", "date")}
BILLING_BLOCK = ["bill_name", "bill_address", "bill_city", "bill_province", "bill_postal_code", "bill_country",
                 "bill_vat_number", "bill_tax_code", "bill_sdi_code", "bill_pec"]


class DocumentView(ClientelaModelView):
    """What invoices and quotes share: the draft's form, the client's billing block, the PDF."""

    kind = ""  # "invoice" or "quote"
    label_columns = COMMON_LABELS
    formatters_columns = {**DATE_FORMATTERS, "number": lambda number: number or _("(draft)")}
    search_columns = ["number", "status", "issue_date"]
    base_order = ("issue_date", "desc")
    page_size = 25
    show_template = "admin/document_show.html"
    edit_template = "admin/document_edit.html"

    # -- the editor: one page for a new document or a draft; nothing is stored until Save ------

    @expose("/add", methods=["GET", "POST"])
    @has_access
    def add(self):
        """The empty editor for the client named by `?client_id=` (the lists' "+" asks for one
        first). The document is created only when the form is saved."""
        client = db.session.get(Client, request.args.get("client_id", type=int) or 0)
        if client is None or client.archived:
            if client is not None:
                flash(_("This client is archived: restore it before billing it."), "warning")
            return self._choose_client()
        form = self.edit_form() if request.method == "POST" else self.edit_form(obj=self._new_defaults(client))
        document = self._save(form, lambda form: editor.create_document(self.kind, client, form))
        if document is not None:
            return redirect(url_for(f"{self.__class__.__name__}.show", pk=document.id))
        return self._render_editor(form, None, client,
                                   url_for(f"{self.__class__.__name__}.add", client_id=client.id))

    @expose("/new/<int:client_id>", methods=["GET", "POST"])
    @has_access
    def new_for_client(self, client_id: int):
        """The client page's "New invoice" / "New quote": opens the empty editor (a POST from an
        older page is answered the same way; nothing is created here)."""
        return redirect(url_for(f"{self.__class__.__name__}.add", client_id=client_id), code=303)

    def _new_defaults(self, client: Client) -> SimpleNamespace:
        return SimpleNamespace(**editor.new_document_defaults(self.kind, client))

    def _choose_client(self):
        """The lists' "New": pick the client first (a search by name, a page of matches)."""
        query = (request.args.get("q") or "").strip()[:100]
        statement = select(Client).where(Client.archived.is_(False)).order_by(Client.name, Client.id).limit(25)
        if query:
            statement = statement.where(Client.name.ilike(f"%{query}%"))
        return self.render_template("admin/choose_client.html", clients=db.session.scalars(statement).all(),
                                    query=query, view_name=self.__class__.__name__, title=self.add_title)

    @expose("/edit/<pk>", methods=["GET", "POST"])
    @has_access
    def edit(self, pk):
        document = self._document(pk)
        if not document.is_draft:
            flash(_("A finalized document's amounts are locked."), "warning")
            return redirect(url_for(f"{self.__class__.__name__}.show", pk=document.id))
        form = self.edit_form() if request.method == "POST" else self.edit_form(obj=document)
        if self._save(form, lambda form: editor.update_draft(document, form) or document) is not None:
            return redirect(url_for(f"{self.__class__.__name__}.show", pk=document.id))
        return self._render_editor(form, document, document.client,
                                   url_for(f"{self.__class__.__name__}.edit", pk=document.id))

    def _save(self, form, save):
        """On a POST, check the editor's form and save it with `save(form)`, which returns the
        document; a rule's refusal rolls all of it back and goes to its rows and fields. The
        saved document, or None (not posted, or refused: the form is shown again as typed)."""
        if request.method != "POST" or not form.validate():
            return None
        try:
            document = save(form)
            db.session.flush()
        except services.BillingError as error:
            db.session.rollback()
            editor.show_refusal(form, error)
            return None
        db.session.commit()
        flash(_("Saved."), "success")
        return document

    def _render_editor(self, form, document, client: Client, action_url: str):
        for message in editor.unplaced_errors(form):
            flash(message, "danger")
        return self.render_template(
            self.edit_template, title=self.edit_title if document else self.add_title, form=form,
            document=document, client=client, kind=self.kind, action_url=action_url, labels=COMMON_LABELS,
            cancel_url=(url_for(f"{self.__class__.__name__}.show", pk=document.id) if document
                        else url_for("ClientView.show", pk=client.id)),
            config=editor.editor_config(self.kind, document, client),
            bill=editor.billing_block(document, client),
        )

    def pre_delete(self, item) -> None:
        if not states.allows(item, states.DELETE):
            raise ValueError(_("Only a draft can be deleted."))

    # -- the show page: lines, taxes and the buttons that apply -----------------------------

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        document = self._document(pk)
        widgets = self._show(pk)
        return self.render_template(
            self.show_template, pk=pk, title=self.show_title, widgets=widgets, related_views=self._related_views,
            document=document, kind=self.kind, totals=document_totals(document), view_name=self.__class__.__name__,
            money=lambda value: format_money(value, document.currency), labels=COMMON_LABELS,
            allowed=states.actions_for(document), balance_due=states.balance_due(document),
        )

    def _get_show_widget(self, pk, item, widgets=None, actions=None, show_fieldsets=None):
        applicable = states.actions_for(item)  # the FAB actions its state allows (app.billing.states)
        actions = ShownActions({name: act for name, act in self.actions.items() if name in applicable})
        return super()._get_show_widget(pk, item, widgets=widgets, actions=actions, show_fieldsets=show_fieldsets)

    @expose("/pdf/<int:pk>", methods=["GET"])
    @has_access
    def pdf(self, pk: int):
        document = self._document(pk)
        content, filename = document_pdf(document)
        db.session.commit()  # the rendered PDF is cached in the database
        return Response(content, mimetype="application/pdf", headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
        })

    @expose("/send/<int:pk>", methods=["GET", "POST"])
    @has_access
    def send(self, pk: int):
        """"Send by email": staff pick the recipients among the client's contacts (the primary
        one ticked); the mail capability sends on `send_requested`, finalizing a draft on the way."""
        document = self._document(pk)
        show_url = url_for(f"{self.__class__.__name__}.show", pk=document.id)
        if not states.allows(document, states.SEND):
            flash(_("This document can no longer be sent."), "warning")
            return redirect(show_url)
        contacts = [contact for contact in document.client.contacts if contact.email]
        chosen = {contact.id for contact in contacts if contact.is_primary}
        # The client's own email too, when no contact has it (it becomes a contact on sending).
        client_email = unlisted_client_email(document.client)
        if request.method == "POST":
            chosen = {int(value) for value in request.form.getlist("contact_ids") if value.isdigit()}
            if client_email and request.form.get("client_email") == "y":
                chosen.add(contact_for_client_email(document.client).id)
            if not chosen:
                flash(_("Choose at least one recipient."), "danger")
            else:
                try:
                    send_requested.send(document, contact_ids=sorted(chosen))
                except services.BillingError as error:
                    db.session.rollback()
                    flash(str(error.message), "danger")
                else:
                    db.session.commit()
                    flash(_("Sent by email; the delivery shows in the Outbox."), "success")
                    return redirect(show_url)
        return self.render_template("admin/send_document.html", document=document, contacts=contacts,
                                    chosen=chosen, client_email=client_email, view_name=self.__class__.__name__,
                                    title=_("Send by email"))

    # -- helpers for the actions ------------------------------------------------------------

    def _document(self, pk):
        model = self.datamodel.obj
        document = db.session.get(model, int(pk)) if str(pk).isdigit() else None
        return document or abort(404)

    def _apply(self, items, change, done_message, next_url=None):
        """Run one service on the document an action was given, then go back to its page (or
        to `next_url(result)`); a rule's refusal is shown and nothing is saved."""
        document = (items[0] if items else None) if isinstance(items, list) else items
        if not isinstance(document, self.datamodel.obj):  # no row selected, or not found
            abort(404)
        show_url = url_for(f"{self.__class__.__name__}.show", pk=document.id)
        try:
            result = change(document)
        except services.BillingError as error:
            db.session.rollback()
            flash(str(error.message), "danger")
            return redirect(show_url)
        db.session.commit()
        flash(done_message, "success")
        return redirect(next_url(result) if next_url else show_url)


class InvoiceLineView(ClientelaModelView):
    """The lines of an invoice, read-only: they change through the draft's form."""

    datamodel = SQLAInterface(InvoiceLine)
    class_permission_name = "Invoice"
    method_permission_name = READ_WRITE
    base_permissions = ["can_read"]
    list_columns = ["description", "quantity", "unit_price", "discount", "tax_rate", "amount"]
    label_columns = COMMON_LABELS


class InvoiceView(DocumentView):
    kind = "invoice"
    datamodel = BillingInterface(Invoice, eager=[Invoice.payments], unread=[
        lazyload(Invoice.lines), defaultload(Invoice.client).lazyload(Client.contacts)])
    class_permission_name = "Invoice"
    method_permission_name = {**READ_WRITE, "new_for_client": "write", "record_payment": "write",
                              "finalize": "write", "cancel": "write", "send": "write", "new_credit_note": "write"}
    list_title = _l("Invoices")
    list_template = "admin/invoice_list.html"  # with the export buttons (app/transfer)
    show_title = _l("Invoice")
    add_title = _l("New invoice")
    edit_title = _l("Edit draft invoice")
    formatters_columns = {**DocumentView.formatters_columns, "status": states.chip_for(states.INVOICE),
                          "display_status": states.chip_for(states.INVOICE), "sdi_status": sdi_status_label}

    list_columns = ["number", "client", "issue_date", "due_date", "display_status", "total", "balance"]
    order_columns = ["number", "issue_date", "due_date", "total", "balance"]
    show_fieldsets = [
        (_l("Invoice"), {"fields": ["number", "display_status", "issue_date", "due_date", "client", "sdi_status"]}),
        (_l("Totals"), {"fields": ["subtotal", "pension_fund_amount", "tax_total", "stamp_duty_amount", "total",
                                   "withholding_amount", "net_to_pay", "amount_credited", "amount_paid", "balance"]}),
        (_l("Billed to"), {"fields": BILLING_BLOCK, "expanded": False}),
        (_l("Notes"), {"fields": ["notes", "terms"], "expanded": False}),
    ]
    edit_form = InvoiceForm
    edit_columns = ["issue_date", "due_date", "lines", "notes", "terms"]

    @action("finalize", _l("Finalize"), _l("Finalize? The invoice gets its number and its amounts are locked."),
            "fa-check", multiple=False)
    def finalize(self, item):
        return self._apply(item, services.finalize_invoice, _("Invoice finalized."))

    @action("cancel", _l("Cancel invoice"), _l("Cancel this invoice? It stays in the records as cancelled."),
            "fa-ban", multiple=False)
    def cancel(self, item):
        return self._apply(item, services.cancel_invoice, _("Invoice cancelled."))

    @expose("/payment/<int:pk>", methods=["GET", "POST"])
    @has_access
    def record_payment(self, pk: int):
        invoice = self._document(pk)
        form = PaymentForm()
        if request.method == "GET" and not form.amount.data:
            form.amount.data = invoice.balance
        if form.validate_on_submit():
            try:
                services.record_payment(invoice, amount=form.amount.data, date=form.date.data,
                                        method=form.method.data, reference=form.reference.data)
            except services.BillingError as error:
                db.session.rollback()
                field = form[error.field] if error.field in form else form.amount
                field.errors = [*field.errors, str(error.message)]
            else:
                db.session.commit()
                flash(_("Payment recorded."), "success")
                return redirect(url_for("InvoiceView.show", pk=invoice.id))
        return self.render_template("admin/record_payment.html", form=form, invoice=invoice,
                                    title=_("Record payment"), balance=format_money(invoice.balance, invoice.currency))

    @expose("/credit-note/<int:pk>", methods=["GET", "POST"])
    @has_access
    def new_credit_note(self, pk: int):
        """"Nota di credito": a draft crediting every line not yet credited, to edit before sending."""
        invoice = self._document(pk)
        form = NewCreditNoteForm()
        if form.validate_on_submit():
            try:
                note = services.create_credit_note(invoice, form.reason.data)
            except services.BillingError as error:
                db.session.rollback()
                form.reason.errors = [*form.reason.errors, str(error.message)]
            else:
                db.session.commit()
                flash(_("Credit note drafted: check its lines, then send it."), "success")
                return redirect(url_for("CreditNoteView.show", pk=note.id))
        return self.render_template("admin/new_credit_note.html", form=form, invoice=invoice,
                                    title=_("New credit note"),
                                    left=format_money(services.left_to_credit(invoice), invoice.currency))


class QuoteLineView(ClientelaModelView):
    datamodel = SQLAInterface(QuoteLine)
    class_permission_name = "Quote"
    method_permission_name = READ_WRITE
    base_permissions = ["can_read"]
    list_columns = ["description", "quantity", "unit_price", "discount", "tax_rate", "amount"]
    label_columns = COMMON_LABELS


class QuoteView(DocumentView):
    kind = "quote"
    datamodel = BillingInterface(Quote, eager=[Quote.invoices],
                                 unread=[lazyload(Quote.lines), defaultload(Quote.client).lazyload(Client.contacts)])
    class_permission_name = "Quote"
    method_permission_name = {**READ_WRITE, "new_for_client": "write", "finalize": "write", "accept": "write",
                              "reject": "write", "convert": "write", "send": "write"}
    list_title = _l("Quotes")
    show_title = _l("Quote")
    add_title = _l("New quote")
    edit_title = _l("Edit draft quote")
    formatters_columns = {**DocumentView.formatters_columns, "status": states.chip_for(states.QUOTE),
                          "display_status": states.chip_for(states.QUOTE)}

    list_columns = ["number", "client", "issue_date", "valid_until", "display_status", "total"]
    order_columns = ["number", "issue_date", "valid_until", "status", "total"]
    show_fieldsets = [
        (_l("Quote"), {"fields": ["number", "display_status", "issue_date", "valid_until", "client"]}),
        (_l("Totals"), {"fields": ["subtotal", "tax_total", "total"]}),
        (_l("Billed to"), {"fields": BILLING_BLOCK, "expanded": False}),
        (_l("Notes"), {"fields": ["notes", "terms"], "expanded": False}),
    ]
    edit_form = QuoteForm
    edit_columns = ["issue_date", "valid_until", "lines", "notes", "terms"]

    @action("finalize", _l("Finalize"), _l("Finalize? The quote gets its number and its amounts are locked."),
            "fa-check", multiple=False)
    def finalize(self, item):
        return self._apply(item, services.finalize_quote, _("Quote finalized."))

    @action("accept", _l("Accept for the client"), _l("Record that the client accepted this quote?"),
            "fa-thumbs-o-up", multiple=False)
    def accept(self, item):
        return self._apply(item, lambda quote: services.decide_quote(quote, accepted=True), _("Quote accepted."))

    @action("reject", _l("Reject for the client"), _l("Record that the client rejected this quote?"),
            "fa-thumbs-o-down", multiple=False)
    def reject(self, item):
        return self._apply(item, lambda quote: services.decide_quote(quote, accepted=False), _("Quote rejected."))

    @action("convert", _l("Convert into invoice"), None, "fa-exchange", multiple=False)
    def convert(self, item):
        return self._apply(item, services.convert_quote, _("Quote converted into a draft invoice."),
                           next_url=lambda invoice: url_for("InvoiceView.show", pk=invoice.id))


class CreditNoteLineView(ClientelaModelView):
    datamodel = SQLAInterface(CreditNoteLine)
    class_permission_name = "Invoice"
    method_permission_name = READ_WRITE
    base_permissions = ["can_read"]
    list_columns = ["description", "quantity", "unit_price", "discount", "tax_rate", "vat_nature", "amount"]
    label_columns = COMMON_LABELS


class CreditNoteView(DocumentView):
    """Credit notes, made from their invoice's page; a draft's lines can be edited, then it is
    sent (finalized and emailed) like an invoice. Under the Invoice permissions."""

    kind = "credit_note"
    datamodel = BillingInterface(CreditNote, eager=[CreditNote.invoice])
    class_permission_name = "Invoice"
    method_permission_name = {**READ_WRITE, "finalize": "write", "send": "write", "new_for_client": "write"}
    list_title = _l("Credit notes")
    show_title = _l("Credit note")
    edit_title = _l("Edit draft credit note")
    formatters_columns = {**DocumentView.formatters_columns, "status": states.chip_for(states.CREDIT_NOTE),
                          "display_status": states.chip_for(states.CREDIT_NOTE), "sdi_status": sdi_status_label}
    list_columns = ["number", "invoice", "client", "issue_date", "display_status", "total"]
    order_columns = ["number", "issue_date", "total"]
    show_fieldsets = [
        (_l("Credit note"), {"fields": ["number", "display_status", "issue_date", "invoice", "client", "reason",
                                        "sdi_status"]}),
        (_l("Totals"), {"fields": ["subtotal", "pension_fund_amount", "tax_total", "stamp_duty_amount", "total",
                                   "withholding_amount", "net_to_pay"]}),
        (_l("Billed to"), {"fields": BILLING_BLOCK, "expanded": False}),
        (_l("Notes"), {"fields": ["notes"], "expanded": False}),
    ]
    edit_form = CreditNoteForm
    edit_columns = ["issue_date", "reason", "lines", "notes"]

    @expose("/add", methods=["GET", "POST"])
    @has_access
    def add(self):
        flash(_("Open an invoice and choose Credit note."), "info")
        return redirect(url_for("InvoiceView.list"))

    @expose("/new/<int:client_id>", methods=["POST"])
    @has_access
    def new_for_client(self, client_id: int):
        abort(404)  # a credit note starts from its invoice, never from a client

    @action("finalize", _l("Finalize"), _l("Finalize? The credit note gets its number and lowers the invoice's "
                                           "balance."), "fa-check", multiple=False)
    def finalize(self, item):
        return self._apply(item, services.finalize_credit_note, _("Credit note finalized."))


class PaymentView(ClientelaModelView):
    """Payments, read-only: they are recorded from the invoice (or arrive from Stripe)."""

    datamodel = BillingInterface(Payment, eager=[Payment.invoice, Payment.client])
    class_permission_name = "Payment"
    method_permission_name = READ_WRITE
    base_permissions = ["can_read"]
    list_title = _l("Payments")
    list_template = "admin/payment_list.html"  # with the export buttons (app/transfer)
    show_title = _l("Payment")
    label_columns = COMMON_LABELS
    list_columns = ["date", "invoice", "client", "amount", "method", "reference"]
    show_columns = ["date", "invoice", "client", "amount", "method", "reference"]
    order_columns = ["date", "amount", "method"]
    search_columns = ["date", "method", "reference"]
    base_order = ("date", "desc")
    formatters_columns = {**DATE_FORMATTERS, "method": lambda method: METHOD_LABELS.get(method, method)}


InvoiceView.related_views = [InvoiceLineView, PaymentView, CreditNoteView]
CreditNoteView.related_views = [CreditNoteLineView]
QuoteView.related_views = [QuoteLineView]


def register(appbuilder) -> None:
    appbuilder.add_view(InvoiceView, "Invoices", label=_l("Invoices"), icon="fa-file-text-o")
    appbuilder.add_view(QuoteView, "Quotes", label=_l("Quotes"), icon="fa-file-o")
    appbuilder.add_view(CreditNoteView, "Credit notes", label=_l("Credit notes"), icon="fa-undo")
    appbuilder.add_view(PaymentView, "Payments", label=_l("Payments"), icon="fa-money")
    appbuilder.add_view_no_menu(CreditNoteLineView)
    appbuilder.add_view_no_menu(InvoiceLineView)
    appbuilder.add_view_no_menu(QuoteLineView)
