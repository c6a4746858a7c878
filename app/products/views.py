"""Staff views of the product catalogue: list, search, add, edit, archive and restore.

The form runs the catalogue's one rule (`clean_product`) after the field checks, so an
error shows at its field with the same words as the API. Products are archived, never
deleted: invoice and quote lines keep pointing at them.
"""
from __future__ import annotations

from decimal import Decimal

from flask import flash, redirect
from flask_appbuilder.actions import action
from flask_appbuilder.fieldwidgets import BS3TextAreaFieldWidget, BS3TextFieldWidget, Select2Widget
from flask_appbuilder.forms import DynamicForm
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from wtforms import SelectField, StringField
from wtforms.validators import Length

from app.company.services import get_company
from app.extensions import db
from app.fab.base import ClientelaModelView
from app.fab.fields import LocaleDecimalField
from app.i18n import format_date, format_money, format_number
from app.products import services
from app.products.models import Product
from app.security.roles import READ_WRITE

LABELS = {
    "name": _l("Name"), "description": _l("Description"), "unit": _l("Unit"), "unit_price": _l("Unit price"),
    "tax_rate": _l("Tax rate %"), "vat_nature": _l("VAT nature"), "archived": _l("Archived"),
    "created_at": _l("Created"), "updated_at": _l("Changed"),
}


class ProductForm(DynamicForm):
    """A product's fields; shape only here, the rule is `services.clean_product`."""

    name = StringField(_l("Name"), validators=[Length(max=200)], widget=BS3TextFieldWidget())
    description = StringField(_l("Description"), widget=BS3TextAreaFieldWidget(), default="",
                              description=_l("Copied onto each line that uses the product."))
    unit = StringField(_l("Unit"), validators=[Length(max=20)], widget=BS3TextFieldWidget(), default="",
                       description=_l("For example hour, month, piece."))
    unit_price = LocaleDecimalField(_l("Unit price"), places=2, widget=BS3TextFieldWidget(), default=Decimal(0))
    tax_rate = LocaleDecimalField(_l("Tax rate %"), widget=BS3TextFieldWidget(),
                                  description=_l("Empty: the company's default rate."))
    vat_nature = SelectField(_l("VAT nature"), choices=[("", "—"), *((n, n) for n in services.VAT_NATURES)],
                             default="", widget=Select2Widget(),
                             description=_l("Only for a zero rate: why no VAT is charged (FatturaPA Natura)."))

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators=extra_validators)
        values, errors = services.clean_product({name: self[name].data for name in services.PRODUCT_FIELDS})
        for name, message in errors.items():
            if not self[name].errors:  # a number that could not be read already says so
                self[name].errors = [*self[name].errors, str(message)]
        if not errors:
            for name, value in values.items():
                self[name].data = value
        return valid and not errors


def _archived_chip(archived: bool) -> Markup:
    return Markup('<span class="label label-default">{}</span>').format(_("Archived")) if archived else Markup("")


class ProductView(ClientelaModelView):
    datamodel = SQLAInterface(Product)
    class_permission_name = "Product"
    method_permission_name = {**READ_WRITE, "archive": "write", "restore": "write"}
    # No delete: lines keep pointing at their product; archive it instead.
    include_route_methods = {"list", "show", "add", "edit", "action", "action_post"}

    list_title = _l("Products")
    add_row_message = edit_row_message = _l("Product saved.")
    show_title = _l("Product")
    add_title = _l("New product")
    edit_title = _l("Edit product")
    label_columns = LABELS
    list_columns = ["name", "unit", "unit_price", "tax_rate", "vat_nature", "archived"]
    show_columns = ["name", "description", "unit", "unit_price", "tax_rate", "vat_nature", "archived",
                    "created_at", "updated_at"]
    add_columns = edit_columns = list(services.PRODUCT_FIELDS)
    add_form = edit_form = ProductForm
    search_columns = ["name", "description", "archived"]
    order_columns = ["name", "unit_price", "tax_rate"]
    base_order = ("name", "asc")
    page_size = 25
    formatters_columns = {
        "unit_price": lambda value: format_money(value, get_company().currency or "EUR"),
        "tax_rate": format_number,
        "archived": _archived_chip,
        "created_at": lambda value: format_date(value.date() if value else None),
        "updated_at": lambda value: format_date(value.date() if value else None),
    }

    # Actions get rows without base filters: each one takes only products, and says how many.
    def _set_archived(self, items, archived: bool):
        chosen = [item for item in (items if isinstance(items, list) else [items]) if isinstance(item, Product)]
        for product in chosen:
            (services.archive_product if archived else services.restore_product)(product)
        db.session.commit()
        if archived:
            flash(_("%(count)d product(s) archived.", count=len(chosen)), "success")
        else:
            flash(_("%(count)d product(s) restored.", count=len(chosen)), "success")
        if len(chosen) == 1:
            return redirect(self.route_base + f"/show/{chosen[0].id}")
        return redirect(self.route_base + "/list/")

    @action("archive", _l("Archive"), _l("Archive? The product is no longer offered for new lines; "
                                         "documents that use it keep it."), "fa-archive")
    def archive(self, items):
        return self._set_archived(items, True)

    @action("restore", _l("Restore"), None, "fa-undo")
    def restore(self, items):
        return self._set_archived(items, False)


def register(appbuilder) -> None:
    appbuilder.add_view(ProductView, "Products", label=_l("Products"), icon="fa-cube")
