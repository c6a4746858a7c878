"""Staff views of invoices, quotes and payments: thin pages over `app.billing.services`.

A draft is made for a client from the client's page (the billing block is copied by
`new_invoice` / `new_quote`), its lines are edited inline and saved through `set_lines`,
and the buttons on the show page (finalize, cancel, accept, reject, convert) are FAB actions,
POSTed with a CSRF token. Actions receive rows fetched without base filters, so each one
checks the document's state itself (the services refuse what does not apply anyway).
"""
from __future__ import annotations

import datetime as dt

from flask import Response, abort, flash, redirect, request, url_for
from flask_appbuilder import expose, has_access
from flask_appbuilder.actions import action
from flask_appbuilder.fieldwidgets import BS3TextAreaFieldWidget, BS3TextFieldWidget, DatePickerWidget, Select2Widget
from flask_appbuilder.forms import DynamicForm
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from flask_wtf import FlaskForm
from markupsafe import Markup
from sqlalchemy.orm import selectinload
from wtforms import BooleanField, DateField, FieldList, Form, FormField, SelectField, StringField
from wtforms.utils import unset_value
from wtforms.validators import InputRequired, Length

from app.billing import services, states
from app.billing.labels import METHOD_LABELS, sdi_status_label
from app.billing.models import CreditNote, CreditNoteLine, Invoice, InvoiceLine, Payment, PaymentMethod, Quote, QuoteLine
from app.billing.natures import nature_choices
from app.billing.printing import document_pdf
from app.billing.signals import send_requested
from app.billing.totals import document_totals
from app.clients.models import Client
from app.extensions import db
from app.fab.base import ClientelaModelView
from app.fab.workarounds import ShownActions
from app.i18n import format_date, format_money
from app.products.services import product_choices
from app.security.roles import READ_WRITE

MONEY_COLUMNS = frozenset({"subtotal", "tax_total", "total", "amount_paid", "balance", "amount", "unit_price",
                           "amount_credited", "withholding_amount", "pension_fund_amount", "stamp_duty_amount",
                           "net_to_pay"})

def _document_currency(item) -> str:
    document = getattr(item, "invoice", None) or getattr(item, "quote", None) or item
    return getattr(document, "currency", None) or "EUR"


class BillingInterface(SQLAInterface):
    """FAB's interface, with each list's relations loaded in one query per relation (not per
    row) and amounts shown in their document's currency."""

    def __init__(self, obj, eager=(), session=None):
        super().__init__(obj, session=session)
        self._eager = tuple(eager)

    def apply_all(self, query, *args, **kwargs):
        return super().apply_all(query, *args, **kwargs).options(*(selectinload(rel) for rel in self._eager))

    @staticmethod
    def _get_attr_value(item, col):
        value = SQLAInterface._get_attr_value(item, col)
        if col == "balance" and not states.owes(item):
            return ""  # a draft or a cancelled invoice owes nothing (app.billing.states)
        if col in MONEY_COLUMNS:
            return format_money(value, _document_currency(item))
        return value


def _inline_rows(field, **_kwargs) -> Markup:
    from flask import render_template

    return Markup(render_template("admin/widgets/inline_rows.html", field=field))


class LineRowForm(Form):
    # Choices are set per form (LineRowsField.process): the active products, and those the
    # draft already uses. A product fills the description, price and rate left blank.
    product_id = SelectField(_l("Product"), choices=[], validate_choice=False)
    description = StringField(_l("Description"))
    quantity = StringField(_l("Quantity"), default="1")
    unit_price = StringField(_l("Unit price"))
    discount = StringField(_l("Discount %"), default="0")
    tax_rate = StringField(_l("Tax rate %"))
    vat_nature = SelectField(_l("VAT nature"), choices=[("", "—")], default="",
                             description=_l("Why a zero-rate line bears no VAT"))
    vat_nature_reference = StringField(_l("Legal reference"), default="")
    remove = BooleanField(_l("Remove"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.vat_nature.choices = [("", "—"), *nature_choices()]

    def is_blank(self) -> bool:
        return not any((self[name].data or "").strip() for name in ("product_id", "description", "unit_price"))

    def values(self) -> dict[str, object]:
        return {name: (self[name].data or "").strip() for name in services.LINE_FIELDS}


class LineRowsField(FieldList):
    """A draft's lines, checked by the same rule `set_lines` applies (`clean_line`)."""

    def __init__(self, label=None, **kwargs):
        super().__init__(FormField(LineRowForm), label, widget=_inline_rows, **kwargs)

    def process(self, formdata, data=unset_value, extra_filters=None):
        if data is not unset_value and data is not None:
            data = [{name: _plain(getattr(line, name)) for name in services.LINE_FIELDS} for line in data]
        super().process(formdata, data, extra_filters)
        if not any(key.startswith(self.name + "-") for key in (formdata or {})):
            self.append_entry()  # a spare row for a new line
        used = {int(entry.form.product_id.data) for entry in self.entries
                if str(entry.form.product_id.data or "").isdigit()}
        choices = [("", "—"), *product_choices(used)]
        for entry in self.entries:
            entry.form.product_id.choices = choices

    def kept_rows(self) -> list[LineRowForm]:
        return [entry.form for entry in self.entries if not entry.form.remove.data and not entry.form.is_blank()]

    def validate(self, form, extra_validators=()):
        self.errors = []
        valid = True
        for row in self.kept_rows():
            _values, errors = services.clean_line(row.values())
            for name, message in errors.items():
                row[name].errors = [*row[name].errors, str(message)]
                valid = False
        return valid

    def populate_obj(self, obj, name) -> None:
        lines = [row.values() for row in self.kept_rows()]
        if isinstance(obj, CreditNote):
            services.set_credit_note_lines(obj, lines)  # within what is left to credit
        else:
            services.set_lines(obj, lines)


def _plain(value) -> str:
    """A stored number as a person would type it: 2, 120.5, 22 (no trailing zeros)."""
    if value is None or isinstance(value, str):
        return value or ""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _date(label) -> DateField:
    return DateField(label, validators=[InputRequired()], widget=DatePickerWidget())


class DocumentForm(DynamicForm):
    issue_date = _date(_l("Issue date"))
    notes = StringField(_l("Notes"), widget=BS3TextAreaFieldWidget(), default="")
    terms = StringField(_l("Terms"), widget=BS3TextAreaFieldWidget(), default="")
    lines = LineRowsField(_l("Lines"), description=_l("Tick Remove to delete a line; save to get another empty row."))


class InvoiceForm(DocumentForm):
    due_date = _date(_l("Due date"))

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators=extra_validators)
        if valid and self.due_date.data < self.issue_date.data:
            self.due_date.errors = [*self.due_date.errors, _("The due date cannot be before the issue date.")]
            return False
        return valid


class QuoteForm(DocumentForm):
    valid_until = _date(_l("Valid until"))

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators=extra_validators)
        if valid and self.valid_until.data < self.issue_date.data:
            self.valid_until.errors = [*self.valid_until.errors, _("A quote cannot expire before its issue date.")]
            return False
        return valid


class CreditNoteForm(DynamicForm):
    issue_date = _date(_l("Issue date"))
    reason = StringField(_l("Reason"), widget=BS3TextAreaFieldWidget(), validators=[InputRequired()])
    notes = StringField(_l("Notes"), widget=BS3TextAreaFieldWidget(), default="")
    lines = LineRowsField(_l("Lines"), description=_l("Tick Remove to delete a line; save to get another empty row."))


class NewCreditNoteForm(FlaskForm):
    reason = StringField(_l("Reason"), validators=[InputRequired(), Length(max=2000)], widget=BS3TextAreaFieldWidget(),
                         description=_l("Printed on the credit note, for example: returned goods, billing error."))


class PaymentForm(FlaskForm):
    amount = StringField(_l("Amount"), validators=[InputRequired()], widget=BS3TextFieldWidget())
    date = DateField(_l("Date"), validators=[InputRequired()], widget=DatePickerWidget(), default=dt.date.today)
    method = SelectField(_l("Method"), choices=[(key, label) for key, label in METHOD_LABELS.items()
                                                if key != PaymentMethod.STRIPE.value],
                         default=PaymentMethod.BANK_TRANSFER.value, widget=Select2Widget())
    reference = StringField(_l("Reference"), validators=[Length(max=200)], widget=BS3TextFieldWidget())


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

    # -- new documents start from a client --------------------------------------------

    @expose("/add", methods=["GET", "POST"])
    @has_access
    def add(self):
        flash(_("Open a client and choose New invoice or New quote: the client's billing data is copied in."),
              "info")
        return redirect(url_for("ClientView.list"))

    @expose("/new/<int:client_id>", methods=["POST"])
    @has_access
    def new_for_client(self, client_id: int):
        client = db.session.get(Client, client_id) or abort(404)
        try:
            document = services.new_invoice(client) if self.kind == "invoice" else services.new_quote(client)
        except services.BillingError as error:
            db.session.rollback()
            flash(str(error.message), "danger")
            return redirect(url_for("ClientView.show", pk=client_id))
        db.session.commit()
        return redirect(url_for(f"{self.__class__.__name__}.edit", pk=document.id))

    # -- drafts only are edited ----------------------------------------------------------

    @expose("/edit/<pk>", methods=["GET", "POST"])
    @has_access
    def edit(self, pk):
        document = self._document(pk)
        if not document.is_draft:
            flash(_("A finalized document's amounts are locked."), "warning")
            return redirect(url_for(f"{self.__class__.__name__}.show", pk=document.id))
        widgets = self._edit(pk)
        if not widgets:
            return self.post_edit_redirect()
        return self.render_template(self.edit_template, title=self.edit_title, widgets=widgets,
                                    related_views=self._related_views, document=document)

    def pre_delete(self, item) -> None:
        if not states.allows(item, states.DELETE):
            raise ValueError(_("Only a draft can be deleted."))

    def post_edit_redirect(self):
        return redirect(url_for(f"{self.__class__.__name__}.show", pk=request.view_args["pk"]))

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
        if request.method == "POST":
            chosen = {int(value) for value in request.form.getlist("contact_ids") if value.isdigit()}
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
                                    chosen=chosen, view_name=self.__class__.__name__,
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
    datamodel = BillingInterface(Invoice, eager=[Invoice.payments])
    class_permission_name = "Invoice"
    method_permission_name = {**READ_WRITE, "new_for_client": "write", "record_payment": "write",
                              "finalize": "write", "cancel": "write", "send": "write", "new_credit_note": "write"}
    list_title = _l("Invoices")
    list_template = "admin/invoice_list.html"  # with the export buttons (app/transfer)
    show_title = _l("Invoice")
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
            form.amount.data = _plain(invoice.balance)
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
    datamodel = BillingInterface(Quote, eager=[Quote.invoices])
    class_permission_name = "Quote"
    method_permission_name = {**READ_WRITE, "new_for_client": "write", "finalize": "write", "accept": "write",
                              "reject": "write", "convert": "write", "send": "write"}
    list_title = _l("Quotes")
    show_title = _l("Quote")
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
