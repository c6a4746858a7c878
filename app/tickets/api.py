"""REST API for support tickets: /api/v1/ticket/ (messages nested) and
POST /api/v1/ticket/<id>/reply.

Reads (get, list, filters on client_id / status / subject, paging) are FAB's own; a list row
carries no messages, one ticket carries its whole thread (internal notes marked
`internal: true`). A reply is a thin call into `app.tickets.services.reply_as_staff`, so it
emails the contact exactly like a reply from the admin. JWT only, like every API.
"""
from __future__ import annotations

from flask import current_app
from flask_appbuilder.api import expose, protect, safe
from flask_appbuilder.hooks import before_request
from flask_appbuilder.security.decorators import permission_name
from marshmallow import Schema, ValidationError, fields

from app.extensions import db
from app.fab.base import ClientelaInterface, ClientelaModelRestApi
from app.rest import (
    API_RESPONSES,
    ID_IN_PATH,
    ApiSchema,
    json_body,
    model_api_descriptions,
    operation,
    refused,
    result,
    text,
    use_accept_language,
)
from app.security.roles import READ_WRITE
from app.tickets import services
from app.tickets.models import Ticket


class AttachmentSchema(Schema):
    id = fields.Integer()
    filename = fields.String()
    content_type = fields.String()
    size = fields.Integer()


class MessageSchema(Schema):
    id = fields.Integer()
    author = fields.String(attribute="author_name")
    from_staff = fields.Boolean()
    internal = fields.Boolean(attribute="is_internal")
    body = fields.String()
    created_at = fields.DateTime()
    attachments = fields.List(fields.Nested(AttachmentSchema))


class TicketListSchema(Schema):
    id = fields.Integer()
    subject = fields.String()
    status = fields.String()
    client_id = fields.Integer()
    contact_id = fields.Integer(allow_none=True)
    invoice_id = fields.Integer(allow_none=True)
    quote_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    last_activity_at = fields.DateTime()
    closed_at = fields.DateTime(allow_none=True)


class TicketSchema(TicketListSchema):
    messages = fields.List(fields.Nested(MessageSchema))


class ReplyInputSchema(ApiSchema):
    """The body of POST /api/v1/ticket/<id>/reply; the text is checked by `reply_as_staff`."""

    body = text(required=True)
    internal = fields.Boolean(load_default=False)


class TicketApi(ClientelaModelRestApi):
    resource_name = "ticket"
    datamodel = ClientelaInterface(Ticket)
    class_permission_name = "Ticket"
    method_permission_name = {**READ_WRITE, "reply": "write"}
    # Tickets are opened by contacts in the portal; staff answer them.
    include_route_methods = {"get", "get_list", "reply"}
    openapi_spec_component_schemas = (ReplyInputSchema,)
    responses = API_RESPONSES
    openapi_spec_methods = {**model_api_descriptions("TicketApi"), "reply": {"post": {"parameters": [ID_IN_PATH]}}}

    list_columns = ["id", "subject", "status", "client_id", "contact_id", "invoice_id", "quote_id",
                    "created_at", "last_activity_at", "closed_at"]
    show_columns = [*list_columns, "messages"]
    search_columns = ["client_id", "status", "subject"]
    order_columns = ["id", "last_activity_at", "created_at", "status"]
    base_order = ("last_activity_at", "desc")
    list_model_schema = TicketListSchema()
    show_model_schema = TicketSchema()

    @before_request
    def _reader_language(self) -> None:
        use_accept_language()

    @expose("/<int:pk>/reply", methods=["POST"])
    @protect()
    @safe
    @permission_name("reply")
    @operation("post", description="""
        Adds a staff message to the thread. A reply makes the ticket "answered" and emails the
        contact a sign-in link to the ticket; with `internal: true` it is a note only staff see.""",
               body="ReplyInputSchema",
               ok=(200, "The ticket with its whole thread", result("TicketApi.get", with_id=True)),
               refusals=("400", "401", "404", "422_fields"))
    def reply(self, pk: int):
        """Answer the client (or add an internal note)"""
        ticket = self.datamodel.get(pk, self._base_filters)
        if ticket is None:
            return self.response_404()
        try:
            values = ReplyInputSchema().load(json_body())
            services.reply_as_staff(ticket, current_app.appbuilder.sm.current_user, values["body"],
                                    internal=values["internal"])
        except (ValidationError, services.TicketError) as err:
            return refused(self, err)
        db.session.commit()
        return self.response(200, id=ticket.id, result=self.show_model_schema.dump(ticket))


def register(appbuilder) -> None:
    appbuilder.add_api(TicketApi)
