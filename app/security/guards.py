"""Checks FAB's generic view routes skip, applied to every admin view in one place.

FAB's `/action/<name>/<pk>` and `/action_post` routes carry no `@has_access`: they look the
action up first (an unknown name raised AttributeError, a 500, even for anonymous visitors)
and refuse a forbidden one with a redirect instead of a 403. `/download/<filename>` serves
files from UPLOAD_FOLDER, which Clientela never uses (logos and attachments live in the
database). This guard makes actions answer like every other admin page (unknown: 404, not
allowed: 403 when signed in, the login page otherwise) and the download route not found;
an id too large for any row is not found either, the login API asks for its `provider`, and
text with a NUL character (which PostgreSQL cannot store) is refused with a 400.
Tested by tests/test_authz_matrix.py.
"""
from __future__ import annotations

import json

import prison
from flask import Flask, abort, current_app, jsonify, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

GUARDED = {"action", "action_post", "download"}
# Ids are 32-bit integers on PostgreSQL (64-bit on SQLite): a larger one in a URL names no row,
# but reaching the database with it raised DataError / OverflowError, a 500.
MAX_ID = 2**31 - 1


def init_app(app: Flask) -> None:
    app.before_request(_refuse_impossible_ids)
    app.before_request(_guard_generic_routes)
    app.before_request(_login_api_needs_a_provider)
    app.before_request(_refuse_nul_characters)
    app.before_request(_refuse_negative_paging)


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


def _login_api_needs_a_provider():
    """FAB's POST /api/v1/security/login reads `provider` without checking it is there (a 500)."""
    if request.endpoint == "SecurityApi.login":
        body = request.get_json(silent=True)
        if isinstance(body, dict) and "provider" not in body:
            return jsonify(message={"provider": ["Missing data for required field."]}), 400
    return None


def _refuse_negative_paging():
    """FAB's list APIs turn a negative `page` or `page_size` in their rison `q` into a negative
    OFFSET/LIMIT, which PostgreSQL refuses (a 500). Answer it as the bad input it is."""
    if request.method != "GET" or not request.path.startswith("/api/") or "q" not in request.args:
        return None
    try:
        query = prison.loads(request.args["q"])
    except Exception:
        try:  # FAB also accepts the same query as JSON
            query = json.loads(request.args["q"])
        except ValueError:  # FAB answers what is neither, with a 400
            return None
    if not isinstance(query, dict):
        return None
    negative = [name for name in ("page", "page_size")
                if isinstance(query.get(name), (int, float)) and query[name] < 0]
    if not negative:
        return None
    # FAB's list endpoints describe their 400 as one message text.
    return jsonify(message=_("The page and the page size must be zero or more.")), 400


def _refuse_impossible_ids():
    for value in (request.view_args or {}).values():
        if (isinstance(value, int) or (isinstance(value, str) and value.isdigit())) and int(value) > MAX_ID:
            abort(404)
    return None


def _guard_generic_routes():
    view_name, _, method = (request.endpoint or "").rpartition(".")
    if method not in GUARDED:
        return None
    appbuilder = current_app.appbuilder
    view = next((view for view in appbuilder.baseviews if view.endpoint == view_name), None)
    if view is None or not hasattr(view, "actions"):
        return None
    if method == "download":
        abort(404)
    name = (request.view_args or {}).get("name") if method == "action" else request.form.get("action")
    if name not in view.actions:
        abort(404)
    if appbuilder.sm.has_access(view.get_action_permission_name(name), view.class_permission_name):
        return None
    if current_user.is_authenticated:
        abort(403)
    return redirect(url_for(appbuilder.sm.auth_view.endpoint + ".login", next=request.url))
