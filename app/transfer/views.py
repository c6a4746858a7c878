"""The admin's doors to the transfer rules: the client import page and the export links.

The import page is a preview first: the uploaded file is checked as a dry run and its report
shown; with no error, the same bytes travel back in the confirmation form (a node keeps no
state between the two requests) and are checked again as they are imported. CSRF-protected
like every admin form, and limited to MAX_IMPORT_BYTES.
"""
from __future__ import annotations

import base64
import binascii

from flask import flash, redirect, request, url_for
from flask_appbuilder import expose, has_access
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import FileField, HiddenField
from wtforms.validators import InputRequired

from app.errors import Refusal
from app.extensions import db
from app.fab.base import ClientelaBaseView
from app.transfer import exports
from app.transfer.api import download
from app.transfer.imports import COLUMNS, FILE_FIELD, MAX_IMPORT_BYTES, ImportReport, import_file


class UploadForm(FlaskForm):
    file = FileField(_l("CSV or XLSX file"), validators=[InputRequired(message=_l("Choose a file to import."))])


class ConfirmForm(FlaskForm):
    content = HiddenField(validators=[InputRequired()])


class ImportClientsView(ClientelaBaseView):
    route_base = "/import/clients"
    default_view = "upload"
    class_permission_name = "Client"
    method_permission_name = {"upload": "write", "confirm": "write"}

    @expose("/", methods=["GET", "POST"])
    @has_access
    def upload(self):
        """Choose a file; on POST, its dry-run report (and, with no error, the import button)."""
        form = UploadForm()
        report, content = None, b""
        if form.validate_on_submit():
            content = form.file.data.read(MAX_IMPORT_BYTES + 1)
            report = import_file(content, dry_run=True)
            db.session.rollback()
        return self._page(form, report, content, 400 if report is not None and not report.ok else 200)

    @expose("/confirm", methods=["POST"])
    @has_access
    def confirm(self):
        """Import the previewed file: checked again, all of it or nothing."""
        form = ConfirmForm()
        if not form.validate_on_submit():
            flash(_("The import form expired: choose the file again."), "warning")
            return redirect(url_for("ImportClientsView.upload"))
        try:
            content = base64.b64decode(form.content.data, validate=True)
        except (binascii.Error, ValueError):
            content = b""
        report = import_file(content, dry_run=False)
        if not report.ok:
            db.session.rollback()
            return self._page(UploadForm(formdata=None), report, b"", 400)
        db.session.commit()
        flash(_("Import done: %(created)d clients created, %(updated)d updated.",
                created=report.created, updated=report.updated), "success")
        return redirect(url_for("ClientView.list"))

    def _page(self, form: UploadForm, report: ImportReport | None, content: bytes, status: int):
        confirm = None
        if report is not None and report.ok:
            confirm = ConfirmForm(formdata=None, content=base64.b64encode(content).decode("ascii"))
        return self.render_template("admin/import_clients.html", form=form, report=report, confirm=confirm,
                                    columns=COLUMNS, file_field=FILE_FIELD, title=_("Import clients"),
                                    max_megabytes=MAX_IMPORT_BYTES // (1024 * 1024)), status


class _ExportView(ClientelaBaseView):
    """One export for the admin's list pages; subclasses name it and the permission it needs."""

    route_base = "/exports"
    export_name = ""
    method_permission_name = {"download": "read"}

    def answer(self):
        export = exports.EXPORTS[self.export_name]
        try:
            start, end = exports.parse_bounds(request.args.get("from"), request.args.get("to"))
        except Refusal as refusal:
            flash(str(refusal.message), "danger")
            return redirect(request.referrer or url_for("ClientView.list"))
        return download(export, start, end, "xlsx" if request.args.get("format") == "xlsx" else "csv")


class ClientExportView(_ExportView):
    class_permission_name = "Client"
    export_name = "clients"

    @expose("/clients")
    @has_access
    def download(self):
        return self.answer()


class InvoiceExportView(_ExportView):
    class_permission_name = "Invoice"
    export_name = "invoices"

    @expose("/invoices")
    @has_access
    def download(self):
        return self.answer()


class PaymentExportView(_ExportView):
    class_permission_name = "Payment"
    export_name = "payments"

    @expose("/payments")
    @has_access
    def download(self):
        return self.answer()


def register(appbuilder) -> None:
    for view in (ImportClientsView, ClientExportView, InvoiceExportView, PaymentExportView):
        appbuilder.add_view_no_menu(view)
