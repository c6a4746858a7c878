"""Staff views of recurring invoices: a schedule per client, its line templates, and the
pause, resume and end buttons.

A schedule is made from the client's 360 page ("New recurring invoice" opens the form for
that client); its lines are edited inline like a draft's, checked by billing's line rule.
FAB's actions receive rows fetched without base filters, so each action takes only
schedules and asks the rules, which refuse what does not apply.
"""
from __future__ import annotations

import datetime as dt

from flask import abort, flash, g, redirect, request, url_for
from flask_appbuilder import expose, has_access
from flask_appbuilder.actions import action
from flask_appbuilder.fieldwidgets import BS3TextAreaFieldWidget, Select2Widget
from flask_appbuilder.forms import DynamicForm
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from wtforms import BooleanField, SelectField, StringField
from wtforms.validators import InputRequired, Optional

from app.billing.forms import LineRowsField
from app.billing.views import COMMON_LABELS, BillingInterface
from app.clients.models import Client
from app.company.services import get_company
from app.errors import Refusal
from app.extensions import db
from app.fab.base import ClientelaModelView
from app.fab.fields import LocaleDateField
from app.i18n import format_date, format_money, format_number
from app.recurring import services
from app.recurring.models import Frequency, RecurringInvoice, RecurringLine
from app.security.roles import READ_WRITE

FREQUENCY_LABELS = {
    Frequency.MONTHLY.value: _l("Monthly"),
    Frequency.QUARTERLY.value: _l("Quarterly"),
    Frequency.YEARLY.value: _l("Yearly"),
}
STATUS_LABELS = {"active": _l("Active"), "paused": _l("Paused"), "ended": _l("Ended")}
STATUS_STYLES = {"active": "success", "paused": "warning", "ended": "default"}
LABELS = {
    "client": _l("Client"), "frequency": _l("Frequency"), "start_date": _l("Start date"),
    "end_date": _l("End date"), "auto_send": _l("Send automatically"), "next_date": _l("Next invoice"),
    "last_invoice": _l("Last invoice"), "status": _l("Status"), "notes": _l("Notes"), "lines": _l("Lines"),
}


def status_chip(status: str) -> Markup:
    return Markup('<span class="label label-{}">{}</span>').format(STATUS_STYLES[status], STATUS_LABELS[status])


class TemplateRowsField(LineRowsField):
    """A draft's line rows (product picker included), saved as the schedule's templates."""

    def populate_obj(self, obj, name) -> None:
        services.set_template_lines(obj, [row.values() for row in self.kept_rows()])


class RecurringForm(DynamicForm):
    frequency = SelectField(_l("Frequency"), choices=list(FREQUENCY_LABELS.items()), widget=Select2Widget(),
                            default=Frequency.MONTHLY.value)
    # The default only fills a new form: what was typed, even unreadable, comes back as typed.
    start_date = LocaleDateField(_l("Start date"), validators=[InputRequired()], default=dt.date.today,
                                 description=_l("The first invoice is made on this day."))
    end_date = LocaleDateField(_l("End date"), validators=[Optional()],
                               description=_l("Optional: no invoice for a period starting after it."))
    auto_send = BooleanField(_l("Send automatically"),
                             description=_l("Finalize and email each invoice; otherwise it waits as a draft."))
    notes = StringField(_l("Notes"), widget=BS3TextAreaFieldWidget(), default="",
                        description=_l("Copied onto each invoice."))
    lines = TemplateRowsField(_l("Lines"), description=_l(
        "Pick a product and leave description, price or rate empty to use the product's current ones."))

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators=extra_validators)
        errors = services.clean_schedule({name: self[name].data for name in ("frequency", "start_date", "end_date")})
        for name, message in errors.items():
            if not self[name].errors:  # a date that could not be read already says how to write it
                self[name].errors = [*self[name].errors, str(message)]
        if valid and not self.lines.kept_rows():
            self.lines.errors = [str(_l("Add at least one line."))]
            return False
        return valid and not errors


class RecurringInvoiceView(ClientelaModelView):
    # Clients come joined; the page's last invoices in one more query, not one per row.
    datamodel = BillingInterface(RecurringInvoice, eager=[RecurringInvoice.last_invoice])
    class_permission_name = "RecurringInvoice"
    method_permission_name = {**READ_WRITE, "pause": "write", "resume": "write", "end": "write"}
    include_route_methods = {"list", "show", "add", "edit", "action", "action_post"}

    list_title = _l("Recurring invoices")
    add_row_message = edit_row_message = _l("Recurring invoice saved.")
    delete_row_message = _l("Recurring invoice deleted.")
    show_title = _l("Recurring invoice")
    add_title = _l("New recurring invoice")
    edit_title = _l("Edit recurring invoice")
    label_columns = LABELS
    list_columns = ["client", "frequency", "next_date", "end_date", "auto_send", "status", "last_invoice"]
    show_columns = ["client", "frequency", "start_date", "end_date", "next_date", "auto_send", "status",
                    "last_invoice", "notes"]
    add_columns = edit_columns = ["frequency", "start_date", "end_date", "auto_send", "notes", "lines"]
    add_form = edit_form = RecurringForm
    search_columns = ["frequency", "next_date", "active", "auto_send"]
    order_columns = ["next_date", "frequency"]
    base_order = ("next_date", "asc")
    page_size = 25
    formatters_columns = {
        "frequency": lambda value: FREQUENCY_LABELS.get(value, value),
        "status": status_chip,
        "start_date": format_date, "end_date": format_date, "next_date": format_date,
    }

    @expose("/add", methods=["GET", "POST"])
    @has_access
    def add(self):
        """A schedule is for one client: the 360 page's button names it (`?client_id=`)."""
        client = db.session.get(Client, request.args.get("client_id", type=int) or 0)
        if client is None or client.archived:
            flash(_("Open a client and choose New recurring invoice."), "info")
            return redirect(url_for("ClientView.list"))
        g.recurring_client = client
        widgets = self._add()
        if not widgets:
            return redirect(url_for("ClientDashboardView.show", client_id=client.id))
        return self.render_template(self.add_template, title=f"{self.add_title}: {client.name}", widgets=widgets)

    def pre_add(self, item: RecurringInvoice) -> None:
        item.client = g.recurring_client
        item.next_date = item.start_date
        item.active = True

    def process_form(self, form, is_created: bool) -> None:
        """Before FAB writes the form onto the row, keep the stored values: the rule decides
        the change (whether the start may move, what the next date becomes) in `pre_update`."""
        if not is_created:
            stored = db.session.get(RecurringInvoice, request.view_args["pk"])
            g.recurring_stored = {name: getattr(stored, name) for name in services.SCHEDULE_FIELDS}

    def pre_update(self, item: RecurringInvoice) -> None:
        values = {name: getattr(item, name) for name in services.SCHEDULE_FIELDS}
        for name, value in g.recurring_stored.items():
            setattr(item, name, value)
        services.update_schedule(item, values)

    # -- pause, resume, end (checked here: FAB fetched the rows without base filters) --------

    def _apply(self, items, change, done_message):
        schedules = [item for item in (items if isinstance(items, list) else [items])
                     if isinstance(item, RecurringInvoice)]
        if not schedules:
            abort(404)
        try:
            for schedule in schedules:
                change(schedule)
        except Refusal as refusal:
            db.session.rollback()
            flash(str(refusal.message), "danger")
        else:
            db.session.commit()
            flash(done_message, "success")
        if len(schedules) == 1:
            return redirect(url_for(f"{self.__class__.__name__}.show", pk=schedules[0].id))
        return redirect(url_for(f"{self.__class__.__name__}.list"))

    @action("pause", _l("Pause"), _l("Pause? No invoice is made until it is resumed."), "fa-pause")
    def pause(self, items):
        return self._apply(items, services.pause, _("Paused."))

    @action("resume", _l("Resume"), _l("Resume? The next invoice is the next period from today."), "fa-play")
    def resume(self, items):
        return self._apply(items, services.resume, _("Resumed."))

    @action("end", _l("End"), _l("End? No further invoice is made."), "fa-stop")
    def end(self, items):
        return self._apply(items, services.end, _("Ended."))


class RecurringLineView(ClientelaModelView):
    """A schedule's line templates, read-only: they change through the schedule's form."""

    datamodel = SQLAInterface(RecurringLine)
    class_permission_name = "RecurringInvoice"
    method_permission_name = READ_WRITE
    base_permissions = ["can_read"]
    list_columns = ["product", "description", "quantity", "unit_price", "discount", "tax_rate", "vat_nature"]
    label_columns = {**COMMON_LABELS, "product": _l("Product")}
    # Empty price or rate: the product's current one (RecurringLine).
    formatters_columns = {
        "quantity": format_number, "discount": format_number, "tax_rate": format_number,
        "unit_price": lambda value: "" if value is None else format_money(value, get_company().currency or "EUR"),
    }


RecurringInvoiceView.related_views = [RecurringLineView]


def register(appbuilder) -> None:
    appbuilder.add_view_no_menu(RecurringLineView)
    appbuilder.add_view(RecurringInvoiceView, "Recurring invoices", label=_l("Recurring invoices"),
                        icon="fa-repeat")
