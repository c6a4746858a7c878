"""JSON shapes of the client API (/api/v1/client/): what it answers and what it accepts.

Output schemas follow DESIGN.md's public contract. Input schemas check types and structure
only; the client's own rules (VAT number, codice fiscale, postal code …) stay in
`app.clients.validation.clean_client_fields`, which the API calls after loading.
"""
from __future__ import annotations

from typing import Any

from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields, post_load, validates

from app.clients.services import CLIENT_FIELDS  # noqa: F401  (the API's field list, named here too)
from app.rest import ApiSchema, text

# The client's own fields, in the order of the public contract (contacts come separately).


class ContactSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    email = fields.String()
    phone = fields.String()
    is_primary = fields.Boolean()


class ClientSchema(Schema):
    """A client as the API answers it: read, list, and the result of every write."""

    id = fields.Integer()
    name = fields.String()
    kind = fields.String()
    email = fields.String()
    phone = fields.String()
    address = fields.String()
    city = fields.String()
    province = fields.String()
    postal_code = fields.String()
    country = fields.String()
    vat_number = fields.String()
    tax_code = fields.String()
    sdi_code = fields.String()
    pec = fields.String()
    language = fields.String()
    currency = fields.String()
    notes = fields.String()
    split_payment = fields.Boolean()
    withholding_agent = fields.Boolean()
    archived = fields.Boolean()
    contacts = fields.List(fields.Nested(ContactSchema))


class ContactInputSchema(ApiSchema):
    """A contact in a write: with `id` it updates that contact of the client, without it adds one."""

    id = fields.Integer(load_default=None, error_messages={"invalid": _l("Must be a whole number.")})
    name = text(max_length=200, required=True)
    email = text(max_length=200, required=True)
    phone = text(max_length=50, load_default="")
    is_primary = fields.Boolean(load_default=False, error_messages={"invalid": _l("Must be true or false.")})

    @post_load
    def normalize(self, data: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
        errors = {}
        data["name"] = data["name"].strip()
        if not data["name"]:
            errors["name"] = [_l("The name is required.")]
        try:
            data["email"] = validate_email(data["email"].strip(), check_deliverability=False).normalized
        except EmailNotValidError:
            errors["email"] = [_l("This is not a valid email address.")]
        if errors:
            raise ValidationError(errors)
        data["phone"] = data["phone"].strip()
        return data


class ClientInputSchema(ApiSchema):
    """The body of POST and PUT /api/v1/client/: every field optional in the shape.

    Whether a field is required depends on the others (an Italian business needs a VAT
    number, an individual a codice fiscale); `clean_client_fields` decides that.
    """

    name = text(max_length=200)
    kind = text()
    email = text(max_length=200)
    phone = text(max_length=50)
    address = text(max_length=200)
    city = text(max_length=100)
    province = text()
    postal_code = text()
    country = text()
    vat_number = text(max_length=30)
    tax_code = text(max_length=30)
    sdi_code = text()
    pec = text(max_length=200)
    language = text()
    currency = text()
    notes = text()
    split_payment = fields.Boolean(error_messages={"invalid": _l("Must be true or false.")})
    withholding_agent = fields.Boolean(error_messages={"invalid": _l("Must be true or false.")})
    archived = fields.Boolean(error_messages={"invalid": _l("Must be true or false.")})
    contacts = fields.List(fields.Nested(ContactInputSchema), error_messages={"invalid": _l("Must be a list.")})

    @validates("contacts")
    def one_primary_contact(self, contacts: list[dict[str, Any]], **_kwargs: Any) -> None:
        if not contacts:
            raise ValidationError(_l("A client needs at least one contact."))
        if sum(1 for contact in contacts if contact["is_primary"]) > 1:
            raise ValidationError(_l("Only one contact can be the primary contact."))

    @post_load
    def first_contact_is_primary_by_default(self, data: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
        contacts = data.get("contacts")
        if contacts and not any(contact["is_primary"] for contact in contacts):
            contacts[0]["is_primary"] = True
        return data


# How every Clientela API describes itself in /api/v1/_openapi. FAB generates most of it; these
# are the corrections where our answers differ from FAB's defaults, merged in with FAB's own
# `responses` and `openapi_spec_methods`.


