"""The admin layout's pieces that look the same across requests, rendered once and reused.

FAB draws the navbar on every admin page from `appbuilder/navbar.html`: a permission check,
a translation and a `url_for` per menu item, about a third of an empty page's cost. What it
shows depends only on which menu items the signed-in user may open, their labels in the
reader's language (the tickets item carries its live count), the language switcher, the
user's name and the URL prefix. Those are computed on every request and form the key; the
HTML for a key is rendered by FAB's own template once and kept, per app, in process.

A role losing a right changes the visible items (permissions are read afresh by each
request, app/security/cache.py), so it changes the key: nothing cached outlives a change.
"""
from __future__ import annotations

from collections.abc import Callable

import flask_babel
from flask import Flask, current_app, g, render_template, request, session
from flask_babel import get_locale
from flask_babel.speaklater import LazyString
from flask_login import current_user
from jinja2 import pass_context
from markupsafe import Markup

_MAX_ENTRIES = 512  # distinct navbars kept per app; past that the cache starts again


def init_app(app: Flask) -> None:
    app.extensions["clientela.navbars"] = {}
    app.extensions["clientela.layout_parts"] = {}
    app.jinja_env.globals["admin_navbar"] = navbar
    app.jinja_env.globals["layout_part"] = layout_part


@pass_context
def layout_part(context, name: str, render: Callable[[], str]) -> Markup:
    """A part of the admin layout that only varies with the language and the URL prefix
    (FAB's stylesheet and script tags, its confirm and alert dialogs): `render` runs once
    per language. Tags that would carry a per-request CSP nonce are never shared."""
    if "csp_nonce" in context:
        return Markup(render())
    cache: dict = current_app.extensions["clientela.layout_parts"]
    key = (name, str(get_locale()), request.script_root)
    html = cache.get(key)
    if html is None:
        html = cache[key] = Markup(render())
    return html


def navbar() -> Markup:
    """The navbar FAB's template would render for this request, from the cache when seen before."""
    cache: dict = current_app.extensions["clientela.navbars"]
    key = _navbar_key()
    html = cache.get(key)
    if html is None:
        if len(cache) >= _MAX_ENTRIES:
            cache.clear()
        html = cache[key] = Markup(render_template("appbuilder/navbar.html", appbuilder=current_app.appbuilder))
    return html


def _navbar_key() -> tuple:
    """Everything `appbuilder/navbar.html` reads, with the menu checked as it checks it."""
    may_open = menu_access_check()
    items = []
    for item in current_app.appbuilder.menu.get_list():
        if not may_open(item.name):
            continue
        children = tuple(
            "-" if child.name == "-" else (child.name, _label_key(child.label))
            for child in item.childs
            if child and (child.name == "-" or may_open(child.name))
        )
        items.append((item.name, _label_key(item.label), children))
    anonymous = current_user.is_anonymous
    return (
        tuple(items),
        str(get_locale()),
        session.get("locale"),
        request.script_root,
        anonymous,
        None if anonymous else current_user.get_full_name(),
    )


def _label_key(label) -> object:
    """A label that translates a fixed text reads the same for everyone in a language (the
    language is in the key); any other label is computed, like the tickets item's live count."""
    if isinstance(label, str):
        return label
    if isinstance(label, LazyString) and label._func is flask_babel.gettext:
        return ("gettext", label._args, tuple(sorted(label._kwargs.items())))
    return str(label)


def menu_access_check() -> Callable[[str], bool]:
    """`sm.has_access("menu_access", name)` (FAB's `is_menu_visible`) for many menu items:
    the same answer, with the signed-in user's roles looked up once instead of per item."""
    sm = current_app.appbuilder.sm
    user = sm._get_safe_user(g.user) if current_user.is_authenticated else None
    if user is None or not user.is_active or getattr(g, "_api_key_user", False):
        return lambda name: sm.has_access("menu_access", name)
    roles = sm.get_user_roles(user)
    builtin = [role for role in roles if role.name in sm.builtin_roles]
    role_ids = [role.id for role in roles if role.name not in sm.builtin_roles]

    def may_open(name: str) -> bool:
        return any(sm._has_access_builtin_roles(role, "menu_access", name) for role in builtin) or (
            bool(role_ids) and sm.exist_permission_on_roles(name, "menu_access", role_ids)
        )

    return may_open
