"""Checks FAB's generic view routes skip, applied to every admin view in one place.

FAB's `/action/<name>/<pk>` and `/action_post` routes carry no `@has_access`: they look the
action up first (an unknown name raised AttributeError, a 500, even for anonymous visitors)
and refuse a forbidden one with a redirect instead of a 403. `/download/<filename>` serves
files from UPLOAD_FOLDER, which Clientela never uses (logos and attachments live in the
database). This guard makes actions answer like every other admin page (unknown: 404, not
allowed: 403 when signed in, the login page otherwise) and the download route not found.
Tested by tests/test_authz_matrix.py.
"""
from __future__ import annotations

from flask import Flask, abort, current_app, redirect, request, url_for
from flask_login import current_user

GUARDED = {"action", "action_post", "download"}


def init_app(app: Flask) -> None:
    app.before_request(_guard_generic_routes)


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
