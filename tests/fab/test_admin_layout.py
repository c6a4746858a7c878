"""The admin layout (menu, language switcher, user menu, dialogs) is FAB's own, with the
signed-in user's permissions read once per request (app/security/cache.py): every page shows
what its reader may open, in the reader's language, with live figures.
"""
from __future__ import annotations

import pytest
from flask import g

from app.extensions import db
from app.tickets import services as tickets
from tests.support.factories import STAFF_PASSWORD, login, make_client, make_staff_user


@pytest.fixture
def admin(web):
    return sign_in(web, make_staff_user("Admin").username)


def as_new_request() -> None:
    """Requests here share the test's app context: start each one as a server would, without
    the previous request's signed-in user or loaded rows."""
    db.session.remove()
    for name in ("_login_user", "user"):
        g.pop(name, None)


def sign_in(web, username: str):
    as_new_request()
    login(web, username)
    return web


def page(web, path: str = "/clientview/list/") -> str:
    as_new_request()
    response = web.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response.get_data(as_text=True)


def test_a_menu_item_whose_right_is_revoked_leaves_the_menu_on_the_next_page(app, admin):
    sm = app.appbuilder.sm

    def invoices_in_menu() -> bool:
        return 'href="/invoiceview/list/"' in page(admin)

    def menu_right():
        return sm.find_role("Admin"), sm.find_permission_view_menu("menu_access", "Invoices")

    assert invoices_in_menu()
    sm.del_permission_role(*menu_right())
    try:
        assert not invoices_in_menu()
        assert 'href="/clientview/list/"' in page(admin)
    finally:
        sm.add_permission_role(*menu_right())
    assert invoices_in_menu()


def test_each_role_sees_its_own_menu_from_the_same_process(web, app):
    support = page(sign_in(web, make_staff_user("Support").username))
    admin = sign_in(app.test_client(), make_staff_user("Admin").username)
    assert 'href="/invoiceview/list/"' in page(admin) and 'href="/invoiceview/list/"' not in support
    assert 'href="/invoiceview/list/"' not in page(web)


def test_the_menu_reads_in_the_language_chosen_and_back(admin):
    assert ">Clienti<" in "".join(page(admin).split()).replace("&nbsp;", "")
    admin.get("/lang/en")
    english = page(admin)
    assert "Clients" in english and "Clienti" not in english
    assert "User confirmation needed" in english  # FAB's confirm dialog, translated with the rest
    admin.get("/lang/it")
    italian = page(admin)
    assert "Clienti" in italian and "È richiesta la conferma" in italian and ">Annulla</button>" in italian
    assert ">Cancel</button>" in english


def test_the_tickets_item_counts_the_tickets_waiting_now(admin):
    admin.get("/lang/en")
    assert "Tickets (" not in page(admin)
    client = make_client()
    tickets.open_ticket(client.contacts[0], "Fattura errata", "L'importo non torna.")
    db.session.commit()
    assert "Tickets (1)" in page(admin)


def test_each_user_sees_their_own_name(app, web):
    sm = app.appbuilder.sm
    for first_name in ("Anna", "Bruno"):
        sm.add_user(first_name.lower(), first_name, "Rossi", f"{first_name.lower()}@clientela.test",
                    sm.find_role("Billing"), STAFF_PASSWORD)
    assert "Anna Rossi" in page(sign_in(web, "anna"))
    bruno = sign_in(app.test_client(), "bruno")
    assert "Bruno Rossi" in page(bruno) and "Anna Rossi" not in page(bruno)


def test_the_sign_in_page_shows_the_menu_of_a_visitor(web):
    signed_out = page(web, "/login/")
    assert 'href="/clientview/list/"' not in signed_out
    assert "/login/" in signed_out
