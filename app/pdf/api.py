"""GET /api/v1/client/<id>/statement.pdf?from=&to=: a client's statement of account as a PDF.

The route lives under the client API's URL and answers to its permission (Client, read: the
roles that read clients), but is registered from here, a layer above clients, so that clients
never import the PDF capability. JWT only, like every Clientela API.
"""
from __future__ import annotations

from io import BytesIO

from flask import request, send_file
from flask_appbuilder.api import expose, protect, safe
from flask_appbuilder.hooks import before_request
from flask_appbuilder.security.decorators import permission_name

from app.clients.models import Client
from app.errors import Refusal
from app.extensions import db
from app.fab.base import ClientelaBaseApi
from app.pdf.statement import parse_period, statement_filename, statement_pdf
from app.rest import API_RESPONSES, ID_IN_PATH, binary, operation, use_accept_language
from app.security.roles import READ_WRITE


class ClientStatementApi(ClientelaBaseApi):
    resource_name = "client"
    class_permission_name = "Client"
    method_permission_name = {**READ_WRITE, "statement": "read"}
    openapi_spec_tag = "Client"
    responses = API_RESPONSES
    openapi_spec_methods = {"statement": {"get": {"parameters": [
        ID_IN_PATH,
        {"in": "query", "name": "from", "schema": {"type": "string", "format": "date"}},
        {"in": "query", "name": "to", "schema": {"type": "string", "format": "date"}},
    ]}}}

    @before_request
    def _reader_language(self) -> None:
        use_accept_language()

    @expose("/<int:pk>/statement.pdf", methods=["GET"])
    @protect()
    @safe
    @permission_name("statement")
    @operation("get", description="""
        Opening balance (everything before `from`), the period's invoices and payments
        with a running balance, the closing balance and its ageing at `to`, in the
        client's language. The period defaults to the current year up to today.""",
               ok=(200, "The statement", binary("application/pdf")), refusals=("400_fields", "401", "404"))
    def statement(self, pk: int):
        """The client's statement of account for a period"""
        client = db.session.get(Client, pk)
        if client is None:
            return self.response_404()
        try:
            period = parse_period(request.args.get("from"), request.args.get("to"))
        except Refusal as refusal:
            return self.response_400(message={field: [message] for field, message in refusal.as_dict().items()})
        return send_file(BytesIO(statement_pdf(client, period)), mimetype="application/pdf",
                         download_name=statement_filename(client, period), as_attachment=False)


def register(appbuilder) -> None:
    appbuilder.add_api(ClientStatementApi)
