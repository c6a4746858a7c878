"""Form widgets that show a field in the reader's language and notation.

FAB's `DatePickerWidget` is ISO-only and English: FAB's `ab.js` starts every `.appbuilder_date`
as a `yyyy-mm-dd` picker, and the widget prints `field.data` rather than what was typed, so a
refused date comes back empty. `LocaleDatePickerWidget` uses the same bootstrap-datepicker
FAB 5.3.0 already loads on every admin page, started by the picker's own data attributes (no
inline script; nothing from the internet), in the reader's pattern (`15/12/2026` in Italian,
`12/15/2026` in English), with Italian month and day names from `app/static/admin/datepicker-it.js`
(FAB ships no locale files), and shows exactly what the field was given or typed.
"""
from __future__ import annotations

from markupsafe import Markup
from wtforms.widgets import html_params

from app.i18n import current_language, date_input_pattern

# bootstrap-datepicker's format tokens for the pattern app.i18n.format_date_input writes.
PICKER_FORMATS = {"it": "dd/mm/yyyy", "en": "mm/dd/yyyy"}


class LocaleDatePickerWidget:
    """A text input with a calendar button; the picker reads and writes the reader's pattern.

    `force-parse` is off: the picker never rewrites what was typed (an unreadable date stays
    as typed and the field's error says how to write it)."""

    def __call__(self, field, **kwargs) -> Markup:
        language = current_language()
        kwargs.setdefault("id", field.id)
        kwargs["class"] = " ".join(filter(None, ["form-control", kwargs.get("class", "")]))
        kwargs.setdefault("placeholder", date_input_pattern(language))
        picker = {
            "class": "input-group date clientela-date",
            "data-provide": "datepicker",
            "data-date-format": PICKER_FORMATS[language],
            "data-date-language": language,
            "data-date-week-start": "1" if language == "it" else "0",
            "data-date-autoclose": "true",
            "data-date-force-parse": "false",
            "data-date-today-highlight": "true",
            "data-date-today-btn": "linked",
        }
        text = html_params(type="text", name=field.name, value=field._value(), autocomplete="off", **kwargs)
        return Markup(
            f"<div {html_params(**picker)}>"
            f"<input {text}>"
            '<span class="input-group-addon"><i class="fa fa-calendar cursor-hand"></i></span>'
            "</div>"
        )
