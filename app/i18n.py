"""Languages, and money and dates formatted for the reader's locale.

Staff pick their language in the admin (FAB's switcher, kept in the session); a portal
contact, an email or a PDF uses the client's language. Every formatter here takes the
locale explicitly or uses the current one, so the same figure reads `1.234,56 €` in Italian
and `€1,234.56` in English.
"""
from __future__ import annotations

import copy
import datetime as dt
import functools
from decimal import Decimal

from babel import Locale
from babel.dates import DateTimePattern, parse_pattern
from babel.numbers import NumberPattern, get_currency_symbol
from flask import Flask, current_app, g, has_request_context
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

SUPPORTED_LANGUAGES = ("it", "en")
DEFAULT_LANGUAGE = "it"

LANGUAGE_CHOICES = [("it", _l("Italian")), ("en", _l("English"))]


def normalize_language(value: str | None) -> str:
    """The supported language closest to `value` ("en_GB" → "en"), else Italian."""
    code = (value or "").split("_")[0].split("-")[0].lower()
    return code if code in SUPPORTED_LANGUAGES else DEFAULT_LANGUAGE


def current_language() -> str:
    return normalize_language(str(get_locale() or DEFAULT_LANGUAGE))


def format_money(amount: Decimal | int | None, currency: str = "EUR", language: str | None = None) -> str:
    """`1.234,56 €` (it) or `€1,234.56` (en); never goes through a float.

    Exactly Babel's `format_currency`, with its per-call work done once per language and
    currency (`_money_format`): lists and statements format dozens of amounts per page."""
    locale, pattern = _money_format(language or current_language(), currency)
    return pattern.apply(Decimal(amount or 0), locale, currency=currency, currency_digits=True)


@functools.lru_cache(maxsize=256)
def _money_format(language: str, currency: str) -> tuple[Locale, NumberPattern]:
    """The locale and its standard currency pattern with the currency's symbol written in.

    Babel parses the locale and looks up the currency's plural name (for the `¤¤¤` form,
    which these patterns never use) on every call; with the symbol already in the pattern
    only the number is left to format."""
    locale = Locale.parse(language)
    pattern = copy.copy(locale.currency_formats["standard"])
    symbol = get_currency_symbol(currency, locale)

    def with_symbol(affix: str) -> str:
        return affix.replace("¤¤", currency.upper()).replace("¤", symbol) if "¤¤¤" not in affix else affix

    pattern.prefix = tuple(with_symbol(affix) for affix in pattern.prefix)
    pattern.suffix = tuple(with_symbol(affix) for affix in pattern.suffix)
    return locale, pattern


def format_date(value: dt.date | None, language: str | None = None) -> str:
    """A date in the reader's short-medium form: `27 nov 2026` / `Nov 27, 2026`.

    Exactly Babel's `format_date(value, "medium")`, its locale and pattern parsed once per
    language (`_date_format`) rather than on each call: the 360 page shows some sixty dates."""
    if value is None:
        return ""
    locale, pattern = _date_format(normalize_language(language) if language else current_language())
    return pattern.apply(value, locale)


@functools.lru_cache(maxsize=16)
def _date_format(language: str) -> tuple[Locale, DateTimePattern]:
    locale = Locale.parse(language)
    return locale, parse_pattern(locale.date_formats["medium"])


# Up to 8 decimals (the most a price may carry), none when the number is whole.
NUMBER_FORMAT = "#,##0.########"


def format_number(value: Decimal | int | None, language: str | None = None) -> str:
    """A quantity, discount or rate in the reader's notation: `1.355,5` / `1,355.5`, `10`
    (never `1E+1`, which is what `str()` of a normalized Decimal gives)."""
    if value is None:
        return ""
    if language:
        from babel.numbers import format_decimal

        return format_decimal(value, format=NUMBER_FORMAT, locale=language)
    from flask_babel import format_decimal as babel_format_decimal

    return babel_format_decimal(value, format=NUMBER_FORMAT)


def example_number(value: str, places: int = 2) -> LazyString:
    """An example number for a hint or an error ("an amount such as %(example)s"), written when
    the message is shown, in the reader's notation: `120,50` in Italian, `120.50` in English.

    A REST API caller reads the canonical notation it must send (`120.50`): the API marks its
    requests with `g.canonical_numbers` (app.rest.use_accept_language)."""

    def written() -> str:
        if has_request_context() and g.get("canonical_numbers"):
            return value
        from flask_babel import format_decimal

        return format_decimal(Decimal(value), format="#,##0." + "0" * places if places else NUMBER_FORMAT)

    return LazyString(written)


def parse_number(text: str | Decimal | int | None, language: str | None = None) -> Decimal:
    """A number typed in the reader's notation: `1.355,25` / `1355,25` in Italian,
    `1,355.25` in English; raises ValueError for anything else.

    Babel's strict parsing, so a misplaced grouping (`1.35.5`) is refused rather than guessed.
    One lenient case on top: a single separator of the other notation with no grouping
    (`1355.25` typed with the numeric keypad's dot in Italian) is read as the decimal point;
    `1.355` stays one thousand three hundred and fifty-five in Italian, as the page shows it.
    An empty text is not a number: callers decide what blank means (usually "use the default").
    """
    if isinstance(text, Decimal):
        return text
    if isinstance(text, int) and not isinstance(text, bool):
        return Decimal(text)
    if not isinstance(text, str) or not text.strip():
        raise ValueError("not a number")
    from babel.numbers import NumberFormatError, get_decimal_symbol, get_group_symbol
    from babel.numbers import parse_decimal as babel_parse_decimal

    language = normalize_language(language or current_language())
    cleaned = text.strip().replace("\u00a0", "").replace("\u202f", "").replace(" ", "")
    if "e" in cleaned.lower():  # Babel reads 1e5; nobody types an amount that way
        raise ValueError(f"not a number: {text!r}")
    try:
        value = babel_parse_decimal(cleaned, locale=language, strict=True)
    except NumberFormatError:
        decimal_symbol, group_symbol = get_decimal_symbol(language), get_group_symbol(language)
        whole, _, fraction = cleaned.lstrip("+-").partition(group_symbol)
        if (cleaned.count(group_symbol) != 1 or decimal_symbol in cleaned or len(fraction) == 3
                or not whole.isdigit() or not fraction.isdigit()):
            raise ValueError(f"not a number: {text!r}") from None
        value = Decimal(cleaned.replace(group_symbol, "."))
    if not value.is_finite():
        raise ValueError(f"not a number: {text!r}")
    return value


def parse_date(text: str | dt.date | None, language: str | None = None) -> dt.date:
    """A date typed in the reader's notation (`15/12/2026`, `15/12/26` in Italian,
    `12/15/2026` in English) or as ISO 8601 (`2026-12-15`, what a date input or the API
    sends); raises ValueError for anything else, an impossible day included."""
    if isinstance(text, dt.datetime):
        return text.date()
    if isinstance(text, dt.date):
        return text
    if not isinstance(text, str) or not text.strip():
        raise ValueError("not a date")
    cleaned = text.strip()
    try:
        return dt.date.fromisoformat(cleaned)
    except ValueError:
        pass
    from babel.dates import parse_date as babel_parse_date

    language = normalize_language(language or current_language())
    parts = cleaned.replace(".", "/").replace("-", "/").split("/")
    if len(parts) != 3 or not all(part.isdigit() for part in parts):
        raise ValueError(f"not a date: {text!r}")
    try:
        return babel_parse_date("/".join(parts), locale=language, format="short")
    except Exception as exc:  # Babel raises ValueError, IndexError or TypeError on odd input
        raise ValueError(f"not a date: {text!r}") from exc


def date_input_pattern(language: str | None = None) -> str:
    """How a date is typed in the reader's language, for hints and the date picker:
    `gg/mm/aaaa` in Italian, `mm/dd/yyyy` in English (four-digit years)."""
    return {"it": "gg/mm/aaaa", "en": "mm/dd/yyyy"}[normalize_language(language or current_language())]


def format_date_input(value: dt.date | None, language: str | None = None) -> str:
    """A date as it is typed back into a form: `15/12/2026` (it), `12/15/2026` (en)."""
    if value is None:
        return ""
    if normalize_language(language or current_language()) == "en":
        return f"{value.month:02d}/{value.day:02d}/{value.year:04d}"
    return f"{value.day:02d}/{value.month:02d}/{value.year:04d}"


def init_app(app: Flask) -> None:
    app.jinja_env.filters["money"] = format_money
    app.jinja_env.filters["date"] = format_date
    app.jinja_env.filters["number"] = format_number

    @app.before_request
    def _choose_the_language_afresh() -> None:
        # Flask-Babel caches the locale on `g`, which lives as long as the app context: a
        # context shared by several requests (tests, or a request handled inside a job's
        # context) must not carry one request's language into the next.
        g.pop("_flask_babel", None)
        g.pop("language", None)
        g.pop("canonical_numbers", None)


def use_our_locale_selector(app: Flask) -> None:
    """Wrap FAB's selector: code that sets `g.language` (portal, jobs) wins over the admin's."""
    babel_ext = app.extensions["babel"]
    fab_selector = babel_ext.locale_selector

    def select_locale() -> str:
        if has_request_context() and getattr(g, "language", None):
            return g.language
        return fab_selector() if has_request_context() else current_app.config["BABEL_DEFAULT_LOCALE"]

    babel_ext.locale_selector = select_locale
