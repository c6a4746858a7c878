"""The staff forms of billing: a draft's header and lines, a credit note, a payment.

Numbers and dates are read and shown in the reader's notation (`app.fab.fields`): `1.355,25`
and `15/12/2026` in Italian. The line rows are checked by the rule `set_lines` applies
(`services.clean_line`), so a row's error reads the same here and in the API; the view saves
through the services, which check everything again.
"""
from __future__ import annotations

import datetime as dt

from flask_appbuilder.fieldwidgets import BS3TextAreaFieldWidget, BS3TextFieldWidget, Select2Widget
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from markupsafe import Markup
from sqlalchemy import select
from wtforms import BooleanField, FieldList, Form, FormField, SelectField, StringField, TextAreaField
from wtforms.utils import unset_value
from wtforms.validators import InputRequired, Length

from app.billing import services
from app.billing.labels import METHOD_LABELS
from app.billing.models import CreditNote, PaymentMethod
from app.billing.natures import nature_choices
from app.company.services import get_company
from app.extensions import db
from app.fab.fields import AMOUNT_FORMAT, NUMBER_FORMAT, LocaleDateField, LocaleDecimalField
from app.i18n import date_input_pattern
from app.products.models import Product
from app.products.services import product_choices

NUMBER_FIELDS = ("quantity", "unit_price", "discount", "tax_rate")


def _inline_rows(field, **_kwargs) -> Markup:
    from flask import render_template

    return Markup(render_template("admin/widgets/inline_rows.html", field=field))


def _default_tax_rate():
    return get_company().default_tax_rate


class LineRowForm(Form):
    # Choices are set per form (LineRowsField.process): the active products, and those the
    # draft already uses. A product fills the description, price and rate left blank.
    product_id = SelectField(_l("Product"), choices=[], validate_choice=False)
    description = TextAreaField(_l("Description"))
    quantity = LocaleDecimalField(_l("Quantity"), default=1)
    unit_price = LocaleDecimalField(_l("Unit price"), places=2)
    discount = LocaleDecimalField(_l("Discount %"), default=0)
    # The rate the line gets when left blank, shown rather than applied silently.
    tax_rate = LocaleDecimalField(_l("Tax rate %"), default=_default_tax_rate)
    vat_nature = SelectField(_l("VAT nature"), choices=[("", "—")], default="",
                             description=_l("Why a zero-rate line bears no VAT"))
    vat_nature_reference = StringField(_l("Legal reference"), default="")
    remove = BooleanField(_l("Remove"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.vat_nature.choices = [("", "—"), *nature_choices()]

    def is_blank(self) -> bool:
        """Nothing typed that says what is billed (a spare row): judged on the text as typed,
        so a price that could not be read still keeps its row and its error."""
        return not any(_typed(self[name]) for name in ("product_id", "description", "unit_price"))

    def values(self) -> dict[str, object]:
        values: dict[str, object] = {}
        for name in services.LINE_FIELDS:
            data = self[name].data
            values[name] = data.strip() if isinstance(data, str) else ("" if data is None else data)
        values["description"] = values["description"].replace("\r\n", "\n")  # browsers send CRLF from a text box
        return values


def _typed(field) -> str:
    if field.raw_data:
        return str(field.raw_data[0] or "").strip()
    return str(field.data or "").strip()


class LineRowsField(FieldList):
    """A draft's lines, checked by the same rule `set_lines` applies (`clean_line`)."""

    def __init__(self, label=None, **kwargs):
        super().__init__(FormField(LineRowForm), label, widget=_inline_rows, **kwargs)

    def process(self, formdata, data=unset_value, extra_filters=None):
        if data is not unset_value and data is not None:
            data = [_stored_line(line) for line in data]
        super().process(formdata, data, extra_filters)
        if not any(key.startswith(self.name + "-") for key in (formdata or {})):
            self.append_entry()  # a spare row for a new line
        used = {int(entry.form.product_id.data) for entry in self.entries
                if str(entry.form.product_id.data or "").isdigit()}
        self.product_choices = [("", "—"), *product_choices(used)]
        for entry in self.entries:
            entry.form.product_id.choices = self.product_choices

    def blank_row(self) -> LineRowForm:
        """The row the editor copies when a line is added (`__INDEX__` becomes its number)."""
        row = LineRowForm(prefix=f"{self.name}-__INDEX__-")
        row.product_id.choices = getattr(self, "product_choices", [("", "—")])
        return row

    def product_data(self) -> dict[str, dict[str, str]]:
        """What picking a product fills in, as the reader types it (the editor's data attributes)."""
        from flask_babel import format_decimal

        ids = [int(value) for value, _label in getattr(self, "product_choices", []) if value.isdigit()]
        if not ids:
            return {}
        products = db.session.scalars(select(Product).where(Product.id.in_(ids))).all()
        return {str(product.id): {
            "description": product.description or product.name,
            "unit_price": format_decimal(product.unit_price, format=AMOUNT_FORMAT),
            "tax_rate": format_decimal(product.tax_rate, format=NUMBER_FORMAT),
            "vat_nature": product.vat_nature or "",
        } for product in products}

    def kept_rows(self) -> list[LineRowForm]:
        return [entry.form for entry in self.entries if not entry.form.remove.data and not entry.form.is_blank()]

    def line_values(self) -> list[dict[str, object]]:
        return [row.values() for row in self.kept_rows()]

    def validate(self, form, extra_validators=()):
        self.errors = []
        valid = True
        for row in self.kept_rows():
            if not row.validate():  # a number or date that could not be read
                valid = False
            _values, errors = services.clean_line(row.values())
            for name, message in errors.items():
                if not row[name].errors:
                    row[name].errors = [*row[name].errors, str(message)]
                valid = False
        return valid

    def show_refusal(self, key: str, message: str) -> bool:
        """Put a rule's error keyed `lines.<n>.<field>` (n counts the kept rows) at its row and
        field; False when the key names no row."""
        parts = key.split(".")
        rows = self.kept_rows()
        if len(parts) == 3 and parts[1].isdigit() and int(parts[1]) < len(rows) and parts[2] in rows[int(parts[1])]:
            field = rows[int(parts[1])][parts[2]]
            field.errors = [*field.errors, message]
            return True
        return False

    def populate_obj(self, obj, name) -> None:
        lines = self.line_values()
        if isinstance(obj, CreditNote):
            services.set_credit_note_lines(obj, lines)  # within what is left to credit
        else:
            services.set_lines(obj, lines)


def _stored_line(line) -> dict[str, object]:
    values = {name: getattr(line, name) for name in services.LINE_FIELDS}
    values["product_id"] = "" if values["product_id"] is None else str(values["product_id"])
    return values


def _date(label, **kwargs) -> LocaleDateField:
    return LocaleDateField(label, validators=[InputRequired()], widget=_DateInput(), **kwargs)


class _DateInput(BS3TextFieldWidget):
    """A plain text box showing the pattern to type (gg/mm/aaaa), for `LocaleDateField`."""

    def __call__(self, field, **kwargs):
        kwargs.setdefault("placeholder", date_input_pattern())
        kwargs.setdefault("autocomplete", "off")
        return super().__call__(field, **kwargs)


class DocumentForm(FlaskForm):
    issue_date = _date(_l("Issue date"))
    notes = StringField(_l("Notes"), widget=BS3TextAreaFieldWidget(), default="")
    terms = StringField(_l("Terms"), widget=BS3TextAreaFieldWidget(), default="")
    lines = LineRowsField(_l("Lines"))

    header_fields: tuple[str, ...] = ("issue_date", "notes", "terms")


class InvoiceForm(DocumentForm):
    due_date = _date(_l("Due date"))

    header_fields = ("issue_date", "due_date", "notes", "terms")

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators=extra_validators)
        if self.due_date.data and self.issue_date.data and self.due_date.data < self.issue_date.data:
            self.due_date.errors = [*self.due_date.errors, _("The due date cannot be before the issue date.")]
            return False
        return valid


class QuoteForm(DocumentForm):
    valid_until = _date(_l("Valid until"))

    header_fields = ("issue_date", "valid_until", "notes", "terms")

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators=extra_validators)
        if self.valid_until.data and self.issue_date.data and self.valid_until.data < self.issue_date.data:
            self.valid_until.errors = [*self.valid_until.errors, _("A quote cannot expire before its issue date.")]
            return False
        return valid


class CreditNoteForm(FlaskForm):
    issue_date = _date(_l("Issue date"))
    reason = StringField(_l("Reason"), widget=BS3TextAreaFieldWidget(), validators=[InputRequired()])
    notes = StringField(_l("Notes"), widget=BS3TextAreaFieldWidget(), default="")
    lines = LineRowsField(_l("Lines"))

    header_fields = ("issue_date", "reason", "notes")


class NewCreditNoteForm(FlaskForm):
    reason = StringField(_l("Reason"), validators=[InputRequired(), Length(max=2000)], widget=BS3TextAreaFieldWidget(),
                         description=_l("Printed on the credit note, for example: returned goods, billing error."))


class PaymentForm(FlaskForm):
    amount = LocaleDecimalField(_l("Amount"), validators=[InputRequired()], widget=BS3TextFieldWidget(), places=2)
    date = _date(_l("Date"), default=dt.date.today)
    method = SelectField(_l("Method"), choices=[(key, label) for key, label in METHOD_LABELS.items()
                                                if key != PaymentMethod.STRIPE.value],
                         default=PaymentMethod.BANK_TRANSFER.value, widget=Select2Widget())
    reference = StringField(_l("Reference"), validators=[Length(max=200)], widget=BS3TextFieldWidget())
