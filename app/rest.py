"""What every Clientela REST API shares: messages in the caller's language, JSON bodies read
with exact decimals, refusals as 422 under the fields they concern, and the corrections to
FAB's generated OpenAPI descriptions where our answers differ from its defaults.

A kernel module (docs/development.md, "Layers"): each capability's API imports it.
"""
from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Mapping

from flask import Response, g, request
from flask_appbuilder.api import BaseApi
from flask_babel import lazy_gettext as _l
from flask_babel import refresh
from marshmallow import Schema, ValidationError, fields, validate
from werkzeug.exceptions import BadRequest

from app.errors import Refusal
from app.extensions import db
from app.i18n import SUPPORTED_LANGUAGES
from app.security.limits import MAX_ID

REQUIRED = {"required": _l("This field is required."), "null": _l("This field cannot be empty.")}


def text(max_length: int | None = None, **kwargs: Any) -> fields.String:
    """A text field; `max_length` is the column's size (longer text would fail at PostgreSQL)."""
    if max_length is not None:
        kwargs["validate"] = validate.Length(max=max_length, error=_l("At most {max} characters."))
    return fields.String(error_messages={**REQUIRED, "invalid": _l("Must be text.")}, **kwargs)


def use_accept_language() -> None:
    """API callers choose the language of messages with Accept-Language (it or en).

    Without the header the API speaks the default language (Italian), like the admin. Numbers
    in its messages' examples stay canonical (`120.50`), as the API reads them.
    """
    g.canonical_numbers = True
    language = request.accept_languages.best_match(SUPPORTED_LANGUAGES)
    if language:
        g.language = language
        refresh()  # forget a locale chosen earlier in this context


def json_body() -> dict[str, Any]:
    """The request's JSON object, numbers with a fraction read as exact Decimals (never floats).

    Anything but a JSON object is a 400, which FAB's `@safe` turns into a JSON answer.
    """
    if not request.is_json:
        raise BadRequest("Request is not JSON")
    try:
        body = json.loads(request.get_data(as_text=True), parse_float=Decimal)
    except ValueError:
        raise BadRequest("Request is not valid JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("Request is not a JSON object")
    return body


def refused(api: BaseApi, error: ValidationError | Refusal) -> Response:
    """A refused change: undo whatever it did in this transaction and answer 422 with the
    messages under the names of the fields they concern."""
    db.session.rollback()
    if isinstance(error, ValidationError):
        return api.response_422(message=field_errors(error.messages))
    return api.response_422(message={field: [message] for field, message in error.as_dict().items()})


def field_errors(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """Flatten marshmallow's nested errors into the API's dotted field names.

    `{"contacts": {0: {"email": ["…"]}}}` becomes `{"contacts.0.email": ["…"]}`, the same
    naming the billing rules use for lines ("lines.0.quantity").
    """
    if isinstance(messages, Mapping):
        flat: dict[str, list[str]] = {}
        for key, inner in messages.items():
            for name, errors in field_errors(inner, f"{prefix}.{key}" if prefix else str(key)).items():
                flat.setdefault(name, []).extend(errors)
        return flat
    if isinstance(messages, (list, tuple)):
        return {prefix or "_schema": [str(message) for message in messages]}
    return {prefix or "_schema": [str(messages)]}


class ApiSchema(Schema):
    """Base for input: unknown keys are refused (a typo must not be silently ignored)."""

    error_messages = {"unknown": _l("Unknown field."), "type": _l("Expected a JSON object.")}


# The ids a URL can name: Flask's int converter takes no sign, and ids past MAX_ID are 404.
ID_IN_PATH = {"in": "path", "name": "pk", "required": True,
              "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}}


def _messages(description: str) -> dict[str, Any]:
    """A refusal: one text (a body that is not JSON), or each refused field with its messages."""
    message = {"oneOf": [
        {"type": "string"},
        {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
    ]}
    schema = {"type": "object", "required": ["message"], "properties": {"message": message}}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


# FAB's 400 and 422 describe `message` as one text; ours name the refused fields.
API_RESPONSES = {
    **BaseApi.responses,
    "400_fields": _messages("Refused: a message, or the messages of each refused field"),
    "422_fields": _messages("Refused: the messages of each refused field, named like lines.0.quantity"),
}


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _json(properties: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"type": "object", "properties": properties}}}}


def model_api_descriptions(api_name: str) -> dict[str, Any]:
    """FAB's descriptions of get, get_list, post and put for the ModelRestApi `api_name`,
    corrected to what ours answer: ids are integers, path ids within MAX_ID, and a write
    answers the stored item (the show schema) or the refused fields."""
    item = _ref("schemas", f"{api_name}.get")
    errors = {code: _ref("responses", code) for code in ("400", "401", "404", "422", "500")}
    labels = {"type": "object", "additionalProperties": {"type": "string"}}
    names = {"type": "array", "items": {"type": "string"}}

    def q(schema: str) -> dict[str, Any]:
        return {"in": "query", "name": "q", "content": {"application/json": {"schema": _ref("schemas", schema)}}}

    return {
        "get": {"get": {
            "parameters": [ID_IN_PATH, q("get_item_schema")],
            "responses": {
                "200": _json({"id": {"type": "integer"}, "result": item, "label_columns": labels,
                              "show_columns": names, "description_columns": labels,
                              "show_title": {"type": "string"}}, "The item"),
                **errors,
            },
        }},
        "get_list": {"get": {
            "parameters": [q("get_list_schema")],
            "responses": {
                "200": _json({"ids": {"type": "array", "items": {"type": "integer"}},
                              "count": {"type": "integer"},
                              "result": {"type": "array", "items": _ref("schemas", f"{api_name}.get_list")},
                              "label_columns": labels, "list_columns": names, "order_columns": names,
                              "description_columns": labels, "list_title": {"type": "string"}}, "The items"),
                **{code: errors[code] for code in ("400", "401", "422", "500")},
            },
        }},
        "post": {"post": {"responses": {
            "201": _json({"id": {"type": "integer"}, "result": item}, "The item created"),
            **{code: errors[code] for code in ("400", "401", "500")},
            "422": _ref("responses", "422_fields"),
        }}},
        "put": {"put": {
            "parameters": [ID_IN_PATH],
            "responses": {
                "200": _json({"id": {"type": "integer"}, "result": item}, "The item changed"),
                **{code: errors[code] for code in ("400", "401", "404", "500")},
                "422": _ref("responses", "422_fields"),
            },
        }},
    }


# --- Describing an endpoint for FAB's OpenAPI spec ------------------------------------------
# FAB 5.3.0 reads an endpoint's OpenAPI operation from the YAML after `---` in its docstring
# (BaseApi.operation_helper). `operation` writes that YAML from a few names, so each endpoint
# says what is particular to it (its body, its answer, the refusals it can give) and the
# shapes every endpoint shares are spelled here once.

def response_ref(name: str) -> dict[str, str]:
    """One of the spec's shared responses: FAB's "400", "401", "404", … or ours ("422_fields")."""
    return _ref("responses", name)


def schema_ref(name: str) -> dict[str, str]:
    return _ref("schemas", name)


def result(schema: str | dict[str, Any], with_id: bool = False) -> dict[str, Any]:
    """The JSON answer `{"result": …}` (and the item's `id` when `with_id`), its result being
    the named component schema or an inline one."""
    properties: dict[str, Any] = {"id": {"type": "integer"}} if with_id else {}
    properties["result"] = schema_ref(schema) if isinstance(schema, str) else schema
    return {"application/json": {"schema": {"type": "object", "properties": properties}}}


def binary(mimetype: str) -> dict[str, Any]:
    """A file answer or body: PDF, XML, ZIP, XLSX."""
    return {mimetype: {"schema": {"type": "string", "format": "binary"}}}


def json_object(**properties: str | dict[str, Any]) -> dict[str, Any]:
    """An inline JSON object, each property named with its type or given its schema."""
    schemas = {name: {"type": kind} if isinstance(kind, str) else kind for name, kind in properties.items()}
    return {"application/json": {"schema": {"type": "object", "properties": schemas}}}


def operation(method: str, *, ok: tuple[int, str, dict[str, Any] | None],
              refusals: tuple[str, ...] = ("401", "404"), description: str | None = None,
              body: str | dict[str, Any] | None = None, body_required: bool = True,
              parameters: list[dict[str, Any]] | None = None,
              responses: dict[int, dict[str, Any]] | None = None):
    """Decorate an API handler (innermost, under `@expose`/`@protect`) with its operation.

    `ok` is the success: (status, description, content or None); `refusals` name shared
    responses (the status is the name's number: "422_fields" answers 422); `body` is a
    component schema's name or a content mapping; `responses` adds particular answers."""
    status, ok_description, ok_content = ok
    answers: dict[int, dict[str, Any]] = {status: {"description": ok_description}}
    if ok_content is not None:
        answers[status]["content"] = ok_content
    for name in refusals:
        answers[int(name.split("_")[0])] = response_ref(name)
    answers.update(responses or {})
    spec: dict[str, Any] = {}
    if description:
        spec["description"] = " ".join(description.split())
    if parameters:
        spec["parameters"] = parameters
    if body is not None:
        content = {"application/json": {"schema": schema_ref(body)}} if isinstance(body, str) else body
        spec["requestBody"] = {"content": content, **({"required": True} if body_required else {})}
    spec["responses"] = dict(sorted(answers.items()))

    def decorate(handler):
        import yaml

        summary = (handler.__doc__ or "").strip()
        handler.__doc__ = f"{summary}\n---\n{yaml.safe_dump({method: spec}, sort_keys=False)}"
        return handler
    return decorate
