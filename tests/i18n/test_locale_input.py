"""Numbers and dates typed the way the page shows them are read back (app.i18n, app.fab.fields)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from werkzeug.datastructures import MultiDict
from wtforms import Form

from app.fab.fields import LocaleDateField, LocaleDecimalField
from app.i18n import parse_date, parse_number


@pytest.mark.parametrize(("text", "language", "expected"), [
    ("1.355,25", "it", "1355.25"), ("1355,25", "it", "1355.25"), ("12,5", "it", "12.5"),
    ("1.355", "it", "1355"), ("1355.25", "it", "1355.25"), ("-3", "it", "-3"), (" 1 355,25 ", "it", "1355.25"),
    ("1,355.25", "en", "1355.25"), ("1355.25", "en", "1355.25"), ("1,355", "en", "1355"), ("12,5", "en", "12.5"),
])
def test_numbers_in_the_readers_notation(text, language, expected):
    assert parse_number(text, language) == Decimal(expected)


@pytest.mark.parametrize(("text", "language"), [
    ("1,355.25", "it"), ("1.355,25", "en"), ("1.35.5", "it"), ("abc", "it"), ("1e5", "it"), ("NaN", "en"),
    ("", "it"), ("€ 3", "it"), (None, "it"), (True, "en"),
])
def test_what_is_not_a_number_is_refused(text, language):
    with pytest.raises(ValueError):
        parse_number(text, language)


@pytest.mark.parametrize(("text", "language", "expected"), [
    ("15/12/2026", "it", dt.date(2026, 12, 15)), ("15/12/26", "it", dt.date(2026, 12, 15)),
    ("1/2/2026", "it", dt.date(2026, 2, 1)), ("15.12.2026", "it", dt.date(2026, 12, 15)),
    ("12/15/2026", "en", dt.date(2026, 12, 15)), ("2026-12-15", "it", dt.date(2026, 12, 15)),
    ("2026-12-15", "en", dt.date(2026, 12, 15)),
])
def test_dates_in_the_readers_notation(text, language, expected):
    assert parse_date(text, language) == expected


@pytest.mark.parametrize(("text", "language"), [
    ("31/02/2026", "it"), ("13/13/2026", "it"), ("31/31/2026", "en"), ("15 dic 2026", "it"), ("", "it"), ("oggi", "it"),
])
def test_what_is_not_a_date_is_refused(text, language):
    with pytest.raises(ValueError):
        parse_date(text, language)


class _Form(Form):
    amount = LocaleDecimalField("Amount", places=2)
    rate = LocaleDecimalField("Rate")
    day = LocaleDateField("Day")


def _in(app, language, function):
    with app.test_request_context(headers={"Accept-Language": language}):
        from flask import g

        g.language = language
        return function()


def test_fields_show_and_read_italian(app):
    def check():
        form = _Form(data={"amount": Decimal("1855.25"), "rate": Decimal("10"), "day": dt.date(2026, 12, 15)})
        assert (form.amount._value(), form.rate._value(), form.day._value()) == ("1.855,25", "10", "15/12/2026")
        typed = _Form(MultiDict({"amount": "1.355,25", "rate": "12,5", "day": "15/12/2026"}))
        assert typed.validate()
        assert (typed.amount.data, typed.rate.data, typed.day.data) == (Decimal("1355.25"), Decimal("12.5"),
                                                                         dt.date(2026, 12, 15))
    _in(app, "it", check)


def test_a_refused_text_comes_back_as_typed_with_a_translated_error(app):
    def check():
        form = _Form(MultiDict({"amount": "1,355.25", "rate": "x", "day": "31/02/2026"}))
        assert not form.validate()
        assert (form.amount._value(), form.day._value()) == ("1,355.25", "31/02/2026")
        assert form.amount.data is None and form.day.data is None
        assert "1.355,25" in form.amount.errors[0]
        assert "gg/mm/aaaa" in form.day.errors[0]
    _in(app, "it", check)


def test_fields_show_and_read_english(app):
    def check():
        form = _Form(data={"amount": Decimal("1855.25"), "day": dt.date(2026, 12, 15)})
        assert (form.amount._value(), form.day._value()) == ("1,855.25", "12/15/2026")
        typed = _Form(MultiDict({"amount": "1,355.25", "day": "12/15/2026"}))
        assert typed.validate() and typed.amount.data == Decimal("1355.25")
    _in(app, "en", check)
