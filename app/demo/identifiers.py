"""Identifiers that pass the same checks a real one does: Partita IVA, codice fiscale, EU VAT."""
from __future__ import annotations

import datetime as dt
import random
import re

from stdnum import luhn
from stdnum.at import uid as at_uid
from stdnum.it import codicefiscale
from stdnum.iso7064 import mod_11_10



def partita_iva(rng: random.Random) -> str:
    """A valid Partita IVA: 7-digit serial, a real tax office code, Luhn check digit."""
    body = f"{rng.randint(1, 9_999_999):07d}{rng.randint(1, 100):03d}"
    return body + luhn.calc_check_digit(body)


def codice_fiscale(rng: random.Random, first_name: str, surname: str, female: bool, belfiore: str,
                   birth_date: dt.date) -> str:
    """A codice fiscale built the way the Agenzia delle Entrate builds it, with its check letter."""
    def letters(value: str) -> tuple[str, str]:
        value = re.sub(r"[^A-Z]", "", value.upper())
        return "".join(c for c in value if c not in "AEIOU"), "".join(c for c in value if c in "AEIOU")

    consonants, vowels = letters(surname)
    surname_code = (consonants + vowels + "XXX")[:3]
    consonants, vowels = letters(first_name)
    if len(consonants) >= 4:
        consonants = consonants[0] + consonants[2] + consonants[3]
    name_code = (consonants + vowels + "XXX")[:3]
    day = birth_date.day + (40 if female else 0)
    body = f"{surname_code}{name_code}{birth_date.year % 100:02d}{'ABCDEHLMPRST'[birth_date.month - 1]}{day:02d}{belfiore}"
    return body + codicefiscale.calc_check_digit(body)


def eu_vat_number(rng: random.Random, country: str) -> str:
    """A VAT number with a valid check digit for Germany, France, Austria or Belgium."""
    if country == "DE":
        body = str(rng.randint(10_000_000, 99_999_999))
        return "DE" + body + mod_11_10.calc_check_digit(body)
    if country == "FR":
        serial = str(rng.randint(10_000_000, 99_999_999))
        siren = serial + luhn.calc_check_digit(serial)
        return f"FR{int(siren + '12') % 97:02d}{siren}"
    if country == "AT":
        body = f"U{rng.randint(1_000_000, 9_999_999)}"
        return "AT" + body + at_uid.calc_check_digit(body)
    if country == "BE":
        body = rng.randint(2_000_000, 9_999_999)  # "0" + 7 digits, then 97 minus the rest mod 97
        return f"BE0{body:07d}{97 - body % 97:02d}"
    raise ValueError(country)
