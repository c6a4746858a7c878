"""The portal session, and the rules every portal request goes through.

A contact's session lives in Flask's signed cookie under its own keys (FAB's staff login
uses others): contact id, the contact's `session_version` at sign-in, the language and the
sign-in time. Every request re-reads the contact and drops the session when the version
moved (logout, staff revoke), the portal was disabled for the contact, the client was
archived, or the session is older than PORTAL_SESSION_HOURS. That check is one query, which
also brings what every portal page needs anyway: the client, its documents version (the
statement's cache key) and the company settings row of the page furniture.

Scoping lives here too: `scoped(Invoice)` is the one query every portal view starts from,
so no view can forget the client filter.
"""
from __future__ import annotations

import datetime as dt
import functools
import time
from typing import Callable, TypeVar
from urllib.parse import urlsplit

import flask_babel
from flask import Blueprint, current_app, g, redirect, request, session, url_for
from sqlalchemy import Select, select
from sqlalchemy.orm import joinedload

from app.billing.accounts import ClientAccount
from app.billing.models import Invoice, Quote
from app.clients.models import Contact
from app.company.models import CompanySettings
from app.extensions import db
from app.i18n import SUPPORTED_LANGUAGES, normalize_language
from app.portal.tokens import contact_may_sign_in

CONTACT_KEY = "portal_contact_id"
VERSION_KEY = "portal_session_version"
LANGUAGE_KEY = "portal_language"
SIGNED_IN_AT_KEY = "portal_signed_in_at"
PORTAL_KEYS = (CONTACT_KEY, VERSION_KEY, LANGUAGE_KEY, SIGNED_IN_AT_KEY)

DEFAULT_SESSION_HOURS = 12
# The same for every visitor, so a browser may keep them (each sets its own caching): the rest
# of the portal is private to one client and never stored.
SHARED_ENDPOINTS = frozenset({"portal.logo"})
COMPANY_SETTINGS_ID = 1  # the one settings row, as app.company.services.get_company reads it

# Scripts and styles only from our own static files; no framing; forms post to us (and to the
# payment provider's checkout, which the "Pay now" form redirects to).
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; form-action 'self' {form_action}; frame-ancestors 'none'; base-uri 'none'"
)

View = TypeVar("View", bound=Callable)


def start_session(contact: Contact, language: str | None = None) -> None:
    """Sign `contact` in on a fresh session: whatever the cookie held before is dropped.
    The language is the client's unless the visitor picked one on the sign-in page."""
    session.clear()
    session[CONTACT_KEY] = contact.id
    session[VERSION_KEY] = contact.session_version
    session[LANGUAGE_KEY] = normalize_language(language or contact.client.language)
    session[SIGNED_IN_AT_KEY] = int(time.time())
    g.portal_contact = contact
    g.language = session[LANGUAGE_KEY]
    flask_babel.refresh()


def forget_session() -> None:
    for key in PORTAL_KEYS:
        session.pop(key, None)
    g.portal_contact = None
    g.portal_documents_version = None


def current_contact() -> Contact | None:
    """The signed-in contact of this request, checked once per request."""
    if "portal_contact" not in g:
        g.portal_contact = _load_contact()
    return g.portal_contact


def _load_contact() -> Contact | None:
    contact_id = session.get(CONTACT_KEY)
    if contact_id is None:
        return None
    lifetime = dt.timedelta(hours=current_app.config.get("PORTAL_SESSION_HOURS", DEFAULT_SESSION_HOURS))
    signed_in_at = session.get(SIGNED_IN_AT_KEY) or 0
    # The company row rides along for the page furniture (`g.portal_company`): one round
    # trip per portal page for the session check and what every page shows, not three.
    row = db.session.execute(
        select(Contact, ClientAccount.version, CompanySettings)
        .options(joinedload(Contact.client))
        .outerjoin(ClientAccount, ClientAccount.client_id == Contact.client_id)
        .outerjoin(CompanySettings, CompanySettings.id == COMPANY_SETTINGS_ID)
        .where(Contact.id == contact_id)
    ).first()
    contact, g.portal_documents_version, g.portal_company = row if row is not None else (None, None, None)
    if (
        contact is None
        or session.get(VERSION_KEY) != contact.session_version
        or not contact_may_sign_in(contact)
        or time.time() - signed_in_at > lifetime.total_seconds()
    ):
        forget_session()
        return None
    return contact


def documents_version() -> int | None:
    """The signed-in client's `ClientAccount.version`, read by the session check, so before
    any of the request's document queries; None without a rollup row (or a session)."""
    return g.get("portal_documents_version") if current_contact() is not None else None


def portal_login_required(view: View) -> View:
    """Anonymous visitors go to the login page; everything else sees the contact in `g`."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if current_contact() is None:
            return redirect(url_for("portal.login"), 302 if request.method in ("GET", "HEAD") else 303)
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def scoped(model: type[Invoice] | type[Quote]) -> Select:
    """The signed-in contact's client's documents; drafts never leave the office."""
    contact = current_contact()
    if contact is None:  # a view without portal_login_required must not see anything
        raise RuntimeError("scoped() needs a signed-in portal contact")
    return select(model).where(model.client_id == contact.client_id, model.status != "draft")


def begin_request() -> None:
    """Nothing about the contact or the language is carried over from an earlier request
    (`g` lives on the app context, which tests and CLI code may keep across requests)."""
    for key in ("portal_contact", "portal_documents_version", "portal_company"):
        g.pop(key, None)
    choose_language()


def choose_language() -> None:
    """`?lang=en` switches language (remembered in a signed-in session); else the session's
    language; else Italian. Sets `g.language`, which app.i18n's locale selector reads."""
    asked = request.args.get("lang")
    if asked in SUPPORTED_LANGUAGES:
        g.language = asked
        if session.get(CONTACT_KEY) is not None and session.get(LANGUAGE_KEY) != asked:
            session[LANGUAGE_KEY] = asked
    else:
        g.language = normalize_language(session.get(LANGUAGE_KEY))
    flask_babel.refresh()  # Flask-Babel caches the locale per context; ours was just chosen


def add_security_headers(response):
    form_action = current_app.config.get("PORTAL_CSP_FORM_ACTION", "https://checkout.stripe.com")
    api_base = urlsplit(current_app.config.get("STRIPE_API_BASE") or "")
    if api_base.scheme and api_base.netloc:
        # A Stripe-compatible API elsewhere (the tests' stand-in) hosts its own checkout page:
        # browsers apply form-action to the Pay now form's redirect too.
        form_action += f" {api_base.scheme}://{api_base.netloc}"
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.format(form_action=form_action).replace(
        "  ", " "
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    if request.endpoint not in SHARED_ENDPOINTS:
        response.headers["Cache-Control"] = "no-store"
        response.vary.add("Cookie")
    return response


def init_portal_blueprint(bp: Blueprint) -> None:
    """Language and security headers for a blueprint serving pages under /portal (the tickets
    and payments blueprints call this too)."""
    bp.before_request(begin_request)
    bp.after_request(add_security_headers)
