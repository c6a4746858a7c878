"""A client's fields checked for the client's country (tax identifiers: `app.taxids`).

`clean_client_fields()` is the one rule: the admin form, the REST API and the demo generator
all call it. It returns the normalized values and, per field, a translated error; a caller
saves nothing while any error is present.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l

from app.clients.models import ClientKind
from app.taxids import clean_tax_code, clean_vat_number

SDI_CODE = re.compile(r"^[A-Z0-9]{7}$")
PA_OFFICE_CODE = re.compile(r"^[A-Z0-9]{6}$")  # a public administration's codice univoco ufficio (IPA)
TRUE_TEXT = frozenset({"1", "true", "on", "y", "yes", "si", "sì"})
IT_POSTAL_CODE = re.compile(r"^\d{5}$")
IT_PROVINCE = re.compile(r"^[A-Z]{2}$")


@dataclass
class CleanResult:
    values: dict[str, object]
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def _clean_email(value: str, required: bool) -> str:
    value = value.strip()
    if not value:
        if required:
            raise ValueError(_l("An email address is required."))
        return ""
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError:
        raise ValueError(_l("This is not a valid email address.")) from None


def clean_client_fields(data: dict[str, object]) -> CleanResult:
    """Check and normalize a client's fields; unknown keys pass through untouched."""
    values = dict(data)
    errors: dict[str, str] = {}

    def text(name: str) -> str:
        return str(values.get(name) or "").strip()

    country = text("country").upper() or "IT"
    values["country"] = country
    if not re.fullmatch(r"[A-Z]{2}", country):
        errors["country"] = _l("Use the two-letter ISO country code (for example IT).")

    if not text("name"):
        errors["name"] = _l("The name is required.")
    values["name"] = text("name")

    kind = text("kind") or ClientKind.BUSINESS.value
    if kind not in {k.value for k in ClientKind}:
        errors["kind"] = _l("Choose business, individual or public administration.")
    values["kind"] = kind
    public = kind == ClientKind.PUBLIC_ADMINISTRATION.value

    try:
        values["vat_number"] = clean_vat_number(text("vat_number"), country)
    except ValueError as exc:
        errors["vat_number"] = exc.args[0]
    try:
        values["tax_code"] = clean_tax_code(text("tax_code"), country, kind)
    except ValueError as exc:
        errors["tax_code"] = exc.args[0]

    if country == "IT" and "kind" not in errors:
        if kind == ClientKind.BUSINESS.value and not values.get("vat_number") and "vat_number" not in errors:
            errors["vat_number"] = _l("An Italian business needs its VAT number (Partita IVA).")
        if kind == ClientKind.INDIVIDUAL.value and not values.get("tax_code") and "tax_code" not in errors:
            errors["tax_code"] = _l("An Italian individual needs a codice fiscale.")
        if public and not values.get("tax_code") and not values.get("vat_number") and "tax_code" not in errors:
            errors["tax_code"] = _l("A public administration needs its codice fiscale.")

    for name, required in (("email", True), ("pec", False)):
        try:
            values[name] = _clean_email(text(name), required)
        except ValueError as exc:
            errors[name] = exc.args[0]

    values["postal_code"] = text("postal_code")
    values["province"] = text("province")
    if country == "IT":
        if text("postal_code") and not IT_POSTAL_CODE.match(text("postal_code")):
            errors["postal_code"] = _l("An Italian postal code (CAP) has 5 digits.")
        province = text("province").upper()
        if province and not IT_PROVINCE.match(province):
            errors["province"] = _l("Use the two-letter province code (for example MI).")
        values["province"] = province
    sdi = text("sdi_code").upper()
    if public:
        if sdi and not PA_OFFICE_CODE.match(sdi):
            errors["sdi_code"] = _l("A public administration's office code (codice univoco ufficio) has 6 letters "
                                    "or digits.")
        elif not sdi and country == "IT":
            errors["sdi_code"] = _l("A public administration is invoiced through its office code (6 letters or "
                                    "digits, from IPA).")
    elif sdi and not SDI_CODE.match(sdi):
        errors["sdi_code"] = _l("The SDI code has 7 letters or digits (6 for public administrations).")
    values["sdi_code"] = sdi

    # A private person never withholds nor splits VAT; an Italian business or public
    # administration withholds the ritenuta unless told otherwise (None: not told).
    withholding_default = country == "IT" and kind != ClientKind.INDIVIDUAL.value
    for name, default in (("withholding_agent", withholding_default), ("split_payment", False)):
        raw = values.get(name)
        flag = default if raw is None else raw if isinstance(raw, bool) else str(raw).strip().lower() in TRUE_TEXT
        values[name] = flag and kind != ClientKind.INDIVIDUAL.value

    language = text("language") or "it"
    if language not in ("it", "en"):
        errors["language"] = _l("Choose Italian or English.")
    values["language"] = language
    currency = text("currency").upper() or "EUR"
    if not re.fullmatch(r"[A-Z]{3}", currency):
        errors["currency"] = _l("Use a three-letter currency code (for example EUR).")
    values["currency"] = currency
    return CleanResult(values=values, errors=errors)
