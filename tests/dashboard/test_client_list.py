"""The admin client list (/clientview/list/): paging, sorting, page size, search, the archived
switch, bulk actions and per-row buttons as FAB's list offers them, in both languages, read
in one statement (app/dashboard/lists.py) whatever the page, drawn by FAB's list widget.
"""
from __future__ import annotations

import re

import pytest
from flask import g
from sqlalchemy import insert, select

from app.clients.models import Client
from app.company.services import get_company
from app.extensions import db
from tests.support.factories import login, make_client, make_staff_user
from tests.support.queries import add_documents, counted_statements

LIST = "/clientview/list/"


def as_new_request() -> None:
    """Requests here share the test's app context: start each one as a server would."""
    db.session.remove()
    for name in ("_login_user", "user"):
        g.pop(name, None)


def page(web, path: str = LIST) -> str:
    as_new_request()
    response = web.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response.get_data(as_text=True)


def names_in(html: str) -> list[str]:
    return re.findall(r'<a href="/clients/\d+/dashboard">([^<]*)</a>', html)


def add_clients(names: list[str], **fields) -> None:
    db.session.execute(insert(Client), [{"name": name, "email": f"{i}@{name.lower()}.it", **fields}
                                        for i, name in enumerate(names)])
    db.session.commit()


@pytest.fixture
def staff(web):
    as_new_request()
    login(web, make_staff_user("Billing").username)
    web.get("/lang/en")
    return web


def test_the_list_pages_through_clients_in_name_order_with_the_count(staff):
    names = [f"Cliente {i:02d}" for i in range(30)]
    add_clients(list(reversed(names)))
    first = page(staff)
    assert names_in(first) == names[:25]
    assert "Record Count</strong> 30" in " ".join(first.replace(":", "").split())
    assert "?page_ClientView=1" in first
    assert names_in(page(staff, LIST + "?page_ClientView=1")) == names[25:]


def test_a_column_header_sorts_one_way_then_the_other(staff):
    add_clients(["Alfa"], city="Torino")
    add_clients(["Beta"], city="Ancona")
    add_clients(["Gamma"], city="Milano")
    assert names_in(page(staff, LIST + "?_oc_ClientView=city&_od_ClientView=asc")) == ["Beta", "Gamma", "Alfa"]
    descending = page(staff, LIST + "?_oc_ClientView=city&_od_ClientView=desc")
    assert names_in(descending) == ["Alfa", "Gamma", "Beta"]
    assert "_oc_ClientView=city&amp;_od_ClientView=asc" in descending  # the next click goes back up


def test_a_column_not_offered_for_sorting_leaves_the_name_order(staff):
    add_clients(["Beta", "Alfa"])
    for column in ("contacts", "notes", "nonsense"):
        assert names_in(page(staff, LIST + f"?_oc_ClientView={column}&_od_ClientView=asc")) == ["Alfa", "Beta"]


def test_the_page_size_menu_shows_more_clients_a_page(staff):
    add_clients([f"Cliente {i:02d}" for i in range(60)])
    assert len(names_in(page(staff))) == 25
    assert len(names_in(page(staff, LIST + "?psize_ClientView=50"))) == 50
    assert "?psize_ClientView=100" in page(staff)


def test_search_filters_combine_with_paging_and_the_archived_switch(staff):
    add_clients([f"Rossi {i:02d}" for i in range(30)], city="Bologna")
    add_clients(["Rossi archiviato"], city="Bologna", archived=True)
    add_clients(["Bianchi"], city="Bologna")
    found = page(staff, LIST + "?_flt_0_name=Rossi")
    assert names_in(found) == [f"Rossi {i:02d}" for i in range(25)]
    assert "Record Count</strong> 30" in " ".join(found.replace(":", "").split())
    assert "_flt_0_name=Rossi&amp;page_ClientView=1" in found  # paging keeps the search
    assert names_in(page(staff, LIST + "?_flt_0_name=Rossi&archived=1")) == ["Rossi archiviato"]


def test_a_page_past_the_last_one_is_empty_but_still_counts(staff):
    add_clients(["Alfa", "Beta"])
    html = page(staff, LIST + "?page_ClientView=7")
    assert names_in(html) == [] and "No records found" not in html
    assert "Record Count</strong> 2" in " ".join(html.replace(":", "").split())


def test_an_empty_list_says_so(staff):
    assert "No records found" in page(staff)


def test_each_row_has_its_buttons_and_a_box_for_the_bulk_actions(staff):
    client_id = make_client("Alfa S.r.l.").id
    db.session.commit()
    html = page(staff)
    assert f'<input id="{client_id}" class="action_check" name="rowid" value="{client_id}" type="checkbox">' in html
    assert f'href="/clientview/show/{client_id}"' in html and f'href="/clientview/edit/{client_id}"' in html
    assert f'id="btn-delete-/clientview/delete/{client_id}"' in html  # FAB's delete button
    assert 'id="action_form" action="/clientview/action_post"' in html
    assert "modelActions.execute_multiple('archive'" in html


def test_the_bulk_archive_from_the_list_archives_the_ticked_clients(staff):
    alfa, _beta, gamma = (make_client(name).id for name in ("Alfa", "Beta", "Gamma"))
    db.session.commit()
    as_new_request()
    response = staff.post("/clientview/action_post", data={"action": "archive", "rowid": [alfa, gamma]})
    assert response.status_code == 302
    assert names_in(page(staff)) == ["Beta"]
    assert names_in(page(staff, LIST + "?archived=1")) == ["Alfa", "Gamma"]


def test_a_reader_gets_no_edit_delete_or_bulk_action(web):
    client_id = make_client("Omega S.r.l.").id
    db.session.commit()
    as_new_request()
    login(web, make_staff_user("Support").username)
    html = page(web)
    assert f'href="/clientview/show/{client_id}"' in html
    assert "/clientview/edit/" not in html and "/clientview/delete/" not in html and "/clientview/add" not in html
    assert "action_check" not in html and "action_form" not in html


def test_the_list_reads_in_either_language(staff):
    make_client("Alfa S.r.l.", city="Torino")
    db.session.commit()
    english = page(staff)
    assert "Balance due" in english and '"city": "City"' in english and "Show record" in english
    staff.get("/lang/it")
    italian = page(staff)
    assert "Saldo dovuto" in italian and '"city": "Citt\\u00e0"' in italian and "Balance due" not in italian
    staff.get("/lang/en")
    assert '"city": "City"' in page(staff)


def test_a_clients_name_and_figures_are_escaped(staff):
    make_client("<script>alert(1)</script> & Figli")
    db.session.commit()
    html = page(staff)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Figli" in html


def test_the_list_reads_its_clients_count_and_balances_in_one_statement(staff):
    get_company()
    for name in ("Alfa", "Beta"):
        add_documents(make_client(name).id, 4, 0)
    page(staff)
    as_new_request()
    with counted_statements() as counter:
        assert staff.get(LIST).status_code == 200
    reading_clients = [sql for sql in counter["sql"] if re.search(r"\bFROM client\b", sql)]
    assert len(reading_clients) == 1, reading_clients
    assert "€344.00" in page(staff)  # open: sent 122 + partial 100 + overdue 122; paid: nothing


def test_a_search_pages_through_its_matches_in_name_order_with_their_balances_in_one_statement(staff):
    """The page of matches is chosen before the balances are joined (app/dashboard/lists.py):
    order, paging and each row's balance are still those of the whole list."""
    get_company()
    names = [f"{'rossi' if i % 2 else 'Rossi'} {i:02d}" for i in range(30)]
    add_clients(list(reversed(names)) + ["Bianchi 00", "Verdi 01"])
    owing = db.session.scalar(select(Client.id).where(Client.name == "rossi 27"))
    add_documents(owing, 1, 0)  # one sent invoice: 122.00 open
    first = page(staff, LIST + "?_flt_2_name=ROSSI")
    assert names_in(first) == names[:25]  # case does not change the order
    assert "Record Count</strong> 30" in " ".join(first.replace(":", "").split())
    as_new_request()
    with counted_statements() as counter:
        second = staff.get(LIST + "?_flt_2_name=ROSSI&page_ClientView=1").get_data(as_text=True)
    assert names_in(second) == names[25:]
    rows = second.split("<tr")
    [owing_row] = [row for row in rows if ">rossi 27<" in row]
    assert "€122.00" in owing_row
    assert all("€0.00" in row for row in rows if ">Rossi 2" in row or ">rossi 29<" in row)
    reading_clients = [sql for sql in counter["sql"] if re.search(r"\bFROM client\b", sql)]
    assert len(reading_clients) == 1, reading_clients
