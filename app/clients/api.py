"""REST API for clients: /api/v1/client/ (contacts nested) and the client's summary.

Reads (get, list, filters, paging) are FAB's own. Writes go through
`clean_client_fields`, the rule the admin form uses too, so an invalid VAT number gets the
same translated error on the same field, and nothing is saved. JWT only: FAB's `protect()`
without browser login, so a staff member's admin cookie never authorizes an API call.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from flask_appbuilder.api import ModelRestApi, expose, protect, safe
from flask_appbuilder.hooks import before_request
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.security.decorators import permission_name
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.activity import services as activity
from app.billing.models import InvoiceStatus, QuoteStatus
from app.clients.models import Client, Contact
from app.clients.schemas import (
    API_RESPONSES,
    CLIENT_FIELDS,
    CLIENT_FLAGS,
    ID_IN_PATH,
    ClientInputSchema,
    ClientSchema,
    field_errors,
    json_body,
    model_api_descriptions,
    refused,
    use_accept_language,
)
from app.clients.validation import clean_client_fields
from app.dashboard import queries as dashboard_queries
from app.extensions import db
from app.security.roles import READ_WRITE

# "Overdue" and "expired" are derived from dates, so the summary counts them as statuses.
INVOICE_SUMMARY_STATUSES = [status.value for status in InvoiceStatus] + ["overdue"]
QUOTE_SUMMARY_STATUSES = [status.value for status in QuoteStatus]

UNKNOWN_CONTACT = _l("This contact does not belong to this client.")
CONTACT_IN_USE = _l("This contact cannot be removed: other records refer to it.")


def client_summary(client_id: int, today: dt.date | None = None) -> dict[str, Any]:
    """The API's shape of the one summary rule (`app.dashboard.queries.client_summary`, also
    behind the client 360 page): money as decimal strings, every status present (0 if none).

    Invoiced means finalized and not cancelled (sent, partial, paid); the balance due is what
    is still open on those. An open invoice past its due date counts as "overdue" (not as sent
    or partial); a sent quote past its validity counts as "expired".
    """
    figures = dashboard_queries.client_summary(client_id, today)
    return {
        "total_invoiced": str(figures["total_invoiced"]),
        "total_paid": str(figures["total_paid"]),
        "total_credited": str(figures["total_credited"]),
        "balance_due": str(figures["balance_due"]),
        "overdue": str(figures["overdue"]),
        "invoices": {status: 0 for status in INVOICE_SUMMARY_STATUSES} | figures["invoices"],
        "quotes": {status: 0 for status in QUOTE_SUMMARY_STATUSES} | figures["quotes"],
    }


class ClientApi(ModelRestApi):
    resource_name = "client"
    datamodel = SQLAInterface(Client)
    class_permission_name = "Client"
    method_permission_name = READ_WRITE
    # Clients are archived, never deleted over the API (their invoices must keep their client).
    include_route_methods = {"get", "get_list", "post", "put", "summary"}

    list_columns = show_columns = ["id", *CLIENT_FIELDS, *CLIENT_FLAGS, "archived", "contacts"]
    add_columns = edit_columns = [*CLIENT_FIELDS, *CLIENT_FLAGS, "archived", "contacts"]
    search_columns = ["name", "kind", "email", "city", "province", "country", "vat_number", "tax_code", "archived"]
    order_columns = ["id", "name", "city", "country", "created_at"]
    base_order = ("name", "asc")

    list_model_schema = ClientSchema()
    show_model_schema = ClientSchema()
    add_model_schema = ClientInputSchema()
    edit_model_schema = ClientInputSchema()
    responses = API_RESPONSES
    openapi_spec_methods = {**model_api_descriptions("ClientApi"), "summary": {"get": {"parameters": [ID_IN_PATH]}}}

    @before_request
    def _reader_language(self) -> None:
        use_accept_language()

    def post_headless(self):
        client = Client()
        try:
            self._apply(client, json_body(), creating=True)
        except ValidationError as err:
            return refused(self, err)
        db.session.add(client)
        db.session.flush()
        activity.record("client_created", client.id)
        db.session.commit()
        return self.response(201, id=client.id, result=self.show_model_schema.dump(client))

    def put_headless(self, pk):
        client = self.datamodel.get(pk, self._base_filters)
        if client is None:
            return self.response_404()
        try:
            self._apply(client, json_body(), creating=False)
            db.session.flush()
        except ValidationError as err:
            return refused(self, err)
        except IntegrityError:
            # A removed contact still referenced elsewhere (tickets, for instance).
            db.session.rollback()
            return self.response_422(message={"contacts": [str(CONTACT_IN_USE)]})
        db.session.commit()
        return self.response(200, id=client.id, result=self.show_model_schema.dump(client))

    def _apply(self, client: Client, body: dict[str, Any], creating: bool) -> None:
        """Check the whole input, then change `client`; raise ValidationError before any change."""
        try:
            values, errors = (self.add_model_schema if creating else self.edit_model_schema).load(body), {}
        except ValidationError as err:
            # Still check the well-formed fields, so the caller sees every error at once.
            values, errors = err.valid_data or {}, field_errors(err.messages)
        current = {name: getattr(client, name) or "" for name in CLIENT_FIELDS}
        current.update({name: getattr(client, name) for name in CLIENT_FLAGS})  # None on a new client: the default
        given = {k: v for k, v in values.items() if k in CLIENT_FIELDS or k in CLIENT_FLAGS}
        cleaned = clean_client_fields({**current, **given})
        for name, message in cleaned.errors.items():
            errors.setdefault(name, [str(message)])
        if errors:
            raise ValidationError(errors)
        contacts = values.get("contacts")
        if contacts is None and creating:
            contacts = [{"id": None, "name": cleaned.values["name"], "email": cleaned.values["email"],
                         "phone": cleaned.values.get("phone") or "", "is_primary": True}]
        existing = {contact.id: contact for contact in client.contacts}
        for index, data in enumerate(contacts or []):
            if data["id"] is not None and data["id"] not in existing:
                raise ValidationError({f"contacts.{index}.id": [str(UNKNOWN_CONTACT)]})

        for name in CLIENT_FIELDS:
            setattr(client, name, cleaned.values[name] or "")
        for name in CLIENT_FLAGS:
            setattr(client, name, cleaned.values[name])
        if "archived" in values:
            client.archived = values["archived"]
        if contacts is not None:
            client.contacts = [_contact(existing.get(data["id"]), data) for data in contacts]

    @expose("/<int:pk>/summary", methods=["GET"])
    @protect()
    @safe
    @permission_name("summary")
    def summary(self, pk: int):
        """The client's money and documents at a glance
        ---
        get:
          description: >-
            Total invoiced (finalized, not cancelled), total paid and balance due as decimal
            strings, and counts of invoices and quotes by status ("overdue" for open invoices
            past their due date, "expired" for sent quotes past their validity).
          responses:
            200:
              description: The summary
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      id:
                        type: integer
                      result:
                        type: object
            401:
              $ref: '#/components/responses/401'
            404:
              $ref: '#/components/responses/404'
        """
        currency = db.session.scalar(select(Client.currency).where(Client.id == pk))
        if currency is None:
            return self.response_404()
        return self.response(200, id=pk, result={**client_summary(pk), "currency": currency})


def _contact(contact: Contact | None, data: dict[str, Any]) -> Contact:
    contact = contact or Contact()
    contact.name = data["name"]
    contact.email = data["email"]
    contact.phone = data["phone"]
    contact.is_primary = data["is_primary"]
    return contact


def register(appbuilder) -> None:
    appbuilder.add_api(ClientApi)
