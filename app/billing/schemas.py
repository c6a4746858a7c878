"""JSON shapes of the invoice and quote API: what it answers and what it accepts.

Money is a decimal string with two places ("464.21"), quantities three, rates two; dates
are ISO. Input line values are passed on untouched: the billing rules
(`app.billing.services.clean_line`) check them and name errors "lines.0.quantity".
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from marshmallow import Schema, fields

from app.billing.models import PaymentMethod
from app.rest import REQUIRED, ApiSchema, text

DATE_ERRORS = {**REQUIRED, "invalid": _l("Not a valid date: use YYYY-MM-DD.")}
INTEGER_ERRORS = {**REQUIRED, "invalid": _l("Must be a whole number.")}


def decimal(places: int) -> fields.Decimal:
    """A decimal answered as a string; described so too (apispec would say "number")."""
    return fields.Decimal(places=places, as_string=True, metadata={"type": "string", "format": "decimal"})


def money() -> fields.Decimal:
    return decimal(2)


class LineSchema(Schema):
    product_id = fields.Integer(allow_none=True)
    description = fields.String()
    quantity = decimal(3)
    unit_price = money()
    discount = decimal(2)
    tax_rate = decimal(2)
    vat_nature = fields.String()
    vat_nature_reference = fields.String()
    amount = money()


class SdiErrorSchema(Schema):
    code = fields.String()
    description = fields.String()


class DocumentSchema(Schema):
    """What invoices and quotes share."""

    id = fields.Integer()
    number = fields.String(allow_none=True)
    client_id = fields.Integer()
    status = fields.String()
    issue_date = fields.Date()
    currency = fields.String()
    lines = fields.List(fields.Nested(LineSchema))
    subtotal = money()
    tax_total = money()
    total = money()
    notes = fields.String()
    terms = fields.String()


class TaxedDocumentSchema(DocumentSchema):
    """Invoices and credit notes: the Italian tax blocks fixed at finalization, and SdI's state."""

    document_type = fields.String(dump_only=True)
    withholding_rate = decimal(2)
    withholding_type = fields.String()
    withholding_reason = fields.String()
    withholding_amount = money()
    pension_fund_type = fields.String()
    pension_fund_rate = decimal(2)
    pension_fund_tax_rate = decimal(2)
    pension_fund_amount = money()
    stamp_duty_amount = money()
    stamp_duty_charged = fields.Boolean()
    split_payment = fields.Boolean()
    net_to_pay = money()
    sdi_status = fields.String()
    sdi_file_name = fields.String()
    sdi_errors = fields.List(fields.Nested(SdiErrorSchema))


class InvoiceSchema(TaxedDocumentSchema):
    due_date = fields.Date()
    amount_paid = money()
    amount_credited = money()
    balance = money()
    # Derived from the due date, never stored: an open invoice past due.
    overdue = fields.Method("_is_overdue", metadata={"type": "boolean"})

    def _is_overdue(self, invoice) -> bool:
        return invoice.is_overdue()


class QuoteSchema(DocumentSchema):
    valid_until = fields.Date()


class CreditNoteSchema(TaxedDocumentSchema):
    invoice_id = fields.Integer()
    reason = fields.String()


class PaymentSchema(Schema):
    id = fields.Integer()
    invoice_id = fields.Integer()
    amount = money()
    method = fields.String()
    date = fields.Date()
    reference = fields.String()


class LineInputSchema(ApiSchema):
    """A line's keys are checked here; its values by the billing rules."""

    product_id = fields.Raw()
    description = fields.Raw()
    quantity = fields.Raw()
    unit_price = fields.Raw()
    discount = fields.Raw()
    tax_rate = fields.Raw()
    vat_nature = fields.Raw()
    vat_nature_reference = fields.Raw()


class DocumentInputSchema(ApiSchema):
    """The body of PUT: every key optional; `lines`, when present, replaces all lines."""

    client_id = fields.Integer(strict=True, error_messages=INTEGER_ERRORS)
    issue_date = fields.Date(error_messages=DATE_ERRORS)
    notes = text()
    terms = text()
    lines = fields.List(fields.Nested(LineInputSchema), error_messages={"invalid": _l("Must be a list.")})


class InvoiceInputSchema(DocumentInputSchema):
    due_date = fields.Date(error_messages=DATE_ERRORS)


class InvoicePostSchema(InvoiceInputSchema):
    client_id = fields.Integer(strict=True, required=True, error_messages=INTEGER_ERRORS)


class QuoteInputSchema(DocumentInputSchema):
    valid_until = fields.Date(error_messages=DATE_ERRORS)


class QuotePostSchema(QuoteInputSchema):
    client_id = fields.Integer(strict=True, required=True, error_messages=INTEGER_ERRORS)


class PaymentInputSchema(ApiSchema):
    """The body of POST /api/v1/invoice/<id>/payment; the amount is checked by `record_payment`."""

    amount = fields.Raw(required=True, error_messages=REQUIRED)
    method = fields.String(load_default=PaymentMethod.BANK_TRANSFER.value, error_messages=REQUIRED)
    date = fields.Date(load_default=None, error_messages=DATE_ERRORS)
    reference = text(load_default="")


class CreditNotePostSchema(ApiSchema):
    """The body of POST /api/v1/invoice/<id>/credit-note: why, and optionally which lines
    (by default every line of the invoice not yet credited)."""

    reason = text(required=True)
    issue_date = fields.Date(load_default=None, error_messages=DATE_ERRORS)
    lines = fields.List(fields.Nested(LineInputSchema), load_default=None,
                        error_messages={"invalid": _l("Must be a list.")})


class CreditNoteInputSchema(ApiSchema):
    """The body of PUT /api/v1/credit-note/<id> (a draft): every key optional."""

    reason = text()
    issue_date = fields.Date(error_messages=DATE_ERRORS)
    notes = text()
    lines = fields.List(fields.Nested(LineInputSchema), error_messages={"invalid": _l("Must be a list.")})
