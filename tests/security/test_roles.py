"""Each staff role's exact permissions, and what a Billing or Support user meets in the admin.

The pinned lists are the *effective* permissions: every permission-on-view FAB registered,
checked the way FAB checks a built-in role. A new view that a role's entry matches by
accident (FAB matches entries as regular expressions) changes the list and fails here.
"""
from __future__ import annotations

import re

import pytest
from flask import current_app
from sqlalchemy import func, select

from app.clients.models import Client
from app.extensions import db
from app.security.roles import FAB_ROLES
from tests.support.factories import login, make_client, make_invoice, make_staff_user

SELF_SERVICE = {
    ("UserDBModelView", "can_userinfo"),
    ("ResetMyPasswordView", "can_this_form_get"),
    ("ResetMyPasswordView", "can_this_form_post"),
    ("UserInfoEditView", "can_this_form_get"),
    ("UserInfoEditView", "can_this_form_post"),
}

API_DOCS = {("OpenApi", "can_get"), ("SwaggerView", "can_show")}

EXPECTED = {
    "Billing": {
        ("Client", "can_read"), ("Client", "can_write"),
        ("Invoice", "can_read"), ("Invoice", "can_write"),
        ("Quote", "can_read"), ("Quote", "can_write"),
        ("Payment", "can_read"),
        ("Product", "can_read"), ("Product", "can_write"),
        ("RecurringInvoice", "can_read"), ("RecurringInvoice", "can_write"),
        ("Outbox", "can_read"), ("Outbox", "can_write"),
        ("Dashboard", "can_read"),
        ("Clients", "menu_access"), ("Invoices", "menu_access"), ("Quotes", "menu_access"),
        ("Payments", "menu_access"), ("Products", "menu_access"),
        ("Recurring invoices", "menu_access"), ("Outbox", "menu_access"), ("Online payments", "menu_access"),
        ("Stripe checkouts", "menu_access"), ("Stripe events", "menu_access"), ("SdI", "menu_access"),
        *API_DOCS,
        *SELF_SERVICE,
    },
    "Support": {
        ("Client", "can_read"),
        ("Ticket", "can_read"), ("Ticket", "can_write"),
        ("Dashboard", "can_read"),
        ("Clients", "menu_access"), ("Tickets", "menu_access"),
        *API_DOCS,
        *SELF_SERVICE,
    },
}


def effective_permissions(role_name: str) -> set[tuple[str, str]]:
    sm = current_app.appbuilder.sm
    role = sm.find_role(role_name)
    return {(view, permission) for view, permission in _registered(sm)
            if sm._has_access_builtin_roles(role, permission, view)}


def _registered(sm) -> set[tuple[str, str]]:
    return {(pv.view_menu.name, pv.permission.name) for pv in db.session.scalars(select(sm.permissionview_model))}


@pytest.mark.parametrize("role", ["Billing", "Support"])
def test_each_role_declares_exactly_its_documented_permissions(role):
    declared = {(re.sub(r"\\(.)", r"\1", view).rstrip("$"), permission.rstrip("$"))
                for view, permission in FAB_ROLES[role]}
    assert declared == EXPECTED[role]


@pytest.mark.parametrize("role", ["Billing", "Support"])
def test_each_role_is_granted_exactly_its_documented_permissions(role):
    assert effective_permissions(role) == EXPECTED[role]


def test_admin_has_every_registered_permission():
    sm = current_app.appbuilder.sm
    admin = sm.find_role("Admin")
    granted = {(pv.view_menu.name, pv.permission.name) for pv in admin.permissions}
    assert _registered(sm) <= granted


def test_a_support_user_reads_clients_but_cannot_touch_invoices(web):
    client = make_client("Omega S.r.l.")
    invoice = make_invoice(client, finalize=True)
    db.session.commit()
    login(web, make_staff_user("Support").username)

    page = web.get("/clientview/list/").get_data(as_text=True)
    assert "Omega S.r.l." in page
    show = web.get(f"/clients/{client.id}/dashboard").get_data(as_text=True)  # the client page
    assert "Omega S.r.l." in show
    # No invoice tab, links or buttons (the timeline, which Support reads, names the invoice).
    assert 'id="invoices"' not in show and "/invoiceview/" not in show

    for path in (f"/invoiceview/edit/{invoice.id}", f"/invoiceview/show/{invoice.id}", "/invoiceview/list/",
                 f"/clientview/edit/{client.id}", "/clientview/add"):
        response = web.get(path)
        assert response.status_code in (302, 403), path
        assert "/login" in response.headers.get("Location", "/login"), path

    web.post(f"/clientview/edit/{client.id}", data={"name": "Hacked"})
    web.post(f"/clientview/action/archive/{client.id}")
    db.session.refresh(client)
    assert (client.name, client.archived) == ("Omega S.r.l.", False)


def test_a_billing_user_cannot_open_company_settings_or_user_management(web):
    login(web, make_staff_user("Billing").username)
    for path in ("/companysettingsview/list/", "/companysettingsview/edit/1", "/users/list/", "/roles/list/"):
        response = web.get(path)
        assert response.status_code in (302, 403), path
        assert "/login" in response.headers.get("Location", "/login"), path
    assert web.get("/clientview/list/").status_code == 200
    assert web.get("/invoiceview/list/").status_code == 200


def test_the_menu_shows_each_role_only_what_it_may_open(web):
    login(web, make_staff_user("Support").username)
    page = web.get("/clientview/list/").get_data(as_text=True)
    assert "/clientview/list/" in page
    assert "/invoiceview/list/" not in page and "/companysettingsview/list/" not in page


def test_a_post_without_csrf_token_is_refused_and_a_get_on_delete_deletes_nothing(app, web):
    client = make_client()
    db.session.commit()
    login(web, make_staff_user("Admin").username)
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        response = web.post("/clientview/add", data={"name": "Senza token S.r.l."})
        assert response.status_code == 400
        web.get(f"/clientview/delete/{client.id}")
        response = web.post(f"/clientview/action/archive/{client.id}")
        assert response.status_code == 400
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert db.session.scalar(select(func.count(Client.id))) == 1
    db.session.refresh(client)
    assert client.archived is False


def test_an_admin_opens_every_staff_page_in_the_default_language(web):
    from tests.support.factories import make_quote

    client = make_client()
    invoice = make_invoice(client, finalize=True)
    draft = make_invoice(client)
    quote = make_quote(client, finalize=True)
    db.session.commit()
    login(web, make_staff_user("Admin").username)
    pages = ["/clientview/list/", f"/clients/{client.id}/dashboard", f"/clientview/edit/{client.id}",
             "/clientview/add", "/invoiceview/list/", f"/invoiceview/show/{invoice.id}",
             f"/invoiceview/edit/{draft.id}", f"/invoiceview/payment/{invoice.id}", "/quoteview/list/",
             f"/quoteview/show/{quote.id}", "/paymentview/list/", "/companysettingsview/edit/1"]
    for path in pages:
        db.session.remove()  # each request starts with an empty session, as served (tests share one)
        assert web.get(path).status_code == 200, path


def test_billing_reads_the_outbox_and_the_api_description_but_support_sees_no_outbox(web):
    from tests.support.api import api_headers

    login(web, make_staff_user("Billing").username)
    assert web.get("/outboxview/list/").status_code == 200
    assert web.get("/api/v1/_openapi", headers=api_headers(web, "Billing")).status_code == 200
    web.get("/logout/")
    login(web, make_staff_user("Support").username)
    assert web.get("/outboxview/list/").status_code in (302, 403)
