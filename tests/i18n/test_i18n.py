"""Every user-facing string is translated, in Italian and in English, and money and dates
read the way each locale writes them."""
from __future__ import annotations

import datetime as dt
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from babel.messages.pofile import read_po

from app.i18n import format_date, format_money

ROOT = Path(__file__).resolve().parents[2]
CATALOGS = ROOT / "app" / "translations"


def _extracted_msgids(tmp_path: Path) -> set[tuple[str, str | None]]:
    """(msgid, context) of every string in the code, extracted as `make messages` does."""
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg", "-k", "_l",
         "-k", "lazy_gettext", "-k", "lazy_pgettext:1c,2", "-o", str(pot), "."],
        cwd=ROOT, check=True, capture_output=True,
    )
    with pot.open("rb") as handle:
        return {(message.id if isinstance(message.id, str) else message.id[0], message.context)
                for message in read_po(handle) if message.id}


def _untranslated(language: str, msgids: set[tuple[str, str | None]]) -> list[str]:
    with (CATALOGS / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle)
    missing = []
    for msgid, context in sorted(msgids, key=lambda pair: (pair[0], pair[1] or "")):
        message = catalog.get(msgid, context=context)
        strings = message.string if message else None
        if isinstance(strings, (tuple, list)):
            strings = all(strings)
        if not message or not strings or message.fuzzy:
            missing.append(f"{context}|{msgid}" if context else msgid)
    return missing


def test_every_string_in_the_code_has_an_italian_translation(tmp_path):
    missing = _untranslated("it", _extracted_msgids(tmp_path))
    assert missing == [], f"{len(missing)} strings lack an Italian translation (run `make messages`): {missing[:20]}"


def test_every_string_in_the_code_is_in_the_english_catalog(tmp_path):
    missing = _untranslated("en", _extracted_msgids(tmp_path))
    assert missing == [], f"{len(missing)} strings missing from the English catalog: {missing[:20]}"


def test_money_is_written_the_italian_and_the_english_way():
    assert format_money(Decimal("1234.56"), "EUR", "it") == "1.234,56\xa0€"
    assert format_money(Decimal("1234.56"), "EUR", "en") == "€1,234.56"


def test_money_is_written_exactly_as_babel_writes_it():
    """format_money does Babel's per-call work once per language and currency: same text."""
    from babel.numbers import format_currency

    for language in ("it", "en"):
        for currency in ("EUR", "USD", "GBP", "JPY", "CHF", "SEK", "XYZ"):
            for value in ("0", "1234.56", "-1234.565", "0.005", "1000000", "-0.01", "12.3456", "999999999.99"):
                assert format_money(Decimal(value), currency, language) == format_currency(
                    Decimal(value), currency, locale=language), (language, currency, value)


def test_dates_are_written_for_the_locale():
    day = dt.date(2026, 11, 27)
    assert format_date(day, "it") == "27 nov 2026"
    assert format_date(day, "en") == "Nov 27, 2026"
