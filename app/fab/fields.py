"""Form fields that read and show numbers and dates in the reader's notation.

`1.355,25` and `15/12/2026` in Italian, `1,355.25` and `12/15/2026` in English (Babel, through
`app.i18n.parse_number` / `parse_date`), ISO dates too. A text that cannot be read is kept as
typed and comes back in the form with the field's own translated error, so nothing the user
typed is lost; the field's `data` is then None and the field's other checks (a range, a
required value) are skipped rather than repeat that error. A date is drawn with the reader's
date picker (app/fab/widgets.py). What is accepted: docs/i18n.md.

Services keep taking Decimals and dates (or canonical text from the API): the parsing of what
a person typed belongs to the adapter, here.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import StringField
from wtforms.validators import StopValidation

from app.fab.widgets import LocaleDatePickerWidget
from app.i18n import date_input_pattern, example_number, format_date_input, parse_date, parse_number

AMOUNT_FORMAT = "#,##0.00"
NUMBER_FORMAT = "#,##0.########"


class _ReadOrStop:
    """A text that could not be read has its one error already: the field's other checks
    (a range, a required value) would only repeat it in other words."""

    def pre_validate(self, form) -> None:
        if self.process_errors:
            raise StopValidation()


class LocaleDecimalField(_ReadOrStop, StringField):
    """A number or amount in the reader's notation. `places=2` shows an amount with its cents
    (`1.855,25`); without it the number is shown as short as it is (`12,5`, `10`)."""

    def __init__(self, label=None, validators=None, places: int | None = None, message=None, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.places = places
        self.message = message or _l("Type a number such as %(example)s.")

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        if self.data is None or self.data == "":
            return ""
        from flask_babel import format_decimal

        return format_decimal(self.data, format=AMOUNT_FORMAT if self.places == 2 else NUMBER_FORMAT)

    def process_formdata(self, valuelist) -> None:
        if not valuelist or not str(valuelist[0]).strip():
            self.data = None
            return
        try:
            self.data = parse_number(valuelist[0])
        except ValueError:
            self.data = None
            raise ValueError(str(self.message) % {"example": example_amount()}) from None


class LocaleDateField(_ReadOrStop, StringField):
    """A date typed as `15/12/2026` (it) or `12/15/2026` (en), or ISO 8601; shown with the
    reader's date picker (app/fab/widgets.py) unless the form gives another widget."""

    widget = LocaleDatePickerWidget()

    def __init__(self, label=None, validators=None, message=None, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.message = message or _l("Type a date as %(pattern)s.")

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        return format_date_input(self.data) if self.data else ""

    def process_formdata(self, valuelist) -> None:
        if not valuelist or not str(valuelist[0]).strip():
            self.data = None
            return
        try:
            self.data = parse_date(valuelist[0])
        except ValueError:
            self.data = None
            raise ValueError(str(self.message) % {"pattern": date_input_pattern()}) from None


def example_amount() -> str:
    """`1.355,25` / `1,355.25`: the example an error or hint shows, in the reader's notation."""
    return str(example_number("1355.25"))
