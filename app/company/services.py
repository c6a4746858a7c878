"""Reading the company settings row (created with defaults the first time it is needed),
applying its numbering formats, and the rules for its e-invoicing settings."""
from __future__ import annotations

import re
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from stdnum import exceptions as stdnum_errors
from stdnum import iban
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.company.models import CompanySettings
from app.extensions import db
from app.money import CENT, ZERO, to_decimal


# The logo types the settings accept, by the bytes they start with: the upload is checked by
# its content, and the portal and the PDF show only a logo of one of these types.
LOGO_TYPES = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff"}


def logo_mime(content: bytes) -> str | None:
    """The image type the bytes really are (PNG or JPEG), or None."""
    return next((mime for mime, magic in LOGO_TYPES.items() if content.startswith(magic)), None)


def shown_logo_mime(company: CompanySettings) -> str:
    """The stored logo's type when it is an accepted one, else "". Reads only the type: the
    logo's bytes are a deferred column, loaded only by whoever sends them."""
    mime = (company.logo_mime or "").strip().lower()
    return mime if mime in LOGO_TYPES else ""


def get_company() -> CompanySettings:
    company = db.session.get(CompanySettings, 1)
    if company is None:
        # Two workers may both find no row on a fresh database: the second insert yields.
        dialect = db.session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        db.session.execute(insert(CompanySettings).values(id=1).on_conflict_do_nothing(index_elements=["id"]))
        company = db.session.get(CompanySettings, 1)
    return company


def format_number(pattern: str, year: int, sequence: int) -> str:
    """Apply a numbering format of the settings, such as `{year}/{seq:04d}`.

    Lives with the settings, whose form tries each format, and below billing, which numbers
    its documents with it (`app.billing.numbering`).
    """
    return pattern.format(year=year, seq=sequence, yy=year % 100)


# ── Electronic invoicing and the Italian tax blocks ────────────────────────────────────────

# FatturaPA 1.2.3's codes (RF03 left the schema; RF19 is the forfettario).
REGIMI_FISCALI = ("RF01", "RF02", *(f"RF{n:02d}" for n in range(4, 21)))
WITHHOLDING_TYPES = ("RT01", "RT02")  # ritenuta on persons / on companies
PAYMENT_REASONS = (*"ABCDEGHILMNOPQRSTUVWXYZ", "L1", "M1", "M2", "O1", "V1", "ZO")  # CausalePagamento (CU)
PENSION_FUNDS = tuple(f"TC{n:02d}" for n in range(1, 23))
STAMP_DUTY_MODES = ("auto", "off")
EINVOICE_CHANNELS = ("export", "pec")
TAX_SETTING_FIELDS = (
    "regime_fiscale", "withholding_rate", "withholding_type", "withholding_reason", "pension_fund_type",
    "pension_fund_rate", "pension_fund_tax_rate", "stamp_duty", "stamp_duty_charged_to_client",
    "einvoice_channel", "sdi_pec_address", "transmitter_id",
)


def clean_tax_settings(data: dict[str, object]) -> tuple[dict[str, object], dict[str, object]]:
    """Check the e-invoicing settings among `data` (only those present: a PUT names what it
    changes); return (values, errors per field). The admin form and the API both call it."""
    values: dict[str, object] = {}
    errors: dict[str, object] = {}

    def choice(name: str, allowed: tuple[str, ...], message, blank_ok: bool = False) -> None:
        if name not in data:
            return
        value = str(data[name] or "").strip().upper() if name != "stamp_duty" and name != "einvoice_channel" \
            else str(data[name] or "").strip().lower()
        if not (value in allowed or blank_ok and not value):
            errors[name] = message
        values[name] = value

    choice("regime_fiscale", REGIMI_FISCALI, _l("Choose a fiscal regime from RF01 to RF20 (RF19: forfettario)."))
    choice("withholding_type", WITHHOLDING_TYPES, _l("The withholding type is RT01 (persons) or RT02 (companies)."))
    choice("withholding_reason", PAYMENT_REASONS,
           _l("Use a payment reason of the Certificazione Unica (for example A for professional services)."))
    choice("pension_fund_type", PENSION_FUNDS, _l("Choose a pension fund from TC01 to TC22, or none."), blank_ok=True)
    choice("stamp_duty", STAMP_DUTY_MODES, _l("Stamp duty is auto or off."))
    choice("einvoice_channel", EINVOICE_CHANNELS, _l("The e-invoice channel is export or pec."))
    for name in ("withholding_rate", "pension_fund_rate", "pension_fund_tax_rate"):
        if name not in data:
            continue
        try:
            value = to_decimal(data[name])
            if not value.is_finite() or not ZERO <= value <= Decimal(100):
                raise ValueError(name)
            values[name] = value.quantize(CENT)
        except (ValueError, TypeError):
            errors[name] = _l("Use a percentage between 0 and 100.")
    if "stamp_duty_charged_to_client" in data:
        flag = data["stamp_duty_charged_to_client"]
        if not isinstance(flag, bool):
            errors["stamp_duty_charged_to_client"] = _l("Must be true or false.")
        values["stamp_duty_charged_to_client"] = flag
    if "sdi_pec_address" in data:
        address = str(data["sdi_pec_address"] or "").strip()
        if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", address):
            errors["sdi_pec_address"] = _l("This is not a valid email address.")
        values["sdi_pec_address"] = address
    if "transmitter_id" in data:
        transmitter = re.sub(r"\s", "", str(data["transmitter_id"] or "")).upper()
        if transmitter and not re.fullmatch(r"[A-Z0-9]{1,28}", transmitter):
            errors["transmitter_id"] = _l("The transmitter id is the codice fiscale or VAT number (letters and digits).")
        values["transmitter_id"] = transmitter
    return values, errors


def transmitter_id(company: CompanySettings) -> str:
    """IdTrasmittente's IdCodice: the one configured, else the company's own VAT number."""
    return company.transmitter_id or company.vat_number or company.tax_code or ""


def clean_iban(value: str) -> str:
    """Normalize an IBAN ("" stays ""); raise ValueError with a translated message when invalid."""
    compact = iban.compact(value)
    if not compact:
        return ""
    try:
        return iban.validate(compact)
    except stdnum_errors.ValidationError:
        raise ValueError(_l("This is not a valid IBAN.")) from None


def check_number_format(pattern: str) -> str:
    """A numbering format such as {year}/{seq:04d}; raise ValueError with a translated message."""
    pattern = (pattern or "").strip()
    if "{seq" not in pattern:
        raise ValueError(_l("The format needs {seq}, the progressive number (for example {year}/{seq:04d})."))
    try:
        format_number(pattern, 2026, 1)
    except (KeyError, ValueError, IndexError, AttributeError):
        raise ValueError(_l("Use only {year}, {yy} and {seq} (for example {year}/{seq:04d}).")) from None
    return pattern
