"""REST API of e-invoicing: the stored FatturaPA files, the accountant's ZIP, SdI receipts.

    GET  /api/v1/invoice/<id>/fatturapa       the invoice's current file (a draft has none: 409)
    GET  /api/v1/credit-note/<id>/fatturapa   the credit note's
    GET  /api/v1/einvoice/export?from=&to=    a ZIP of the period's files
    POST /api/v1/sdi/receipts                 a receipt's XML as the body

One FAB API of its own (so billing's API need not know about e-invoices), mounted at
/api/v1 because its routes sit under the documents they concern. JWT only, like every API;
it shares the Invoice permission (reading files is reading invoices, a receipt writes one).
"""
from __future__ import annotations

import datetime as dt

from flask import make_response, request
from flask_appbuilder.api import expose, protect, safe
from flask_appbuilder.security.decorators import permission_name
from flask_babel import lazy_gettext as _l

from app.billing.models import CreditNote, Invoice
from app.einvoice import services
from app.einvoice.receipts import MalformedReceipt
from app.einvoice.schema import UnsafeXml
from app.extensions import db
from app.fab.base import ClientelaBaseApi
from app.rest import ID_IN_PATH, binary, json_object, operation
from app.security.limits import MAX_ID

MAX_RECEIPT_BYTES = 1024 * 1024  # SdI's receipts are a few kilobytes, signature included


def xml_response(file) -> object:
    response = make_response(file.content)
    response.mimetype = "application/xml"
    response.headers["Content-Disposition"] = f'attachment; filename="{file.file_name}"'
    return response


class EInvoiceApi(ClientelaBaseApi):
    resource_name = "einvoice"
    route_base = "/api/v1"
    class_permission_name = "Invoice"
    method_permission_name = {"invoice_xml": "read", "credit_note_xml": "read", "export": "read",
                              "receipts": "write"}
    openapi_spec_tag = "E-invoicing"
    # The id's bounds, as every API here: a larger id names no row (app.security.limits).
    openapi_spec_methods = {"invoice_xml": {"get": {"parameters": [ID_IN_PATH]}},
                            "credit_note_xml": {"get": {"parameters": [ID_IN_PATH]}}}

    def _document_xml(self, model, pk: int):
        document = db.session.get(model, pk) if 0 < pk <= MAX_ID else None
        if document is None:
            return self.response_404()
        file = services.current_file(document)
        if document.status == "draft" or file is None:
            return self.response(409, message=str(_l("A draft has no e-invoice: finalize it first.")))
        return xml_response(file)

    @expose("/invoice/<int:pk>/fatturapa", methods=["GET"])
    @protect()
    @safe
    @permission_name("invoice_xml")
    @operation("get", ok=(200, "The XML file", binary("application/xml")), refusals=("404",),
               responses={409: {"description": "The invoice is a draft (it has no e-invoice yet)",
                                "content": json_object(message="string")}})
    def invoice_xml(self, pk: int):
        """The invoice's FatturaPA file, the same bytes every time"""
        return self._document_xml(Invoice, pk)

    @expose("/credit-note/<int:pk>/fatturapa", methods=["GET"])
    @protect()
    @safe
    @permission_name("credit_note_xml")
    @operation("get", ok=(200, "The XML file", binary("application/xml")), refusals=("404",),
               responses={409: {"description": "The credit note is a draft (it has no e-invoice yet)",
                                "content": json_object(message="string")}})
    def credit_note_xml(self, pk: int):
        """The credit note's FatturaPA file (TD04)"""
        return self._document_xml(CreditNote, pk)

    @expose("/einvoice/export", methods=["GET"])
    @protect()
    @safe
    @permission_name("export")
    @operation("get", parameters=[{"in": "query", "name": name, "required": True,
                                   "schema": {"type": "string", "format": "date"}} for name in ("from", "to")],
               ok=(200, "The ZIP", binary("application/zip")), refusals=("400",))
    def export(self):
        """A ZIP of the files of the documents dated in a period, for the accountant"""
        try:
            start = dt.date.fromisoformat(request.args.get("from", ""))
            end = dt.date.fromisoformat(request.args.get("to", ""))
        except ValueError:
            return self.response_400(message=str(_l("Give the period as from=YYYY-MM-DD&to=YYYY-MM-DD.")))
        if end < start:
            return self.response_400(message=str(_l("The period ends before it starts.")))
        response = make_response(services.export_zip(start, end))
        response.mimetype = "application/zip"
        response.headers["Content-Disposition"] = f'attachment; filename="fatture-{start}-{end}.zip"'
        return response

    @expose("/sdi/receipts", methods=["POST"])
    @protect()
    @safe
    @permission_name("receipts")
    @operation("post", body={"application/xml": {"schema": {"type": "string"}}}, body_required=False,
               ok=(200, "The document's new state",
                   json_object(document_type="string", document_id="integer", sdi_status="string")),
               refusals=("400", "404"))
    def receipts(self):
        """Import one SdI receipt (RC, NS, MC, NE, DT, AT), its XML as the body"""
        if (request.content_length or 0) > MAX_RECEIPT_BYTES:
            return self.response_400(message=str(_l("A receipt is at most 1 MB.")))
        result = apply_receipt(request.get_data(cache=False))
        if isinstance(result, str):
            return self.response_400(message=result) if result != "unknown" else self.response_404()
        db.session.commit()
        return self.response(200, **result)


def apply_receipt(content: bytes) -> dict | str:
    """What the API and the admin upload answer: the new state, "unknown" for a file not
    ours, else the reason the receipt was refused (the transaction is rolled back)."""
    try:
        file, _receipt = services.import_receipt(content)
    except (MalformedReceipt, UnsafeXml) as exc:
        db.session.rollback()
        return str(_l("Not an SdI receipt: %(reason)s", reason=str(exc)))
    except services.UnknownFile:
        db.session.rollback()
        return "unknown"
    document = services.document_of(file)
    return {"document_type": document.document_type if document is not None else "",
            "document_id": file.document_id,
            "sdi_status": document.sdi_status if document is not None else file.sdi_status}


def register(appbuilder) -> None:
    appbuilder.add_api(EInvoiceApi)
