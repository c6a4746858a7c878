"""The transfer API: `POST /api/v1/client/import` and `GET /api/v1/export/<kind>.csv`.

The import answers to the client API's write permission, each export to the read permission
of what it exports (Client, Invoice, Payment), so a role sees in a sheet only what it may
read in the API. JWT only, like every Clientela API.
"""
from __future__ import annotations

from flask import Response, request, stream_with_context
from flask_appbuilder.api import expose, protect, safe
from flask_appbuilder.hooks import before_request
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext as _

from app.errors import Refusal
from app.extensions import db
from app.fab.base import ClientelaBaseApi
from app.rest import API_RESPONSES, binary, json_object, operation, use_accept_language
from app.security.roles import READ_WRITE
from app.transfer import exports
from app.transfer.imports import MAX_IMPORT_BYTES, XLSX_CONTENT_TYPE, import_file

CSV_CONTENT_TYPES = {"text/csv", "application/csv", "text/plain"}
PERIOD_PARAMETERS = [
    {"in": "query", "name": "from", "schema": {"type": "string", "format": "date"}},
    {"in": "query", "name": "to", "schema": {"type": "string", "format": "date"}},
    {"in": "query", "name": "format", "schema": {"type": "string", "enum": ["csv", "xlsx"]}},
]


class ClientImportApi(ClientelaBaseApi):
    resource_name = "client"
    class_permission_name = "Client"
    method_permission_name = {**READ_WRITE, "import_clients": "write"}
    openapi_spec_tag = "Client"
    responses = API_RESPONSES
    openapi_spec_methods = {"import_clients": {"post": {"parameters": [
        {"in": "query", "name": "dry_run", "schema": {"type": "integer", "enum": [0, 1]}},
    ]}}}

    @before_request
    def _reader_language(self) -> None:
        use_accept_language()

    @expose("/import", methods=["POST"])
    @protect()
    @safe
    @permission_name("import_clients")
    @operation("post", description="""
        Columns named by the client fields plus contact_name and contact_email. Every
        row is checked with the client rules; any error imports nothing (422). A client
        already present (same VAT number, else same email) is updated. `dry_run=1`
        checks and counts without importing.""",
               body={"text/csv": {"schema": {"type": "string"}},
                     **binary("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")},
               body_required=False,
               ok=(200, "What was (or, in a dry run, would be) created and updated",
                   json_object(created="integer", updated="integer",
                               errors={"type": "array", "items": {"type": "object"}})),
               refusals=("401",),
               responses={413: {"description": "The body is larger than the import allows"},
                          415: {"description": "The body is neither CSV nor XLSX"},
                          422: {"description": "The rows' errors ({row, field, message}); nothing imported"}})
    def import_clients(self):
        """Import clients with their contacts from a CSV or XLSX body"""
        if request.mimetype not in CSV_CONTENT_TYPES | {XLSX_CONTENT_TYPE}:
            return self.response(415, message=_("Send the file as text/csv or as an XLSX spreadsheet."))
        if (request.content_length or 0) > MAX_IMPORT_BYTES:
            return self.response(413, message=_("The file is too large: at most %(size)d MB.",
                                                size=MAX_IMPORT_BYTES // (1024 * 1024)))
        dry_run = request.args.get("dry_run") in ("1", "true")
        report = import_file(request.get_data(), dry_run=dry_run)
        if not report.ok:
            db.session.rollback()
            return self.response(422, created=0, updated=0, errors=report.errors)
        db.session.commit()
        return self.response(200, **report.as_dict())


class _ExportApi(ClientelaBaseApi):
    """One export under /api/v1/export/; subclasses name it and the permission it needs."""

    resource_name = "export"
    export_name = ""
    method_permission_name = {"export": "read"}
    openapi_spec_tag = "Export"
    responses = API_RESPONSES

    @before_request
    def _reader_language(self) -> None:
        use_accept_language()

    def answer(self):
        export = exports.EXPORTS[self.export_name]
        try:
            start, end = exports.parse_bounds(request.args.get("from"), request.args.get("to"))
        except Refusal as refusal:
            return self.response_400(message={field: [message] for field, message in refusal.as_dict().items()})
        file_format = request.args.get("format", "csv")
        if file_format not in ("csv", "xlsx"):
            return self.response_400(message={"format": [_("Choose csv or xlsx.")]})
        return download(export, start, end, file_format)


def download(export: exports.Export, start, end, file_format: str) -> Response:
    """The export as a CSV (streamed) or XLSX attachment; the API and the admin answer with it."""
    if file_format == "xlsx":
        return Response(exports.xlsx_bytes(export, start, end), mimetype=XLSX_CONTENT_TYPE, headers={
            "Content-Disposition": f'attachment; filename="{exports.filename(export, start, end, "xlsx")}"'})
    return Response(stream_with_context(exports.stream(exports.csv_chunks(export, start, end))),
                    mimetype="text/csv", headers={
                        "Content-Disposition": f'attachment; filename="{exports.filename(export, start, end, "csv")}"'})


_EXPORT_DOC = """Export {what}
        ---
        get:
          description: CSV (default) or XLSX with `format=xlsx`; `from` and `to` bound the period (ISO dates).
          responses:
            200:
              description: The file
            400:
              $ref: '#/components/responses/400_fields'
            401:
              $ref: '#/components/responses/401'
        """


class ClientExportApi(_ExportApi):
    class_permission_name = "Client"
    export_name = "clients"
    openapi_spec_methods = {"export": {"get": {"parameters": PERIOD_PARAMETERS[2:]}}}

    @expose("/clients.csv", methods=["GET"])
    @protect()
    @safe
    @permission_name("export")
    def export(self):
        return self.answer()

    export.__doc__ = _EXPORT_DOC.format(what="clients with their primary contact")


class InvoiceExportApi(_ExportApi):
    class_permission_name = "Invoice"
    export_name = "invoices"
    openapi_spec_methods = {"export": {"get": {"parameters": PERIOD_PARAMETERS}}}

    @expose("/invoices.csv", methods=["GET"])
    @protect()
    @safe
    @permission_name("export")
    def export(self):
        return self.answer()

    export.__doc__ = _EXPORT_DOC.format(what="the issued invoices of a period")


class PaymentExportApi(_ExportApi):
    class_permission_name = "Payment"
    export_name = "payments"
    openapi_spec_methods = {"export": {"get": {"parameters": PERIOD_PARAMETERS}}}

    @expose("/payments.csv", methods=["GET"])
    @protect()
    @safe
    @permission_name("export")
    def export(self):
        return self.answer()

    export.__doc__ = _EXPORT_DOC.format(what="the payments of a period")


def register(appbuilder) -> None:
    for api in (ClientImportApi, ClientExportApi, InvoiceExportApi, PaymentExportApi):
        appbuilder.add_api(api)
