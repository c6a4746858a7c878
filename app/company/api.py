"""REST API for the company settings: GET|PUT /api/v1/company/ (Admin only, like the page).

A PUT changes only the fields it names; every field is checked first (the same rules as the
settings page: tax IDs, IBAN, numbering formats, the e-invoicing settings of
`clean_tax_settings`) and any error is a 422 naming the field, with nothing changed.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask_appbuilder.api import expose, protect, safe
from flask_appbuilder.hooks import before_request
from flask_babel import lazy_gettext as _l

from app.company.models import CompanySettings
from app.company.services import (
    TAX_SETTING_FIELDS,
    check_number_format,
    clean_iban,
    clean_tax_settings,
    get_company,
)
from app.extensions import db
from app.fab.base import ClientelaBaseApi
from app.i18n import SUPPORTED_LANGUAGES
from app.money import to_decimal
from app.rest import API_RESPONSES, json_body, operation, result, use_accept_language
from app.security.roles import READ_WRITE
from app.taxids import clean_tax_code, clean_vat_number

# Text fields and their column sizes.
TEXT_FIELDS = {
    "legal_name": 200, "address": 200, "city": 100, "province": 50, "postal_code": 20, "bank_name": 100,
    "phone": 50, "website": 200, "email": 200, "sender_email": 200, "support_email": 200, "default_terms": 20000,
}
NUMBER_FORMATS = ("invoice_number_format", "quote_number_format", "credit_note_number_format")
FIELDS = (
    "legal_name", "address", "city", "province", "postal_code", "country", "vat_number", "tax_code", "iban",
    "bank_name", "email", "phone", "website", "currency", "default_tax_rate", "payment_terms_days",
    "quote_validity_days", *NUMBER_FORMATS, "locale", "sender_email", "support_email", "default_terms",
    *TAX_SETTING_FIELDS,
)
MONEY_LIKE = ("default_tax_rate", "withholding_rate", "pension_fund_rate", "pension_fund_tax_rate")


def settings_json(company: CompanySettings) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name in FIELDS:
        value = getattr(company, name)
        result[name] = f"{value:.2f}" if isinstance(value, Decimal) else value
    result["has_logo"] = company.logo_mime != ""
    return result


def clean_settings(data: dict[str, Any], company: CompanySettings) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The named fields checked and normalized; errors per field."""
    errors: dict[str, object] = {name: _l("Unknown field.") for name in data if name not in FIELDS}
    values, tax_errors = clean_tax_settings({k: v for k, v in data.items() if k in TAX_SETTING_FIELDS})
    errors.update(tax_errors)
    country = str(data.get("country", company.country) or "IT").strip().upper()
    for name, size in TEXT_FIELDS.items():
        if name in data:
            if not isinstance(data[name], str):
                errors[name] = _l("Must be text.")
            elif len(data[name].strip()) > size:
                errors[name] = _l("At most %(n)d characters.", n=size)
            else:
                values[name] = data[name].strip()
    if "legal_name" in values and not values["legal_name"]:
        errors["legal_name"] = _l("The name is required.")
    if "country" in data:
        if len(country) != 2 or not country.isalpha():
            errors["country"] = _l("Use the two-letter ISO country code (for example IT).")
        values["country"] = country
    cleaners = {
        "vat_number": lambda value: clean_vat_number(value, country),
        "tax_code": lambda value: clean_tax_code(value, country),
        "iban": clean_iban,
        **{name: check_number_format for name in NUMBER_FORMATS},
    }
    for name, clean in cleaners.items():
        if name in data:
            try:
                values[name] = clean(str(data[name] or ""))
            except ValueError as error:
                errors[name] = error.args[0]
    if "currency" in data:
        currency = str(data["currency"] or "").strip().upper()
        if len(currency) != 3 or not currency.isalpha():
            errors["currency"] = _l("Use a three-letter currency code (for example EUR).")
        values["currency"] = currency
    if "locale" in data:
        if data["locale"] not in SUPPORTED_LANGUAGES:
            errors["locale"] = _l("Choose Italian or English.")
        values["locale"] = data["locale"]
    if "default_tax_rate" in data:
        try:
            rate = to_decimal(data["default_tax_rate"])
            if not rate.is_finite() or not 0 <= rate <= 100:
                raise ValueError
            values["default_tax_rate"] = rate
        except (TypeError, ValueError):
            errors["default_tax_rate"] = _l("The tax rate is a percentage between 0 and 100.")
    for name, low in (("payment_terms_days", 0), ("quote_validity_days", 1)):
        if name in data:
            value = data[name]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= 365:
                errors[name] = _l("Use a number of days between %(low)d and 365.", low=low)
            values[name] = value
    return values, {name: [str(message)] for name, message in errors.items()}


class CompanyApi(ClientelaBaseApi):
    resource_name = "company"
    class_permission_name = "CompanySettings"
    method_permission_name = {"get": "read", "put": "write", **READ_WRITE}
    responses = API_RESPONSES
    openapi_spec_tag = "Company"

    @before_request
    def _reader_language(self) -> None:
        use_accept_language()

    @expose("/", methods=["GET"])
    @protect()
    @safe
    @operation("get", ok=(200, "Every setting (rates as decimal strings)", result({"type": "object"})),
               refusals=("401",))
    def get(self):
        """The company settings"""
        company = get_company()
        db.session.commit()  # the row is created with defaults the first time
        return self.response(200, result=settings_json(company))

    @expose("/", methods=["PUT"])
    @protect()
    @safe
    @operation("put", body={"application/json": {"schema": {"type": "object"}}},
               ok=(200, "Every setting after the change", result({"type": "object"})),
               refusals=("400", "401", "422_fields"))
    def put(self):
        """Change the named settings (the others stay as they are)"""
        body = json_body()
        company = get_company()
        values, errors = clean_settings(body, company)
        if errors:
            db.session.rollback()
            return self.response_422(message=errors)
        for name, value in values.items():
            setattr(company, name, value)
        db.session.commit()
        return self.response(200, result=settings_json(company))


def register(appbuilder) -> None:
    appbuilder.add_api(CompanyApi)
