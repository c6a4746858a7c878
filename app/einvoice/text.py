"""Text as the FatturaPA schema accepts it: Latin-1 only (Basic Latin for a few codes),
single-line where the type is a normalizedString, cut to the field's length.

Users type typographic quotes, dashes, "€" and emoji; the schema refuses all of them, so a
file SdI would reject for a character nobody sees is rewritten here instead.
"""
from __future__ import annotations

import re
import unicodedata

# Common characters outside Latin-1 and what a reader of the invoice would expect instead.
_REPLACEMENTS = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-",
    "\u2026": "...", "\u20ac": "EUR", "\u2122": "TM", "\u2022": "-", "\u00a0": " ", "\u202f": " ",
    "\u2009": " ", "\u200b": "",
})
_WHITESPACE = re.compile(r"\s+")


def latin1(value: object, limit: int | None = None, *, basic: bool = False) -> str:
    """`value` as one line of Latin-1 (or Basic Latin with `basic`), at most `limit` characters.

    Accented letters outside Latin-1 lose their accent (NFKD), anything else that has no
    Latin-1 form (emoji, CJK, control characters) is dropped.
    """
    text = str(value or "").translate(_REPLACEMENTS)
    ceiling = 0x7F if basic else 0xFF
    kept = []
    for char in text:
        if ord(char) <= ceiling:
            kept.append(char)
            continue
        decomposed = unicodedata.normalize("NFKD", char)
        kept.extend(part for part in decomposed if ord(part) <= ceiling and not unicodedata.combining(part))
    text = "".join(char for char in kept if char.isprintable() or char.isspace())
    text = _WHITESPACE.sub(" ", text).strip()
    if limit is not None:
        text = text[:limit].rstrip()
    return text


def code(value: object, limit: int) -> str:
    """An identifier (VAT number, tax code, SdI code): upper-case letters and digits only."""
    return re.sub(r"[^A-Z0-9]", "", str(value or "").upper())[:limit]
