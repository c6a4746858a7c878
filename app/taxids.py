"""Italian and EU tax identifiers (partita IVA, VAT numbers, codice fiscale), checked with python-stdnum.

Kernel: the company settings, clients and the electronic invoice all check the same numbers,
and none of them owns the rule. Errors are ValueErrors carrying a translated message.
"""
from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from stdnum import exceptions as stdnum_errors
from stdnum.eu import vat as eu_vat
from stdnum.it import codicefiscale, iva

EU_COUNTRIES = frozenset(code.upper() for code in eu_vat.MEMBER_STATES if code != "xi")


def clean_vat_number(value: str, country: str) -> str:
    """Normalize a VAT number; raise ValueError with a translated message when invalid.

    Italian numbers are stored as the 11 digits (the "IT" prefix is accepted and dropped);
    other EU numbers keep their country prefix, which VIES and the invoice need.
    """
    compact = re.sub(r"[\s.\-/]", "", value).upper()
    if not compact:
        return ""
    if country == "IT":
        digits = compact[2:] if compact.startswith("IT") else compact
        try:
            return iva.validate(digits)
        except stdnum_errors.ValidationError:
            raise ValueError(_l("This is not a valid Italian VAT number (Partita IVA: 11 digits with a check digit).")) from None
    if country in EU_COUNTRIES:
        prefix = "EL" if country == "GR" else country  # Greece's VAT prefix is EL, not GR
        if country == "GR" and compact.startswith("GR"):
            compact = compact[2:]
        prefixed = compact if compact.startswith(prefix) else prefix + compact
        try:
            return eu_vat.validate(prefixed)
        except stdnum_errors.ValidationError:
            raise ValueError(_l("This is not a valid EU VAT number for the client's country (for example DE123456789).")) from None
    return compact


def clean_tax_code(value: str, country: str, kind: str = "business") -> str:
    """Normalize an Italian codice fiscale: 16 characters for a person, or a company's 11 digits.

    `kind` is a client kind ("business", "individual", …): only an individual's code is never 11 digits.
    """
    compact = re.sub(r"\s", "", value).upper()
    if not compact or country != "IT":
        return compact
    try:
        if len(compact) == 11 and kind != "individual":
            return iva.validate(compact)
        if len(compact) != 16:  # stdnum also takes 11 digits, which is never a person's code
            raise stdnum_errors.InvalidLength()
        return codicefiscale.validate(compact)
    except stdnum_errors.ValidationError:
        raise ValueError(_l("This is not a valid codice fiscale.")) from None
