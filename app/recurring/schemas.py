"""JSON shapes of /api/v1/recurring-invoice/: line templates nested, dates ISO, money as
decimal strings; a template value left empty is null (the product fills it at each invoice).
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from marshmallow import Schema, fields

from app.billing.schemas import DATE_ERRORS, INTEGER_ERRORS, LineInputSchema, LineSchema
from app.rest import ApiSchema, text

BOOLEAN_ERRORS = {"invalid": _l("Must be true or false.")}


class TemplateLineSchema(LineSchema):
    """An invoice line's shape, without an amount (the price may come from the product)."""

    class Meta:
        exclude = ("amount",)


class RecurringInvoiceSchema(Schema):
    id = fields.Integer()
    client_id = fields.Integer()
    frequency = fields.String()
    start_date = fields.Date()
    end_date = fields.Date(allow_none=True)
    auto_send = fields.Boolean()
    next_date = fields.Date()
    last_invoice_id = fields.Integer(allow_none=True)
    active = fields.Boolean()
    status = fields.String()  # active, paused or ended (past its end date)
    notes = fields.String()
    lines = fields.List(fields.Nested(TemplateLineSchema))


class RecurringInvoiceInputSchema(ApiSchema):
    """PUT: every key optional; `lines`, when present, replaces all templates. `active`
    pauses (false) or resumes (true); next_date and last_invoice_id are read-only."""

    frequency = text()
    start_date = fields.Date(error_messages=DATE_ERRORS)
    end_date = fields.Date(allow_none=True, error_messages=DATE_ERRORS)
    auto_send = fields.Boolean(error_messages=BOOLEAN_ERRORS)
    active = fields.Boolean(error_messages=BOOLEAN_ERRORS)
    notes = text()
    lines = fields.List(fields.Nested(LineInputSchema), error_messages={"invalid": _l("Must be a list.")})


class RecurringInvoicePostSchema(RecurringInvoiceInputSchema):
    client_id = fields.Integer(strict=True, required=True, error_messages=INTEGER_ERRORS)
    start_date = fields.Date(required=True, error_messages=DATE_ERRORS)
    lines = fields.List(fields.Nested(LineInputSchema), required=True,
                        error_messages={"invalid": _l("Must be a list."), "required": _l("This field is required.")})
