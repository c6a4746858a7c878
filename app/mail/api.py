"""REST API for email templates (JWT only, like every Clientela API).

- `GET|PUT /api/v1/email-template/<kind>`: the global template of a kind, per language
  (permission "EmailTemplate").
- `GET|PUT|DELETE /api/v1/client/<id>/email-template/<kind>`: a client's override
  (permission "Client": whoever may edit a client may edit its emails). DELETE goes back to
  the global template.
A refused template answers 400 with a message on its field (`subject`, `body`, `kind`).
"""
from __future__ import annotations

from typing import Callable

from flask import request
from flask_appbuilder.api import BaseApi, expose, protect, safe
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, fields

from app.clients.models import Client
from app.extensions import db
from app.fab.base import ClientelaBaseApi
from app.mail import templating
from app.mail.models import CLIENT_KINDS, EMAIL_KINDS
from app.mail.sandbox import TemplateRefused
from app.rest import API_RESPONSES, ID_IN_PATH, json_object, operation, result
from app.security.roles import READ_WRITE

LANGUAGES = ("it", "en")


class TemplateTextSchema(Schema):
    subject = fields.String()
    body = fields.String()
    customized = fields.Boolean()


class GlobalTemplateSchema(Schema):
    """The answer of /api/v1/email-template/<kind>: the template in each language."""

    kind = fields.String()
    languages = fields.Dict(keys=fields.String(), values=fields.Nested(TemplateTextSchema))


class ClientTemplateSchema(Schema):
    """The answer of /api/v1/client/<id>/email-template/<kind>: the template its emails use."""

    client_id = fields.Integer()
    kind = fields.String()
    subject = fields.String()
    body = fields.String()
    overridden = fields.Boolean()


def _kind_in_path(kinds: tuple[str, ...]) -> dict:
    return {"in": "path", "name": "kind", "required": True, "schema": {"type": "string", "enum": list(kinds)}}


# Path parameters are described here, from the kinds themselves; answers in each docstring.
GLOBAL_PARAMETERS = {"parameters": [_kind_in_path(EMAIL_KINDS)]}
CLIENT_PARAMETERS = {"parameters": [ID_IN_PATH, _kind_in_path(CLIENT_KINDS)]}


def _save(api: BaseApi, save: Callable[[dict, str, str], None], result: Callable[[], dict]):
    """A PUT of a template: check the JSON body's subject and body, `save(body, subject, text)`,
    and answer `result()`; a template the sandbox refuses answers 400 at its field."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return api.response_400(message="Request is not a JSON object")
    errors = {name: [str(_l("A text is required."))] for name in ("subject", "body")
              if not isinstance(body.get(name), str)}
    if errors:
        return api.response_400(message=errors)
    try:
        save(body, body["subject"], body["body"])
    except TemplateRefused as refused:
        db.session.rollback()
        return api.response_400(message={refused.field: [str(refused.message)]})
    db.session.commit()
    return api.response(200, result=result())


class EmailTemplateApi(ClientelaBaseApi):
    resource_name = "email-template"
    class_permission_name = "EmailTemplate"
    method_permission_name = READ_WRITE
    openapi_spec_tag = "Email templates"
    responses = API_RESPONSES
    openapi_spec_component_schemas = (GlobalTemplateSchema,)
    openapi_spec_methods = {"get": {"get": GLOBAL_PARAMETERS}, "put": {"put": GLOBAL_PARAMETERS}}

    def _result(self, kind: str) -> dict:
        languages = {}
        for language in LANGUAGES:
            subject, body, customized = templating.global_template(kind, language)
            languages[language] = {"subject": subject, "body": body, "customized": customized}
        return {"kind": kind, "languages": languages}

    @expose("/<kind>", methods=["GET"])
    @protect()
    @safe
    @operation("get", ok=(200, "The template per language", result("GlobalTemplateSchema")), refusals=("404",))
    def get(self, kind: str):
        """The global template of `kind`, in Italian and English."""
        if kind not in EMAIL_KINDS:
            return self.response_404()
        return self.response(200, result=self._result(kind))

    @expose("/<kind>", methods=["PUT"])
    @protect()
    @safe
    @operation("put", body=json_object(language="string", subject="string", body="string"), body_required=False,
               ok=(200, "The template per language", result("GlobalTemplateSchema")), refusals=("400_fields", "404"))
    def put(self, kind: str):
        """Change the global template of `kind` in one language."""
        if kind not in EMAIL_KINDS:
            return self.response_404()
        return _save(self, lambda body, subject, text: templating.save_global_template(
            kind, str(body.get("language", "it")), subject, text), lambda: self._result(kind))


class ClientEmailTemplateApi(ClientelaBaseApi):
    resource_name = "client"
    class_permission_name = "Client"
    method_permission_name = {"get_client_template": "read", "put_client_template": "write",
                              "delete_client_template": "write"}
    openapi_spec_tag = "Email templates"
    responses = API_RESPONSES
    openapi_spec_component_schemas = (ClientTemplateSchema,)
    openapi_spec_methods = {"get_client_template": {"get": CLIENT_PARAMETERS},
                            "put_client_template": {"put": CLIENT_PARAMETERS},
                            "delete_client_template": {"delete": CLIENT_PARAMETERS}}

    def _result(self, client: Client, kind: str) -> dict:
        subject, body, source = templating.template_for(kind, client, client.language)
        return {"client_id": client.id, "kind": kind, "subject": subject, "body": body, "overridden": source == "client"}

    def _client(self, pk: int, kind: str) -> Client | None:
        return db.session.get(Client, pk) if kind in CLIENT_KINDS else None

    @expose("/<int:pk>/email-template/<kind>", methods=["GET"])
    @protect()
    @safe
    @operation("get", ok=(200, "The effective template", result("ClientTemplateSchema")), refusals=("404",))
    def get_client_template(self, pk: int, kind: str):
        """The template this client's emails of `kind` use (its override, or the global one)."""
        client = self._client(pk, kind)
        if client is None:
            return self.response_404()
        return self.response(200, result=self._result(client, kind))

    @expose("/<int:pk>/email-template/<kind>", methods=["PUT"])
    @protect()
    @safe
    @operation("put", body=json_object(subject="string", body="string"), body_required=False,
               ok=(200, "The override", result("ClientTemplateSchema")), refusals=("400_fields", "404"))
    def put_client_template(self, pk: int, kind: str):
        """Set this client's own subject and body for `kind`; the global template is then ignored."""
        client = self._client(pk, kind)
        if client is None:
            return self.response_404()
        return _save(self, lambda _body, subject, text: templating.save_client_template(client, kind, subject, text),
                     lambda: self._result(client, kind))

    @expose("/<int:pk>/email-template/<kind>", methods=["DELETE"])
    @protect()
    @safe
    @operation("delete", ok=(200, "The effective (global) template", result("ClientTemplateSchema")),
               refusals=("404",))
    def delete_client_template(self, pk: int, kind: str):
        """Drop this client's override: its emails of `kind` use the global template again."""
        client = self._client(pk, kind)
        if client is None:
            return self.response_404()
        templating.reset_client_template(client, kind)
        db.session.commit()
        return self.response(200, result=self._result(client, kind))


def register(appbuilder) -> None:
    appbuilder.add_api(EmailTemplateApi)
    appbuilder.add_api(ClientEmailTemplateApi)
