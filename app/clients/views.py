"""Staff views of clients and their contacts.

The form runs the one client rule (`clean_client_fields`) after the field checks, so an
invalid VAT number or codice fiscale shows a translated error at its field and the form
comes back with everything the person typed. Contacts are edited inline, in the same form;
a new client typed without contacts is its own primary contact. A Partita IVA or codice
fiscale another client already has is a warning at the field, saved once confirmed.

A client's page is its 360 page (`/clients/<id>/dashboard`, app.dashboard.client): FAB's
show route sends there, and so do saving the form and archiving one client.
"""
from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from flask import flash, g, redirect, render_template, request, url_for
from flask_appbuilder import expose, has_access
from flask_appbuilder.actions import action
from flask_appbuilder.fieldwidgets import BS3TextAreaFieldWidget, BS3TextFieldWidget, Select2Widget
from flask_appbuilder.forms import DynamicForm
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from wtforms import BooleanField, FieldList, Form, FormField, HiddenField, SelectField, StringField
from wtforms.utils import unset_value
from wtforms.validators import Length

from app.activity import services as activity
from app.clients.models import Client, ClientKind
from app.clients.services import (
    CLIENT_FIELDS,
    CLIENT_FLAGS,
    ContactData,
    clients_sharing_tax_ids,
    contact_errors,
    initial_contacts,
    replace_contacts,
)
from app.clients.signals import client_deleting
from app.clients.validation import clean_client_fields
from app.extensions import db
from app.fab.base import ClientelaModelView
from app.i18n import LANGUAGE_CHOICES
from app.security.roles import READ_WRITE


def _inline_rows(field, **_kwargs) -> Markup:
    return Markup(render_template("admin/widgets/inline_rows.html", field=field))


class ContactRowForm(Form):
    """One contact in the client form (a plain Form: the client form carries the CSRF token)."""

    id = HiddenField()
    name = StringField(_l("Name"), validators=[Length(max=200)])
    email = StringField(_l("Email"), validators=[Length(max=200)])
    phone = StringField(_l("Phone"), validators=[Length(max=50)])
    is_primary = BooleanField(_l("Primary"))
    remove = BooleanField(_l("Remove"))

    def is_blank(self) -> bool:
        return not any((field.data or "").strip() for field in (self.name, self.email, self.phone))


class ContactRowsField(FieldList):
    """The client's contacts: one or more, exactly one primary, matched to existing rows by id.

    Contacts keep their ids across edits because each is a portal identity (links and
    sessions point at the contact). A blank row adds nothing; "remove" drops the contact.
    """

    def __init__(self, label=None, creating: bool = False, **kwargs):
        super().__init__(FormField(ContactRowForm), label, widget=_inline_rows, **kwargs)
        self.creating = creating  # a new client without contact rows is its own contact

    def contact_data(self, client_values) -> list[ContactData]:
        data = _contact_data(self.kept_rows())
        return initial_contacts(client_values, data) if self.creating else data

    def process(self, formdata, data=unset_value, extra_filters=None):
        super().process(formdata, data, extra_filters)
        if not any(key.startswith(self.name + "-") for key in (formdata or {})):
            self.append_entry()  # a spare row for a new contact

    def kept_rows(self) -> list[ContactRowForm]:
        return [entry.form for entry in self.entries if not entry.form.remove.data and not entry.form.is_blank()]

    def validate(self, form, extra_validators=()):
        self.errors = []
        row_errors = False
        for entry in self.entries:
            entry.validate(form)
            row_errors = row_errors or bool(entry.errors)
        rows = self.kept_rows()
        for row in rows:
            row.name.data = (row.name.data or "").strip()
            if not row.name.data:
                row.name.errors = [*row.name.errors, _("The contact's name is required.")]
            try:
                row.email.data = validate_email((row.email.data or "").strip(), check_deliverability=False).normalized
            except EmailNotValidError:
                row.email.errors = [*row.email.errors, _("This is not a valid email address.")]
        if len(rows) == 1:
            rows[0].is_primary.data = True  # a single contact is the primary one
        # The contact rules of every door (one primary, no shared email), at their rows.
        client_values = {name: form[name].data for name in ("name", "email", "phone")}
        for name, message in contact_errors(self.contact_data(client_values)).items():
            parts = name.split(".")
            if len(parts) == 3 and parts[2] == "email":
                field = rows[int(parts[1])].email
                field.errors = [*field.errors, str(message)]
            else:
                self.errors.append(str(message))
        row_errors = row_errors or any(row.name.errors or row.email.errors for row in rows)
        return not self.errors and not row_errors

    def populate_obj(self, obj: Client, name: str) -> None:
        replace_contacts(obj, self.contact_data({"name": obj.name, "email": obj.email, "phone": obj.phone}))


def _contact_data(rows: list[ContactRowForm]) -> list[ContactData]:
    return [
        ContactData(id=int(row.id.data) if (row.id.data or "").isdigit() else None, name=row.name.data or "",
                    email=row.email.data or "", phone=(row.phone.data or "").strip(),
                    is_primary=bool(row.is_primary.data))
        for row in rows
    ]


class TaxIdWidget(BS3TextFieldWidget):
    """The text input and, when another client has the same identifier, the warning naming it."""

    def __call__(self, field, **kwargs) -> Markup:
        html = super().__call__(field, **kwargs)
        same = getattr(field, "same_as", None)
        if not same:
            return html
        return html + Markup(render_template("admin/client_same_tax_id.html", field=field, clients=same,
                                             confirmation=getattr(field, "confirmation", None)))


class SameTaxIdConfirmation(BooleanField):
    """"Save anyway": ticked in the warning that another client has this Partita IVA or
    codice fiscale (the warning draws the box; the field only reads it and saves nothing)."""

    def populate_obj(self, obj, name) -> None:
        pass


def _text(label, max_length: int, description="", widget=None) -> StringField:
    # WTForms prints a description of None as the word "None" under the field.
    return StringField(label, description=description, validators=[Length(max=max_length)],
                       widget=widget or BS3TextFieldWidget(), default="")


FORM_FIELDS = (*CLIENT_FIELDS, *CLIENT_FLAGS)

KIND_LABELS = {
    ClientKind.BUSINESS.value: _l("Business"),
    ClientKind.INDIVIDUAL.value: _l("Individual"),
    ClientKind.PUBLIC_ADMINISTRATION.value: _l("Public administration"),
}


class ClientForm(DynamicForm):
    """The client profile; the field checks here are shape only, the rule is clean_client_fields."""

    name = _text(_l("Name"), 200)
    kind = SelectField(_l("Kind"), choices=list(KIND_LABELS.items()),
                       widget=Select2Widget(), default=ClientKind.BUSINESS.value)
    email = _text(_l("Email"), 200, _l("Where invoices and statements are sent."))
    phone = _text(_l("Phone"), 50)
    address = _text(_l("Address"), 200)
    city = _text(_l("City"), 100)
    province = _text(_l("Province"), 50, _l("Two letters for Italy, for example MI."))
    postal_code = _text(_l("Postal code"), 20)
    country = _text(_l("Country"), 2, _l("Two-letter ISO code, for example IT."))
    vat_number = _text(_l("VAT number"), 30, widget=TaxIdWidget())
    tax_code = _text(_l("Codice fiscale"), 30, widget=TaxIdWidget())
    sdi_code = _text(_l("SDI code"), 7, _l("7 characters; a public administration's office code has 6."))
    pec = _text(_l("PEC"), 200)
    split_payment = BooleanField(_l("Split payment"), description=_l(
        "Scissione dei pagamenti: the client pays the VAT to the State and only the taxable amount to you."))
    withholding_agent = BooleanField(_l("Withholding agent"), default=True, description=_l(
        "Sostituto d'imposta: withholds your ritenuta d'acconto. Never a private person."))
    language = SelectField(_l("Language"), choices=LANGUAGE_CHOICES, widget=Select2Widget(), default="it")
    currency = _text(_l("Currency"), 3)
    notes = StringField(_l("Notes"), widget=BS3TextAreaFieldWidget(), default="")
    contacts = ContactRowsField(_l("Contacts"), description=_l(
        "One or more people; the primary contact receives the documents. Tick Remove to delete a contact."))
    confirm_same_tax_id = SameTaxIdConfirmation(_l("Save anyway: it is a different client"))

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators=extra_validators)
        result = clean_client_fields({name: self[name].data for name in FORM_FIELDS})
        for name, message in result.errors.items():
            target = self[name] if name in self else self["name"]
            target.errors = [*target.errors, str(message)]
        if result.ok:
            for name in FORM_FIELDS:
                self[name].data = result.values[name]
        return valid and result.ok and self._same_tax_id_confirmed(result.values)

    def _same_tax_id_confirmed(self, values) -> bool:
        """False (nothing saved, nothing lost) while another client has this Partita IVA or
        codice fiscale and "Save anyway" is not ticked; the warning shows at each field."""
        pk = (request.view_args or {}).get("pk")  # the edit route names the client being edited
        same = clients_sharing_tax_ids(values, int(pk) if str(pk).isdigit() else None)
        for index, (name, clients) in enumerate(same.items()):
            self[name].same_as = clients
            self[name].confirmation = self.confirm_same_tax_id if index == 0 else None
        return not same or bool(self.confirm_same_tax_id.data)


class ClientAddForm(ClientForm):
    """A new client: typed without contacts, it becomes its own primary contact."""

    contacts = ContactRowsField(_l("Contacts"), creating=True, description=_l(
        "One or more people; the primary contact receives the documents. Left empty, the client's own name "
        "and email are the contact."))


class FilterArchived(BaseFilter):
    """Archived clients stay out of the list unless asked for (`?archived=1`)."""

    name = _l("Archived")
    arg_name = "archived"

    def apply(self, query, value):
        return query.filter(Client.archived == bool(value))  # "= false" can use ix_client_archived


def _archived_chip(archived: bool) -> Markup:
    if not archived:
        return Markup("")
    return Markup('<span class="label label-default">{}</span>').format(_("Archived"))


# The list's balance column: each client's balance due, which the list interface handed in by
# the wiring reads from billing's rollup (app.dashboard.lists), in the same statement as the page.
BALANCE_DUE = "balance_due"


class ClientView(ClientelaModelView):
    datamodel = SQLAInterface(Client)  # replaced by register() with the interface that adds the balance
    class_permission_name = "Client"
    method_permission_name = {**READ_WRITE, "archive": "write", "restore": "write"}

    list_title = _l("Clients")
    add_title = _l("New client")
    edit_title = _l("Edit client")
    list_template = "admin/client_list.html"

    label_columns = {
        "name": _l("Name"), "kind": _l("Kind"), "email": _l("Email"), "phone": _l("Phone"),
        "address": _l("Address"), "city": _l("City"), "province": _l("Province"),
        "postal_code": _l("Postal code"), "country": _l("Country"), "vat_number": _l("VAT number"),
        "tax_code": _l("Codice fiscale"), "sdi_code": _l("SDI code"), "pec": _l("PEC"),
        "language": _l("Language"), "currency": _l("Currency"), "notes": _l("Notes"),
        "split_payment": _l("Split payment"), "withholding_agent": _l("Withholding agent"),
        "archived": _l("Archived"), "contacts": _l("Contacts"), "created_at": _l("Created"),
        BALANCE_DUE: _l("Balance due"),
    }
    list_columns = ["name", "email", "city", "vat_number", BALANCE_DUE, "archived"]
    order_columns = ["name", "email", "city", "vat_number"]
    search_columns = ["name", "email", "vat_number", "city"]
    base_order = ("name", "asc")
    page_size = 25
    formatters_columns = {"archived": _archived_chip}

    add_form = ClientAddForm
    edit_form = ClientForm
    add_columns = edit_columns = [*FORM_FIELDS, "contacts"]
    add_fieldsets = edit_fieldsets = [
        (_l("Client"), {"fields": ["name", "kind", "email", "phone", "language", "currency"]}),
        (_l("Billing address"), {"fields": ["address", "city", "province", "postal_code", "country"]}),
        (_l("Tax and e-invoicing"), {"fields": ["vat_number", "tax_code", "sdi_code", "pec", "split_payment",
                                                "withholding_agent"]}),
        (_l("Contacts"), {"fields": ["contacts"]}),
        (_l("Notes"), {"fields": ["notes"], "expanded": False}),
    ]

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._archived_filter = {
            show: self.datamodel.get_filters().add_filter("archived", FilterArchived, show) for show in (False, True)
        }

    # -- the list: archived clients only when asked for ---------------------------------

    def _get_list_widget(self, filters, order_column="", order_direction="", **kwargs):
        """FAB's list, with the archived switch and a sort only by one of `order_columns`."""
        if order_column not in self.order_columns:
            order_column, order_direction = self.base_order
        shown = filters.get_joined_filters(self._archived_filter[request.args.get("archived") == "1"])
        return super()._get_list_widget(shown, order_column=order_column, order_direction=order_direction,
                                        **kwargs)

    # -- the client's page is its 360 page ---------------------------------------------

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        """Old links and FAB's own buttons (the list's magnifier) land on the 360 page."""
        return redirect(_client_page(pk))

    # -- saving ------------------------------------------------------------------------

    def post_add(self, item: Client) -> None:
        activity.record("client_created", item.id)
        db.session.commit()
        g.added_client_id = item.id

    def post_add_redirect(self):
        return redirect(_client_page(g.get("added_client_id")))

    def post_edit_redirect(self):
        return redirect(_client_page(request.view_args["pk"]))

    def pre_delete(self, item: Client) -> None:
        # Billing refuses (with a Refusal) when the client has invoices or quotes.
        client_deleting.send(item)

    # -- archive and restore (actions get rows without base filters: each is checked here) --

    def _set_archived(self, items, archived: bool):
        clients = [item for item in (items if isinstance(items, list) else [items]) if isinstance(item, Client)]
        for client in clients:
            client.archived = archived
        db.session.commit()
        if archived:
            flash(_("%(count)d client(s) archived.", count=len(clients)), "success")
        else:
            flash(_("%(count)d client(s) restored.", count=len(clients)), "success")
        if len(clients) == 1:
            return redirect(_client_page(clients[0].id))
        return redirect(self.route_base + "/list/" + ("?archived=1" if not archived else ""))

    @action("archive", _l("Archive"), _l("Archive? The client leaves the lists and keeps its history."), "fa-archive")
    def archive(self, items):
        return self._set_archived(items, True)

    @action("restore", _l("Restore"), None, "fa-undo")
    def restore(self, items):
        return self._set_archived(items, False)


def _client_page(client_id) -> str:
    return url_for("ClientDashboardView.show", client_id=int(client_id)) if str(client_id).isdigit() else \
        url_for("ClientView.list")


def register(appbuilder, list_interface: type[SQLAInterface]) -> None:
    """`list_interface`: the data of the list with each client's balance due, from the
    capabilities above clients, handed in by the wiring (`app/__init__.py`)."""
    ClientView.datamodel = list_interface(Client)
    appbuilder.add_view(ClientView, "Clients", label=_l("Clients"), icon="fa-address-book", category="")
