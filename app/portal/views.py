"""The client portal's blueprint and page furniture: `/portal/…`.

The pages themselves are in `auth_views` (sign-in, sign-out) and `document_views` (statement,
invoices, quotes), registered on this blueprint; `app.portal.init_app` loads them.
"""
from __future__ import annotations

import hashlib

from flask import Blueprint, Response, abort, current_app, g, render_template, request, url_for
from flask_babel import gettext as _

from app.billing import states
from app.billing.labels import PORTAL_STATUS_LABELS
from app.company.services import get_company, shown_logo_mime
from app.i18n import SUPPORTED_LANGUAGES, format_date, format_money
from app.portal import security
from app.portal.security import current_contact

bp = Blueprint("portal", __name__, url_prefix="/portal")

LOGO_MAX_AGE = 300  # seconds a browser may show the logo without asking again

# What a client reads for a document's status, and which balance they see: app.billing.states.
STATUS_LABELS = PORTAL_STATUS_LABELS


# ---------------------------------------------------------------- page furniture

def page_context() -> dict[str, object]:
    """The portal's page furniture: company, logo, signed-in contact, language, formatters."""
    contact = current_contact()
    company = g.get("portal_company") or get_company()  # the session check brought it along
    return {
        "company": company,
        "logo_url": url_for("portal.logo") if shown_logo_mime(company) else "",
        "contact": contact,
        "language": g.get("language", "it"),
        "language_links": _language_links(),
        "status_labels": STATUS_LABELS,
        "portal_status": states.portal_status,
        "money": format_money,
        "date": format_date,
        "has_tickets": "tickets.portal_list" in current_app.view_functions,
    }


@bp.get("/logo")
def logo():
    """The company logo of every portal page, sign-in included: fetched once and kept by the
    browser (revalidated by its ETag after five minutes), where inlining it would put up to
    1 MB into every page and read it from the database on every request."""
    company = get_company()
    mime = shown_logo_mime(company)
    if not company.logo or not mime:
        abort(404)
    response = Response(company.logo, mimetype=mime)
    response.set_etag(hashlib.sha256(company.logo).hexdigest())
    response.cache_control.public = True
    response.cache_control.max_age = LOGO_MAX_AGE
    return response.make_conditional(request)


def _language_links() -> list[tuple[str, str, bool]]:
    """(code, url of this page in that language, is current) for the it/en switcher."""
    if request.method != "GET" or request.endpoint is None:
        return []
    args = {**request.view_args, **{k: v for k, v in request.args.items() if k != "lang"}}
    current = g.get("language", "it")
    return [(code, url_for(request.endpoint, **args, lang=code), code == current) for code in SUPPORTED_LANGUAGES]


def not_found_page(_error):
    """"Not found, or not yours": one page for both, so ids reveal nothing."""
    return render_template("portal/message.html", title=_("Not found"),
                           message=_("This page does not exist, or it is not yours to see.")), 404


def use_portal_pages(blueprint: Blueprint) -> None:
    """Make `blueprint` a part of the portal: its session checks, security headers, page
    furniture and not-found page (the payments and tickets blueprints use it too)."""
    security.init_portal_blueprint(blueprint)
    blueprint.context_processor(page_context)
    blueprint.register_error_handler(404, not_found_page)


use_portal_pages(bp)


@bp.errorhandler(429)
def _too_many_requests(_error):
    return render_template(
        "portal/message.html",
        title=_("Too many requests"),
        message=_("You asked for too many sign-in links. Please wait a few minutes and try again."),
        back=url_for("portal.login"),
    ), 429
