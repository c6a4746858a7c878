"""Cross-site requests: with CSRF protection on (as in production), every state-changing admin and
portal route refuses a request without the form's token and changes nothing; a GET changes
nothing (FAB's delete and action URLs included); the REST API ignores the browser's session
cookie, so a page on another site cannot drive it through a signed-in admin's browser.

The routes are enumerated from app.url_map, so a new route is checked the day it appears.
The Stripe webhook is CSRF-exempt and checked by its signature instead
(tests/payments/test_payments_stripe.py, tests/security/test_authz_matrix.py::…[stripe_webhooks.stripe_webhook-POST]).
"""
from __future__ import annotations

import re

import pytest
from flask import g
from flask_appbuilder import Model
from werkzeug.routing import Rule

from tests.support import factories
from app.clients.models import Client, Contact
from app.extensions import db
from app.mail import templating
from app.mail.models import ClientEmailTemplate, EmailTemplate, OutboxEmail
from tests.support.portal import link_token, sign_in
from tests.support.tickets import ticket_of
from app.portal.tokens import issue_sign_in_link
from app.tickets.models import TicketAttachment, TicketMessage

# Exempt from the session token, each with its own protection (tested below):
# the sign-in link's POST carries its secret in the URL and refuses cross-site Origins;
# the webhook is signed by Stripe; the REST API takes JWT only; /healthz changes nothing.
TOKEN_EXEMPT = {"portal.auth", "stripe_webhooks.stripe_webhook", "health.healthz"}
# FAB's own REST API: JWT only; the OpenAPI description and FAB's menu are read-only GETs that FAB
# also serves to a signed-in browser (allow_browser_login); login issues tokens to whoever has a password.
API_READABLE_WITH_COOKIE = {"OpenApi.get", "MenuApi.get_menu_data"}
API_PUBLIC = {"SecurityApi.login"}
# GETs whose first call may write, by design: the portal's "viewed" mark (on the document and its
# timeline), a PDF rendered once and cached, the settings row and built-in email templates created
# on first open. A second round of the same GETs must change nothing at all.
FIRST_GET_WRITES = {"activity", "invoice", "quote", "document_pdf", "company_settings", "email_template"}


def snapshot() -> dict[str, list[str]]:
    with db.engine.connect() as connection:
        return {table.name: sorted(repr(tuple(row)) for row in connection.execute(table.select()))
                for table in Model.metadata.sorted_tables}


def changed(before: dict, after: dict) -> set[str]:
    return {name for name in before if before[name] != after[name]}


def as_new_request() -> None:
    """Requests here share the test's app context (Flask reuses it): drop what one request left
    in it (the ORM session and its loaded rows, FAB's signed-in user), as a server would."""
    db.session.remove()
    for name in ("_login_user", "user"):
        g.pop(name, None)


@pytest.fixture
def csrf_on(app):
    saved = app.config["WTF_CSRF_ENABLED"]
    app.config["WTF_CSRF_ENABLED"] = True
    yield
    app.config["WTF_CSRF_ENABLED"] = saved


@pytest.fixture
def world(app):
    client = factories.make_client("Cliente A S.r.l.", email="anna@alfa.it")
    invoice = factories.make_invoice(client, finalize=True)
    draft = factories.make_invoice(client)
    quote = factories.make_quote(client, finalize=True)
    paid = factories.make_paid_invoice(client)
    ticket = ticket_of(client.contacts[0])
    templating.ensure_global_templates()
    templating.save_client_template(client, "invoice", "Fattura {{ document_number }}", "Testo")
    db.session.add(OutboxEmail(idempotency_key="csrf-1", kind="invoice", to_email="anna@alfa.it", subject="F",
                               body_text="T", body_html="<p>T</p>", status="failed", client_id=client.id))
    from app.company.services import get_company

    get_company()
    admin = factories.make_staff_user("Admin")
    db.session.commit()
    ids = {"client": client.id, "contact": client.contacts[0].id, "invoice": invoice.id, "draft": draft.id,
           "quote": quote.id, "payment": paid.payments[0].id, "ticket": ticket.id, "admin": admin.id,
           "admin_username": admin.username}
    db.session.remove()  # each request gets a fresh session; the test keeps ids, not rows
    return ids


def _pk_for(app, endpoint: str, world: dict) -> str:
    """A real row of the view the endpoint belongs to, so a forged request would have a target."""
    view_name = endpoint.split(".")[0]
    special = {"ClientView": world["client"], "InvoiceView": world["draft"], "QuoteView": world["quote"],
               "PaymentView": world["payment"], "TicketView": world["ticket"],
               "UserDBModelView": world["admin"],
               "ClientEmailTemplateView": db.session.scalar(db.select(ClientEmailTemplate.id)),
               "EmailTemplateView": db.session.scalar(db.select(EmailTemplate.id)),
               "OutboxView": db.session.scalar(db.select(OutboxEmail.id))}
    if view_name in special:
        return str(special[view_name])
    view = next((v for v in app.appbuilder.baseviews if v.endpoint == view_name), None)
    model = getattr(getattr(view, "datamodel", None), "obj", None)
    row = db.session.scalar(db.select(model.id).order_by(model.id)) if model is not None else None
    return str(row or 1)


def url_of(app, rule: Rule, world: dict) -> str:
    """The rule's path with every argument filled with a real object of client A."""
    ticket_id = world["ticket"]
    values = {
        "client_id": world["client"], "contact_id": world["contact"], "invoice_id": world["invoice"],
        "quote_id": world["quote"], "ticket_id": ticket_id,
        "attachment_id": db.session.scalar(db.select(TicketAttachment.id).join(TicketMessage).where(
            TicketMessage.ticket_id == ticket_id)), "kind": "invoice", "version": "v1",
        "locale": "en", "filename": "portal/portal.css", "group_by": "0",
        "name": {"ClientView": "archive", "InvoiceView": "finalize", "QuoteView": "accept"}.get(
            rule.endpoint.split(".")[0], "anything"),
    }
    if "token" in rule.arguments:
        values["token"] = link_token(issue_sign_in_link(db.session.get(Contact, world["contact"])))
    path = rule.rule
    for argument in rule.arguments:
        value = values.get(argument) if argument != "pk" else _pk_for(app, rule.endpoint, world)
        if argument == "pk" and rule.rule.startswith("/api/"):
            value = world["invoice"] if "invoice" in rule.rule else world["client"]
        path = re.sub(r"<(?:[^:<>]+:)?%s>" % argument, str(value), path)
    db.session.commit()
    return path


def csrf_token_from(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "the page's form carries a CSRF token"
    return match.group(1)


def _browser_rules(app, methods: set[str]):
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        if rule.rule.startswith("/api/") or not (rule.methods & methods):
            continue
        yield rule


def _sign_in_admin(web, world) -> None:
    page = web.get("/login/").get_data(as_text=True)
    response = web.post("/login/", data={"username": world["admin_username"], "password": factories.STAFF_PASSWORD,
                                         "csrf_token": csrf_token_from(page)})
    assert response.status_code == 302 and "/login" not in response.headers["Location"]


def test_every_state_changing_admin_and_portal_route_refuses_a_request_without_the_token(app, world, csrf_on):
    admin, contact = app.test_client(), app.test_client()
    _sign_in_admin(admin, world)
    sign_in(contact, db.session.get(Contact, world["contact"]))
    checked = []
    for rule in _browser_rules(app, {"POST", "PUT", "DELETE"}):
        if rule.endpoint in TOKEN_EXEMPT:
            continue
        web = contact if rule.rule.startswith("/portal") else admin
        for method in sorted(rule.methods & {"POST", "PUT", "DELETE"}):
            url = url_of(app, rule, world)
            before = snapshot()
            as_new_request()
            response = web.open(url, method=method, data={"action": "archive", "rowid": [str(world["client"])],
                                                          "name": "Cambiato", "body": "Testo", "ids": ["1"]})
            assert response.status_code in (400, 403), f"{method} {url}: {response.status_code} without a token"
            assert not changed(before, snapshot()), f"{method} {url} changed rows without a token"
            checked.append(rule.endpoint)
    assert len(checked) > 60  # every admin form, action and button, and the portal's forms


def test_the_same_post_with_the_forms_token_is_accepted(app, world, csrf_on):
    """The refusals above are about the token, not the request: with it, the archive goes through."""
    web = app.test_client()
    _sign_in_admin(web, world)
    token = csrf_token_from(web.get(f"/clients/{world['client']}/dashboard").get_data(as_text=True))
    response = web.post(f"/clientview/action/archive/{world['client']}", data={"csrf_token": token})
    assert response.status_code == 302
    assert db.session.get(Client, world["client"]).archived is True


def test_a_sign_in_link_cannot_be_posted_from_another_site(app, world, csrf_on):
    token = link_token(issue_sign_in_link(db.session.get(Contact, world["contact"])))
    db.session.commit()
    web = app.test_client()
    before = snapshot()
    response = web.post(f"/portal/auth/{token}", headers={"Origin": "https://evil.example"})
    assert response.status_code == 403
    assert not changed(before, snapshot())
    assert web.get("/portal/").status_code in (302, 303), "not signed in"


def test_no_get_changes_anything_not_even_fab_delete_and_action_urls(app, world, csrf_on):
    web = app.test_client()
    _sign_in_admin(web, world)
    contact = app.test_client()
    sign_in(contact, db.session.get(Contact, world["contact"]))
    gets = [rule for rule in _browser_rules(app, {"GET"}) if rule.endpoint != "AuthDBView.logout"]

    dangerous = [rule for rule in gets if rule.endpoint.endswith((".delete", ".action"))]
    assert len(dangerous) > 20
    for rule in dangerous:
        url = url_of(app, rule, world)
        before = snapshot()
        as_new_request()
        response = web.get(url)
        assert response.status_code in (302, 403, 404), f"GET {url}: {response.status_code}"
        assert not changed(before, snapshot()), f"GET {url} changed rows"

    urls = [(contact if rule.rule.startswith("/portal") else web, url_of(app, rule, world)) for rule in gets]

    def visit_all():
        for browser, url in urls:
            as_new_request()
            assert browser.get(url).status_code < 500, url

    before = snapshot()
    visit_all()
    first = changed(before, snapshot())
    assert first <= FIRST_GET_WRITES, f"GETs wrote to {first - FIRST_GET_WRITES}"
    before = snapshot()
    visit_all()
    assert not changed(before, snapshot()), "a second round of GETs changed rows"


def test_the_rest_api_ignores_a_signed_in_admins_browser_cookie(app, world, csrf_on):
    web = app.test_client()
    _sign_in_admin(web, world)
    assert web.get("/clientview/list/").status_code == 200, "the cookie is a working admin session"
    checked = 0
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.endpoint in API_PUBLIC:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            url = url_of(app, rule, world)
            before = snapshot()
            as_new_request()
            response = web.open(url, method=method, json={"notes": "dal browser", "body": "x", "amount": "1.00"})
            if rule.endpoint in API_READABLE_WITH_COOKIE:
                assert method == "GET" and response.status_code == 200
                continue
            assert response.status_code == 401, f"{method} {url}: {response.status_code} with a browser cookie"
            assert not changed(before, snapshot()), f"{method} {url} changed rows"
            checked += 1
    assert checked >= 25
