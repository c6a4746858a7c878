"""JSON shapes of /api/v1/product/: the price and rate as decimal strings ("120.50", "22.00").

Input values are passed on untouched to `clean_product`, which names each error's field.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from marshmallow import Schema, fields

from app.rest import ApiSchema, text

# Described as strings: apispec would call a Decimal field a number.
AS_DECIMAL_STRING = {"places": 2, "as_string": True, "metadata": {"type": "string", "format": "decimal"}}


class ProductSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    description = fields.String()
    unit = fields.String()
    unit_price = fields.Decimal(**AS_DECIMAL_STRING)
    tax_rate = fields.Decimal(**AS_DECIMAL_STRING)
    vat_nature = fields.String()
    archived = fields.Boolean()


class ProductInputSchema(ApiSchema):
    """The body of POST and PUT: every key optional in the shape (PUT changes what it names);
    `clean_product` requires the name and checks the numbers."""

    name = text()
    description = text()
    unit = text()
    unit_price = fields.Raw()
    tax_rate = fields.Raw()
    vat_nature = text()
    archived = fields.Boolean(error_messages={"invalid": _l("Must be true or false.")})
