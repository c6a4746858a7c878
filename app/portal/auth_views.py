"""The portal's sign-in pages: ask for a link, open it, sign out (on the portal blueprint).

Sign-in rules live in `tokens`, the session in `security`.
"""
from __future__ import annotations

import hashlib
import re
from urllib.parse import urlsplit

import flask_babel
from flask import abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select

from app.clients.models import Client, Contact
from app.extensions import csrf, db, limiter
from app.i18n import normalize_language
from app.portal import security
from app.portal.security import current_contact, portal_login_required
from app.portal.tokens import (
    LOGIN_LINK_TTL,
    consume,
    end_contact_sessions,
    find_usable_token,
    issue_sign_in_link,
    safe_target,
)
from app.portal.views import bp


EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _per_ip_limit() -> str:
    return current_app.config.get("PORTAL_LOGIN_LIMIT_PER_IP", "5 per minute;30 per hour")


def _per_address_limit() -> str:
    return current_app.config.get("PORTAL_LOGIN_LIMIT_PER_ADDRESS", "3 per 15 minutes;10 per day")


def _address_key() -> str:
    email = (request.form.get("email") or "").strip().lower()
    return "portal-login-address:" + hashlib.sha256(email.encode("utf-8")).hexdigest()


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_per_ip_limit, methods=["POST"], scope="portal-login-ip")
@limiter.limit(_per_address_limit, methods=["POST"], key_func=_address_key, scope="portal-login-address")
def login():
    """Ask for a sign-in link. The answer never says whether the address is known."""
    if request.method != "POST":  # GET and HEAD (which Flask routes to the same view)
        return render_template("portal/login.html", email="")
    email = (request.form.get("email") or "").strip()
    if not EMAIL_PATTERN.match(email) or len(email) > 200:
        return render_template("portal/login.html", email=email,
                               error=_("Enter the email address we write to you at.")), 400
    contacts = db.session.scalars(
        select(Contact)
        .join(Client, Contact.client_id == Client.id)
        .where(func.lower(Contact.email) == email.lower(), Contact.portal_enabled.is_(True),
               Client.archived.is_(False))
        .order_by(Contact.id)
        .limit(5)
    ).all()
    if contacts:
        from app.mail.notifications import send_portal_login_link

        for contact in contacts:
            url = issue_sign_in_link(contact, purpose="login", ttl=LOGIN_LINK_TTL, single_use=True)
            send_portal_login_link(contact, url)
        db.session.commit()
    return render_template("portal/login_sent.html", email=email,
                           minutes=int(LOGIN_LINK_TTL.total_seconds() // 60))


def mask_email(email: str) -> str:
    """"giulia@rossi.it" → "g*****@r*****.it": enough to recognise, too little to harvest."""
    local, _at, domain = email.partition("@")
    name, dot, tld = domain.rpartition(".")
    if not dot:
        name, tld = domain, ""
    masked_domain = f"{name[:1]}*****" + (f".{tld}" if tld else "")
    return f"{local[:1]}*****@{masked_domain}"


def _cross_site_post() -> bool:
    """The sign-in form has no session CSRF token (its page must set no cookie, see auth()),
    so it refuses posts a browser marks as coming from another site (login CSRF)."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site:
        return fetch_site not in ("same-origin", "none")
    origin = request.headers.get("Origin")
    if not origin:
        return False
    allowed = {_origin_of(current_app.config["PUBLIC_BASE_URL"]), _origin_of(request.host_url)}
    return _origin_of(origin) not in allowed


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


@bp.route("/auth/<token>", methods=["GET", "POST"])
@csrf.exempt
def auth(token: str):
    """GET (and HEAD) only shows a button: link scanners open links, some in a real browser,
    and must neither sign anyone in nor use the link up. POST signs in."""
    found = find_usable_token(token)
    if found is not None and "lang" not in request.args:
        g.language = normalize_language(found.contact.client.language)
        flask_babel.refresh()
    if request.method != "POST":  # GET and HEAD (which Flask routes to the same view)
        if found is None:
            return _link_not_usable()
        return render_template("portal/auth.html", masked_email=mask_email(found.contact.email),
                               client_name=found.contact.client.name, token=token)
    if _cross_site_post():
        abort(403)
    if found is None or not consume(found):
        db.session.rollback()
        return _link_not_usable()
    contact = found.contact
    target = safe_target(found.target)
    security.start_session(contact, request.args.get("lang"))
    db.session.commit()
    return redirect(target or url_for("portal.statement"), 303)


def _link_not_usable():
    return render_template(
        "portal/message.html",
        title=_("This link no longer works"),
        message=_("Sign-in links expire, and those asked for on the sign-in page work only once. "
                  "Ask for a new one: it takes a minute."),
        back=url_for("portal.login"),
        back_label=_("Get a new link"),
    ), 404


@bp.post("/logout")
@portal_login_required
def logout():
    """Ends every session of this contact: a copy of the cookie stops working too."""
    end_contact_sessions(current_contact())
    db.session.commit()
    session.clear()
    flash(_("You are signed out."), "info")
    return redirect(url_for("portal.login"), 303)
