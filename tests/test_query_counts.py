"""Pages cost the same number of SQL statements with 5 invoices as with 500.

Each test seeds a client with a few documents, counts the statements one request runs
(a `before_cursor_execute` listener on the engine), adds hundreds more in bulk, and
requires the same count. A page that loads one row at a time fails here.
"""
from __future__ import annotations

import datetime as dt

import pytest

from app.billing import services as billing
from app.company.services import get_company
from app.extensions import db
from tests.support.api import api_headers, rison
from tests.support.factories import TODAY, line, login, make_client, make_invoice, make_staff_user
from tests.support.queries import add_clients, add_documents, add_outbox_and_tickets, convert_quotes, counted_statements


def statements_for(web, url: str, headers: dict[str, str] | None = None) -> int:
    # The company settings row exists in any running install; creating it would add statements.
    get_company()
    db.session.commit()
    web.get(url, headers=headers)  # warm up: FAB's first request per session loads the user's permissions
    # The tests share one session across requests; a real request starts with an empty one.
    db.session.remove()
    with counted_statements() as counter:
        response = web.get(url, headers=headers)
    assert response.status_code == 200, (url, response.status_code)
    return counter["n"]


@pytest.fixture
def staff(web):
    login(web, make_staff_user("Billing").username)
    return web


def test_the_client_360_page_costs_the_same_with_5_and_500_invoices(staff):
    client_id = make_client().id
    db.session.commit()
    add_documents(client_id, 5)
    few = statements_for(staff, f"/clients/{client_id}/dashboard")
    add_documents(client_id, 495)
    many = statements_for(staff, f"/clients/{client_id}/dashboard")
    assert many == few


def test_the_business_dashboard_costs_the_same_with_5_and_500_invoices(staff):
    client_id = make_client().id
    db.session.commit()
    add_documents(client_id, 5)
    few = statements_for(staff, "/")
    add_documents(client_id, 495)
    add_documents(make_client().id, 100)
    many = statements_for(staff, "/")
    assert many == few


def test_the_client_list_shows_balance_due_at_the_same_cost_for_a_full_page(staff):
    add_clients(3)
    few = statements_for(staff, "/clientview/list/")
    add_clients(40)  # more than a page
    many = statements_for(staff, "/clientview/list/")
    assert many == few


# Every list page, as staff open it: the default page, a filter, the search. 3 rows, then a
# full page of 25 out of 70: a statement per row (a relation loaded lazily) shows as a difference.
ADMIN_LISTS = [
    "/clientview/list/", "/clientview/list/?_flt_2_name=Bulk", "/invoiceview/list/",
    "/invoiceview/list/?_flt_3_status=sent", "/quoteview/list/", "/paymentview/list/", "/outboxview/list/",
    "/tickets/list/", "/tickets/list/?show=all",
]
API_LISTS = [
    "/api/v1/client/", "/api/v1/invoice/", "/api/v1/invoice/?q=" + rison({"filters": [
        {"col": "status", "opr": "eq", "value": "sent"}]}), "/api/v1/quote/", "/api/v1/ticket/",
]


def seed_lists(client_id: int, count: int) -> None:
    add_clients(count // 2)
    add_documents(client_id, count)
    convert_quotes(client_id)
    add_outbox_and_tickets(client_id, count)


def test_every_admin_list_costs_the_same_for_3_rows_and_a_full_page(admin):
    client_id = make_client().id
    db.session.commit()
    seed_lists(client_id, 3)
    few = {url: statements_for(admin, url) for url in ADMIN_LISTS}
    seed_lists(client_id, 67)
    many = {url: statements_for(admin, url) for url in ADMIN_LISTS}
    assert many == few


def test_every_api_list_costs_the_same_for_3_rows_and_a_full_page(web):
    headers = api_headers(web, "Admin")
    client_id = make_client().id
    db.session.commit()
    seed_lists(client_id, 3)
    few = {url: statements_for(web, url, headers) for url in API_LISTS}
    seed_lists(client_id, 67)
    many = {url: statements_for(web, url, headers) for url in API_LISTS}
    assert many == few


def test_the_client_list_shows_each_clients_balance_due(staff):
    owing = make_client("Owing S.r.l.")
    settled = make_client("Settled S.r.l.")
    db.session.commit()
    add_documents(owing.id, 6, 0)  # open: sent 122 + partial 100 + overdue 122
    staff.get("/lang/en")
    page = staff.get("/clientview/list/").get_data(as_text=True)
    owing_row = page[page.index("Owing S.r.l."):page.index("Settled S.r.l.")]
    settled_row = page[page.index("Settled S.r.l."):]
    assert "€344.00" in owing_row
    assert "€0.00" in settled_row[:2000]
    assert settled.id


def test_the_portal_statement_costs_the_same_with_5_and_500_invoices(web):
    from app.portal.tokens import issue_sign_in_link

    client = make_client()
    client_id = client.id
    link = issue_sign_in_link(client.contacts[0])
    db.session.commit()
    assert web.post(link.replace("http://clientela.test", "")).status_code == 303
    add_documents(client_id, 5)
    few = statements_for(web, "/portal/")
    add_documents(client_id, 495)
    many = statements_for(web, "/portal/")
    assert many == few


def test_the_statement_pdf_costs_the_same_with_5_and_500_invoices(staff):
    client = make_client()
    client_id = client.id
    db.session.commit()

    def add_credit_notes(count: int) -> None:  # credit notes are rows, and come off the opening and ageing
        for _ in range(count):
            invoice = make_invoice(client, finalize=True, issue_date=TODAY - dt.timedelta(days=400))
            billing.finalize_credit_note(billing.create_credit_note(
                invoice, "Reso", [line(unit_price="10.00")], issue_date=TODAY - dt.timedelta(days=10)))
        db.session.commit()

    url = f"/clients/{client_id}/statement.pdf?from={TODAY.year - 1}-01-01&to={TODAY.isoformat()}"
    add_documents(client_id, 5)
    add_credit_notes(1)
    few = statements_for(staff, url)
    add_documents(client_id, 495)
    add_credit_notes(5)
    many = statements_for(staff, url)
    assert many == few


@pytest.fixture
def admin(web):
    """Signed in with the Admin role: its permissions are rows in the database (the staff
    roles of app/security/roles.py are FAB built-in roles, checked without queries)."""
    login(web, make_staff_user("Admin").username)
    return web


def test_an_admin_page_reads_the_users_permissions_once_however_many_menu_items_it_checks(admin):
    statements_for(admin, "/clientview/list/")
    with counted_statements() as counter:
        assert admin.get("/clientview/list/").status_code == 200
    permission_reads = [sql for sql in counter["sql"] if "ab_permission_view" in sql]
    assert len(permission_reads) == 1, permission_reads


def test_the_menus_ticket_count_is_read_once_per_page_and_afresh_by_each_request(admin):
    """FAB draws the menu label more than once per page; the waiting tickets are counted once,
    and the next page counts again (a ticket opened in between shows up)."""
    client_id = make_client().id
    db.session.commit()
    statements_for(admin, "/clientview/list/")
    with counted_statements() as counter:
        page = admin.get("/clientview/list/").get_data(as_text=True)
    assert len([sql for sql in counter["sql"] if "FROM ticket" in sql]) == 1, counter["sql"]
    assert "Ticket (1)" not in page and "Tickets (1)" not in page
    from app.clients.models import Client
    from app.tickets.services import open_ticket

    open_ticket(db.session.get(Client, client_id).contacts[0], "Fattura errata", "Il totale non torna.")
    db.session.commit()
    page = admin.get("/clientview/list/").get_data(as_text=True)
    assert "Ticket (1)" in page or "Tickets (1)" in page


def test_permissions_are_read_afresh_by_each_request(app, admin):
    """The per-request permission set never outlives its request: a revoked right is gone on
    the next page, a restored one is back."""
    sm = app.appbuilder.sm
    assert admin.get("/clientview/list/").status_code == 200
    sm.del_permission_role(sm.find_role("Admin"), sm.find_permission_view_menu("can_read", "Client"))
    try:
        assert admin.get("/clientview/list/").status_code != 200
    finally:
        sm.add_permission_role(sm.find_role("Admin"), sm.find_permission_view_menu("can_read", "Client"))
    assert admin.get("/clientview/list/").status_code == 200


def test_the_portal_statement_is_computed_once_per_change_of_the_clients_documents(web):
    """A repeated view runs only the session check; the first view after a change runs the
    statement's queries, as many with 500 invoices as with 5."""
    from app.portal.tokens import issue_sign_in_link

    client = make_client()
    client_id = client.id
    link = issue_sign_in_link(client.contacts[0])
    get_company()
    db.session.commit()
    assert web.post(link.replace("http://clientela.test", "")).status_code == 303

    def count_view() -> int:
        db.session.remove()
        with counted_statements() as counter:
            assert web.get("/portal/").status_code == 200
        return counter["n"]

    add_documents(client_id, 5)
    first, again = count_view(), count_view()
    add_documents(client_id, 495)  # rebuilding the client's rollup moves its version on
    first_after_change, again_after_change = count_view(), count_view()

    assert again == again_after_change == 1, "the session check brings everything a repeated view needs"
    assert first_after_change == first > again


def test_the_home_page_reads_the_same_few_statements_with_ten_times_the_clients(staff):
    """The home dashboard reads rollups: its figures cost a handful of statements, the same
    with 10 clients as with 100 (each with open invoices, payments and timeline entries)."""
    add_clients(10)
    few = statements_for(staff, "/")
    add_clients(90)
    with counted_statements() as counter:
        db.session.remove()
        assert staff.get("/").status_code == 200
    assert counter["n"] == few
    figures = [sql for sql in counter["sql"] if any(table in sql for table in (
        "receivable_day", "revenue_month", "quote_tally", "client_balance", "activity", "quote."))]
    assert len(figures) <= 6, figures


def test_the_home_pages_ticket_card_and_the_menu_badge_share_one_count(admin):
    statements_for(admin, "/")
    with counted_statements() as counter:
        db.session.remove()
        assert admin.get("/").status_code == 200
    tickets = [sql for sql in counter["sql"] if "FROM ticket" in sql]
    assert len(tickets) == 1, tickets
