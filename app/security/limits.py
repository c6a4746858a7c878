"""What PostgreSQL cannot store, refused up front on every route (admin, REST API, portal).

Text with a NUL character and an id past a 32-bit integer are not FAB's concern: they fail
at the database (a DataError, a 500) whichever door they come in by. FAB's own gaps are in
app/fab/ (workarounds.py). Tested by tests/security/test_bad_input.py and tests/security/test_authz_matrix.py.
"""
from __future__ import annotations

from flask import Flask, abort, current_app, jsonify, request
from flask_babel import gettext as _

# Ids are 32-bit integers on PostgreSQL (64-bit on SQLite): a larger one in a URL names no row,
# but reaching the database with it raised DataError / OverflowError, a 500.
MAX_ID = 2**31 - 1


def init_app(app: Flask) -> None:
    app.before_request(_refuse_impossible_ids)
    app.before_request(_refuse_nul_characters)


def _refuse_nul_characters():
    """PostgreSQL text cannot hold NUL (U+0000): typed text carrying one would fail at the
    database with a 500. Refuse it up front (files in uploads are bytes, not checked here)."""
    if request.method not in ("POST", "PUT", "PATCH", "DELETE") and not request.args:
        return None
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit and (request.content_length or 0) > limit:
        return None  # the view's own 413 page answers, in the reader's language
    body = request.get_json(silent=True) if request.is_json else None
    texts = [*request.args.values(), *(request.form.values() if not request.is_json else ()), *_strings_in(body)]
    if not any("\x00" in text for text in texts):
        return None
    message = _("Text cannot contain NUL characters.")
    if request.path.startswith("/api/"):
        return jsonify(message=message), 400
    abort(400, description=message)


def _strings_in(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for key, item in value.items() for text in (*_strings_in(key), *_strings_in(item))]
    if isinstance(value, list):
        return [text for item in value for text in _strings_in(item)]
    return []


def _refuse_impossible_ids():
    for value in (request.view_args or {}).values():
        if (isinstance(value, int) or (isinstance(value, str) and value.isdigit())) and int(value) > MAX_ID:
            abort(404)
    return None
