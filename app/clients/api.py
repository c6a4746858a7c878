"""REST API for clients: /api/v1/client/ (contacts nested); the summary is billing's (`ClientSummaryApi`).

Reads (get, list, filters, paging) are FAB's own. Writes go through the client rules
(`app.clients.services`) the admin form uses too, so an invalid VAT number or two contacts
with one email get the same translated error on the same field, and nothing is saved. A
client created without contacts is its own primary contact; a Partita IVA or codice fiscale
another client has is saved, with `warnings` in the answer. JWT only: FAB's `protect()`
without browser login, so a staff member's admin cookie never authorizes an API call.
"""
from __future__ import annotations

from typing import Any

from flask_appbuilder.hooks import before_request
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError
from sqlalchemy.exc import IntegrityError

from app.clients.models import Client
from app.clients.schemas import ClientInputSchema, ClientSchema
from app.clients.services import (
    CLIENT_FIELDS,
    CLIENT_FLAGS,
    ClientRefused,
    ContactData,
    client_errors,
    create_client,
    tax_id_warnings,
    update_client,
)
from app.extensions import db
from app.fab.base import ClientelaInterface, ClientelaModelRestApi
from app.rest import API_RESPONSES, field_errors, json_body, model_api_descriptions, refused, use_accept_language
from app.security.roles import READ_WRITE

CONTACT_IN_USE = _l("This contact cannot be removed: other records refer to it.")


class ClientApi(ClientelaModelRestApi):
    resource_name = "client"
    datamodel = ClientelaInterface(Client)
    class_permission_name = "Client"
    method_permission_name = READ_WRITE
    # Clients are archived, never deleted over the API (their invoices must keep their client).
    include_route_methods = {"get", "get_list", "post", "put"}

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
    openapi_spec_methods = model_api_descriptions("ClientApi")

    @before_request
    def _reader_language(self) -> None:
        use_accept_language()

    def post_headless(self):
        try:
            values, contacts = self._input(Client(), json_body(), creating=True)
            client = create_client(values, contacts)
        except (ValidationError, ClientRefused) as err:
            return refused(self, err)
        db.session.commit()
        return self.response(201, id=client.id, result=self.show_model_schema.dump(client), **_warnings(client))

    def put_headless(self, pk):
        client = self.datamodel.get(pk, self._base_filters)
        if client is None:
            return self.response_404()
        try:
            values, contacts = self._input(client, json_body(), creating=False)
            update_client(client, values, contacts)
            db.session.flush()
        except (ValidationError, ClientRefused) as err:
            return refused(self, err)
        except IntegrityError:
            # A removed contact still referenced elsewhere (tickets, for instance).
            db.session.rollback()
            return self.response_422(message={"contacts": [str(CONTACT_IN_USE)]})
        db.session.commit()
        return self.response(200, id=client.id, result=self.show_model_schema.dump(client), **_warnings(client))

    def _input(self, client: Client, body: dict[str, Any], creating: bool) -> tuple[dict[str, Any], list | None]:
        """The body as the client rules take it. A malformed body still has its well-formed
        fields checked by the rules, so the caller sees every error at once."""
        try:
            values = (self.add_model_schema if creating else self.edit_model_schema).load(body)
        except ValidationError as err:
            values = err.valid_data or {}
            errors = field_errors(err.messages)
            for name, message in client_errors(client, values).items():
                errors.setdefault(name, [str(message)])
            raise ValidationError(errors) from None
        return values, _contacts(values.get("contacts"))


def _warnings(client: Client) -> dict[str, dict[str, list[str]]]:
    """`warnings`, only when there is one: another client has the same Partita IVA or codice
    fiscale. The write is kept (an integration syncing from elsewhere is not blocked); the
    caller decides (docs/decisions.md, "The same Partita IVA twice")."""
    warnings = tax_id_warnings(client)
    return {"warnings": warnings} if warnings else {}


def _contacts(contacts: list[dict[str, Any]] | None) -> list[ContactData] | None:
    if contacts is None:
        return None
    return [ContactData(id=data.get("id"), name=data.get("name") or "", email=data.get("email") or "",
                        phone=data.get("phone") or "", is_primary=bool(data.get("is_primary"))) for data in contacts]


def register(appbuilder) -> None:
    appbuilder.add_api(ClientApi)
