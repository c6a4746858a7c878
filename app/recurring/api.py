"""REST API for recurring invoices: /api/v1/recurring-invoice/ (line templates nested).

Reads are FAB's own; writes go through `app.recurring.services`, errors 422 per field
("lines.0.product_id"). `active` false pauses and true resumes; ending is `end_date`.
"""
from __future__ import annotations

from flask_appbuilder.hooks import before_request
from flask_appbuilder.models.sqla.interface import SQLAInterface
from marshmallow import ValidationError

from app.billing.api import UNKNOWN_CLIENT
from app.billing.services import BillingError
from app.clients.models import Client
from app.errors import Refusal
from app.extensions import db
from app.fab.base import ClientelaModelRestApi
from app.recurring import services
from app.recurring.models import RecurringInvoice
from app.recurring.schemas import RecurringInvoiceInputSchema, RecurringInvoicePostSchema, RecurringInvoiceSchema
from app.rest import API_RESPONSES, json_body, model_api_descriptions, refused, use_accept_language
from app.security.limits import MAX_ID
from app.security.roles import READ_WRITE


class RecurringInvoiceApi(ClientelaModelRestApi):
    resource_name = "recurring-invoice"
    datamodel = SQLAInterface(RecurringInvoice)
    class_permission_name = "RecurringInvoice"
    method_permission_name = READ_WRITE
    include_route_methods = {"get", "get_list", "post", "put"}

    list_columns = show_columns = ["id", "client_id", "frequency", "start_date", "end_date", "auto_send",
                                   "next_date", "last_invoice_id", "active", "status", "notes", "lines"]
    add_columns = edit_columns = ["client_id", "frequency", "start_date", "end_date", "auto_send", "active",
                                  "notes", "lines"]
    search_columns = ["client_id", "frequency", "active", "auto_send", "next_date"]
    order_columns = ["id", "next_date", "start_date"]
    base_order = ("id", "desc")
    list_model_schema = show_model_schema = RecurringInvoiceSchema()
    add_model_schema = RecurringInvoicePostSchema()
    edit_model_schema = RecurringInvoiceInputSchema()
    responses = API_RESPONSES
    openapi_spec_methods = model_api_descriptions("RecurringInvoiceApi")

    @before_request
    def _reader_language(self) -> None:
        use_accept_language()

    def post_headless(self):
        try:
            values = self.add_model_schema.load(json_body())
            active = values.pop("active", True)
            schedule = services.create_schedule(_client(values.pop("client_id")), values)  # archived: refused
            if not active:
                services.pause(schedule)
            db.session.flush()
        except (ValidationError, Refusal) as err:
            return refused(self, err)
        db.session.commit()
        return self.response(201, id=schedule.id, result=self.show_model_schema.dump(schedule))

    def put_headless(self, pk):
        schedule = self.datamodel.get(pk, self._base_filters)
        if schedule is None:
            return self.response_404()
        try:
            values = self.edit_model_schema.load(json_body())
            active = values.pop("active", None)
            services.update_schedule(schedule, values)
            if active is not None and active != schedule.active:
                (services.resume if active else services.pause)(schedule)
            db.session.flush()
        except (ValidationError, Refusal) as err:
            return refused(self, err)
        db.session.commit()
        return self.response(200, id=schedule.id, result=self.show_model_schema.dump(schedule))


def _client(client_id: int) -> Client:
    client = db.session.get(Client, client_id) if 0 < client_id <= MAX_ID else None
    if client is None:
        raise BillingError(UNKNOWN_CLIENT, "client_id")
    return client


def register(appbuilder) -> None:
    appbuilder.add_api(RecurringInvoiceApi)
