"""Admin pages: the Outbox (read, resend a failed email), the global email templates
(Settings → Email templates, with a preview on real data) and the per-client templates,
`ClientEmailTemplateView` (their preview; the client page's "Email templates" tab edits them)."""
from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_appbuilder import expose, has_access
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from wtforms import SelectField
from wtforms.validators import DataRequired, ValidationError

from app.billing.models import Invoice, Quote
from app.clients.models import Client
from app.extensions import db
from app.fab.base import ClientelaInterface, ClientelaModelView
from app.i18n import LANGUAGE_CHOICES
from app.mail import outbox, templating
from app.mail.models import (
    CLIENT_KINDS,
    EMAIL_KINDS,
    ERROR_LABELS,
    KIND_LABELS,
    ClientEmailTemplate,
    EmailTemplate,
    OutboxEmail,
    OutboxStatus,
)
from app.mail.sandbox import MAX_BODY_SOURCE, MAX_SUBJECT_SOURCE, PLACEHOLDERS, TemplateRefused, render, sample_values
from app.security.roles import READ_WRITE

class TemplateText:
    """A WTForms validator: the field must be a template the sandbox accepts."""

    def __init__(self, field: str):
        self.field = field

    def __call__(self, _form, field) -> None:
        subject, body = (field.data or "", "") if self.field == "subject" else ("-", field.data or "")
        try:
            render(subject, body, sample_values())
        except TemplateRefused as refused:
            raise ValidationError(str(refused.message)) from None


def email_preview(html: str) -> Markup:
    """The HTML part inside a sandboxed iframe (no scripts, links open in a new tab). The
    document goes in the srcdoc attribute escaped (a plain str to `format`), or its first
    quote would end the attribute and leave the frame blank."""
    return Markup('<iframe sandbox="allow-popups allow-popups-to-escape-sandbox" '
                  'style="width:100%;min-height:420px;border:1px solid #ddd" srcdoc="{}"></iframe>').format(
        '<base target="_blank">' + str(html))


def _document_number(model):
    """An outbox column holding a document's id, shown as the document's number ("bozza" while
    it has none), or nothing when the email concerns no document."""
    def number(document_id: int | None) -> str:
        if document_id is None:
            return ""
        document = db.session.get(model, document_id)
        if document is None:
            return _("deleted")
        return document.number or _("draft")
    return number


_TEMPLATE_VALIDATORS = {"subject": [DataRequired(), TemplateText("subject")],
                        "body": [DataRequired(), TemplateText("body")]}
_TEMPLATE_DESCRIPTIONS = {"subject": _l("One line, at most %(max)d characters.", max=MAX_SUBJECT_SOURCE),
                          "body": _l("At most %(max)d characters. Placeholders: %(names)s. Also allowed: "
                                     "{%% if %%} blocks and the filters upper, lower, title, capitalize, trim, "
                                     "default, truncate.", max=MAX_BODY_SOURCE,
                                     names=", ".join(f"{{{{ {name} }}}}" for name in PLACEHOLDERS))}


class OutboxView(ClientelaModelView):
    datamodel = ClientelaInterface(OutboxEmail)
    class_permission_name = "Outbox"
    method_permission_name = {"list": "read", "show": "read", "resend": "write"}
    base_permissions = ["can_read", "can_write"]
    list_title = _l("Outbox")
    show_title = _l("Email")
    list_columns = ["created_at", "status_label", "kind_label", "to_email", "subject", "client"]
    show_columns = ["status_label", "error", "kind_label", "sender", "to_email", "subject", "client", "invoice_id",
                    "quote_id", "attachment_names", "attempts", "created_at", "sent_at"]
    search_columns = ["status", "kind", "to_email", "subject"]
    order_columns = ["created_at", "to_email", "subject"]
    base_order = ("created_at", "desc")
    label_columns = {
        "created_at": _l("Created"), "status_label": _l("Status"), "kind_label": _l("Kind"),
        "to_email": _l("To"), "subject": _l("Subject"), "client": _l("Client"), "error": _l("Error"),
        "sender": _l("From"), "invoice_id": _l("Invoice"), "quote_id": _l("Quote"),
        "attachment_names": _l("Attachments"), "attempts": _l("Attempts"), "sent_at": _l("Sent"),
        "status": _l("Status"), "kind": _l("Kind"),
    }
    formatters_columns = {"invoice_id": _document_number(Invoice), "quote_id": _document_number(Quote),
                          "error": lambda error: ERROR_LABELS.get(error, error)}
    show_template = "email/outbox_show.html"

    @expose("/resend/<int:pk>", methods=["POST"])
    @has_access
    def resend(self, pk: int):
        email = db.session.get(OutboxEmail, pk) or abort(404)
        if outbox.resend(email):
            db.session.commit()
            flash(_("The email is queued to be sent again."), "success")
        else:
            flash(_("Only a failed email can be sent again."), "warning")
        return redirect(url_for(".show", pk=pk))

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        email = db.session.get(OutboxEmail, int(pk)) if str(pk).isdigit() else None
        if email is None:
            abort(404)
        widgets = self._get_show_widget(pk, email)
        self.update_redirect()
        return self.render_template(self.show_template, pk=pk, title=self.show_title, widgets=widgets,
                                    email=email, preview=email_preview(email.body_html),
                                    can_resend=email.status in (OutboxStatus.FAILED.value,
                                                                OutboxStatus.NOT_CONFIGURED.value))


class EmailTemplateView(ClientelaModelView):
    """Settings → Email templates: the company-wide template of each kind and language."""

    datamodel = SQLAInterface(EmailTemplate)
    class_permission_name = "EmailTemplate"
    method_permission_name = {**READ_WRITE, "preview": "read"}
    base_permissions = ["can_read", "can_write"]
    list_title = _l("Email templates")
    show_title = _l("Email template")
    add_title = _l("New email template")
    edit_title = _l("Edit email template")
    add_row_message = _l("Email template saved.")
    edit_row_message = _l("Email template saved.")
    delete_row_message = _l("Email template deleted: the built-in text applies again.")
    list_columns = ["kind", "language", "subject", "updated_at"]
    show_columns = ["kind", "language", "subject", "body", "updated_at"]
    edit_columns = ["subject", "body"]
    add_columns = ["kind", "language", "subject", "body"]
    order_columns = ["kind", "language"]
    base_order = ("kind", "asc")
    label_columns = {"kind": _l("Kind"), "language": _l("Language"), "subject": _l("Subject"), "body": _l("Body"),
                     "updated_at": _l("Updated")}
    validators_columns = _TEMPLATE_VALIDATORS
    description_columns = _TEMPLATE_DESCRIPTIONS
    formatters_columns = {"kind": lambda kind: KIND_LABELS.get(kind, kind)}
    add_form_extra_fields = {
        "kind": SelectField(_l("Kind"), choices=[(kind, KIND_LABELS[kind]) for kind in EMAIL_KINDS],
                            validators=[DataRequired()]),
        "language": SelectField(_l("Language"), choices=LANGUAGE_CHOICES, validators=[DataRequired()]),
    }
    show_template = "email/template_show.html"

    @expose("/list/")
    @has_access
    def list(self):
        # The built-in templates become rows the first time anyone opens the page.
        if templating.ensure_global_templates():
            db.session.commit()
        return super().list()

    def post_update(self, item) -> None:
        db.session.commit()

    @expose("/preview/<int:pk>")
    @has_access
    def preview(self, pk: int):
        row = db.session.get(EmailTemplate, pk) or abort(404)
        client = db.session.get(Client, request.args.get("client_id", type=int) or 0)
        rendered = templating.preview(row.kind, row.subject, row.body, client, row.language)
        return self.render_template("email/preview.html", title=_("Preview"), rendered=rendered,
                                    frame=email_preview(rendered.html), back=url_for(".show", pk=pk))


class ClientEmailTemplateView(ClientelaModelView):
    """A client's own templates ("Modelli email" tab): each replaces the global one of its kind."""

    datamodel = SQLAInterface(ClientEmailTemplate)
    class_permission_name = "Client"
    method_permission_name = {**READ_WRITE, "preview": "read"}
    list_title = _l("Email templates")
    show_title = _l("Client's email template")
    add_title = _l("New email template for the client")
    edit_title = _l("Edit the client's email template")
    add_row_message = _l("The client's email template is saved.")
    edit_row_message = _l("The client's email template is saved.")
    delete_row_message = _l("The client's email template is deleted: the company's applies again.")
    list_columns = ["kind", "subject", "updated_at"]
    show_columns = ["client", "kind", "subject", "body", "updated_at"]
    add_columns = ["client", "kind", "subject", "body"]
    edit_columns = ["kind", "subject", "body"]
    label_columns = {"client": _l("Client"), "kind": _l("Kind"), "subject": _l("Subject"), "body": _l("Body"),
                     "updated_at": _l("Updated")}
    validators_columns = _TEMPLATE_VALIDATORS
    description_columns = _TEMPLATE_DESCRIPTIONS
    formatters_columns = {"kind": lambda kind: KIND_LABELS.get(kind, kind)}
    add_form_extra_fields = edit_form_extra_fields = {
        "kind": SelectField(_l("Kind"), choices=[(kind, KIND_LABELS[kind]) for kind in CLIENT_KINDS],
                            validators=[DataRequired()]),
    }
    show_template = "email/template_show.html"

    @expose("/preview/<int:pk>")
    @has_access
    def preview(self, pk: int):
        row = db.session.get(ClientEmailTemplate, pk) or abort(404)
        rendered = templating.preview(row.kind, row.subject, row.body, row.client)
        return self.render_template("email/preview.html", title=_("Preview"), rendered=rendered,
                                    frame=email_preview(rendered.html), back=url_for(".show", pk=pk))


def register(appbuilder) -> None:
    appbuilder.add_view(OutboxView, "Outbox", label=_l("Outbox"), icon="fa-envelope", category="")
    appbuilder.add_view(EmailTemplateView, "Email templates", label=_l("Email templates"), icon="fa-envelope-o",
                        category="Settings", category_label=_l("Settings"))
    appbuilder.add_view_no_menu(ClientEmailTemplateView)
