"""Admin: the SdI page (every file with its state and SdI's errors, and a receipt upload)
and the XML download the invoice and credit note pages link to by endpoint name
(`EInvoiceView.download`). Thin: the rules are app.einvoice.services.
"""
from __future__ import annotations

from io import BytesIO

from flask import abort, current_app, flash, redirect, request, send_file, url_for
from flask_appbuilder import expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.company.services import get_company
from app.einvoice import services
from app.einvoice.api import MAX_RECEIPT_BYTES, apply_receipt
from app.einvoice.models import EInvoiceFile
from app.extensions import db
from app.fab.base import ClientelaBaseView

FILES_SHOWN = 200

STATUS_LABELS = {
    "not_sent": _l("Not sent"),
    "sent": _l("Sent to SdI"),
    "delivered": _l("Delivered"),
    "not_delivered": _l("Not delivered (in the buyer's tax drawer)"),
    "rejected": _l("Rejected by SdI"),
    "accepted": _l("Accepted by the buyer"),
    "refused": _l("Refused by the buyer"),
    "expired": _l("Terms expired"),
}


class EInvoiceView(ClientelaBaseView):
    route_base = "/admin/sdi"
    default_view = "files"
    class_permission_name = "Invoice"
    method_permission_name = {"files": "read", "download": "read", "document_xml": "read", "upload": "write"}

    @expose("/")
    @has_access
    @permission_name("files")
    def files(self):
        rows = db.session.scalars(select(EInvoiceFile).order_by(EInvoiceFile.id.desc()).limit(FILES_SHOWN)).all()
        return self.render_template("admin/sdi.html", files=rows, status_labels=STATUS_LABELS,
                                    enabled=services.enabled(get_company()))

    @expose("/file/<int:pk>")
    @has_access
    @permission_name("download")
    def download(self, pk: int):
        return _xml(db.session.get(EInvoiceFile, pk))

    @expose("/<any(invoice, credit_note):kind>/<int:pk>/xml")
    @has_access
    @permission_name("document_xml")
    def document_xml(self, kind: str, pk: int):
        """The current file of an invoice or credit note (the link on its admin page)."""
        document = db.session.get(services.DOCUMENT_MODELS[kind], pk)
        return _xml(services.current_file(document) if document is not None else None)

    @expose("/receipts", methods=["POST"])
    @has_access
    @permission_name("upload")
    def upload(self):
        upload = request.files.get("receipt")
        content = upload.read(MAX_RECEIPT_BYTES + 1) if upload else b""
        if not content or len(content) > MAX_RECEIPT_BYTES:
            flash(_("Choose the receipt's XML file (at most 1 MB)."), "danger")
            return redirect(url_for("EInvoiceView.files"))
        result = apply_receipt(content)
        if result == "unknown":
            flash(_("This receipt is for a file Clientela did not make."), "danger")
        elif isinstance(result, str):
            flash(result, "danger")
        else:
            db.session.commit()
            flash(_("Receipt imported: the document is now \"%(status)s\".",
                    status=STATUS_LABELS.get(result["sdi_status"], result["sdi_status"])), "success")
        return redirect(url_for("EInvoiceView.files"))


def _xml(file: EInvoiceFile | None):
    if file is None:
        abort(404)
    return send_file(BytesIO(file.content), mimetype="application/xml", download_name=file.file_name,
                     as_attachment=True)


def sdi_status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))


def register(appbuilder) -> None:
    current_app.add_template_global(sdi_status_label)
    appbuilder.add_view(EInvoiceView, "SdI", label=_l("E-invoices (SdI)"), icon="fa-exchange", category="")
