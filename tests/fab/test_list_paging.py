"""List pages page and count correctly, and the client search finds a name by any part of it.

The count beside each list (app/fab/base.py, `ClientelaInterface`) is exact up to a limit; past
it PostgreSQL shows the planner's estimate ("about N") and SQLite still counts exactly. The
tests lower the limit to cross it with a few rows, and run on SQLite and on PostgreSQL.
"""
from __future__ import annotations

import re

import pytest
from sqlalchemy import insert, text

from app.clients.models import Client
from app.extensions import db
from app.fab.base import ClientelaInterface
from tests.support.api import api_headers, rison
from tests.support.database import is_postgres
from tests.support.factories import login, make_client, make_staff_user
from tests.support.queries import add_clients, add_documents


@pytest.fixture
def staff(web):
    login(web, make_staff_user("Billing").username)
    web.get("/lang/en")
    return web


def invoice_ids(page: str) -> set[str]:
    """The invoices a list page shows (each row links to the invoice's page)."""
    return set(re.findall(r"/invoiceview/show/(\d+)", page))


def test_the_invoice_list_pages_through_every_invoice_once_with_the_exact_total(staff):
    client_id = make_client().id
    db.session.commit()
    add_documents(client_id, 60, 0)

    pages = [staff.get(f"/invoiceview/list/?page_InvoiceView={page}").get_data(as_text=True) for page in range(3)]

    assert all("Record Count" in page and "60" in page.split("Record Count", 1)[1][:80] for page in pages)
    shown = [invoice_ids(page) for page in pages]
    assert [len(ids) for ids in shown] == [25, 25, 10]
    assert len(set().union(*shown)) == 60


def test_the_api_pages_through_every_invoice_once_and_counts_them_all(web):
    headers = api_headers(web)
    client_id = make_client().id
    db.session.commit()
    add_documents(client_id, 60, 0)

    answers = [web.get("/api/v1/invoice/?q=" + rison({"page": page, "page_size": 25}), headers=headers).get_json()
               for page in range(3)]

    assert [answer["count"] for answer in answers] == [60, 60, 60]
    assert [len(answer["ids"]) for answer in answers] == [25, 25, 10]
    assert len({pk for answer in answers for pk in answer["ids"]}) == 60


def test_past_the_exact_limit_postgresql_shows_an_estimate_and_sqlite_still_counts(staff, monkeypatch):
    monkeypatch.setattr(ClientelaInterface, "exact_count_limit", 10)
    client_id = make_client().id
    db.session.commit()
    add_documents(client_id, 30, 0)
    add_clients(12)
    db.session.execute(text("ANALYZE"))
    db.session.commit()

    invoices = staff.get("/invoiceview/list/").get_data(as_text=True)
    clients = staff.get("/clientview/list/").get_data(as_text=True)
    last_page = staff.get("/invoiceview/list/?page_InvoiceView=1").get_data(as_text=True)

    count_of = [page.split("Record Count", 1)[1][:120] for page in (invoices, clients)]
    if is_postgres():
        # The planner's figure from the statistics ANALYZE just took, never below what was counted.
        assert all("about" in shown for shown in count_of), count_of
        assert re.search(r"about (\d+)", count_of[0]) and int(re.search(r"about (\d+)", count_of[0])[1]) >= 11
    else:
        assert "about" not in count_of[0] and "54" in count_of[0]  # 24 invoices + 30
        assert "about" not in count_of[1]
    assert len(invoice_ids(last_page)) == 25  # the second page is there either way


def test_past_the_exact_limit_a_list_filtered_by_a_list_of_values_still_counts(staff, monkeypatch):
    """The ticket inbox shows the open and the answered tickets (status IN a list): past the
    limit its estimate is taken from that SQL too (it was a server error at 1,000 tickets)."""
    from app.tickets.models import Ticket

    monkeypatch.setattr(ClientelaInterface, "exact_count_limit", 10)
    client_id = make_client().id
    contact_id = db.session.get(Client, client_id).contacts[0].id
    db.session.execute(insert(Ticket), [{"subject": f"Domanda {i}", "client_id": client_id, "contact_id": contact_id,
                                         "status": ("open", "answered", "closed")[i % 3]} for i in range(30)])
    db.session.execute(text("ANALYZE"))
    db.session.commit()
    staff.get("/logout/")
    login(staff, make_staff_user("Support").username)

    response = staff.get("/tickets/list/")
    assert response.status_code == 200
    shown = response.get_data(as_text=True).split("Record Count", 1)[1][:120]
    if is_postgres():
        assert re.search(r"about (\d+)", shown) and int(re.search(r"about (\d+)", shown)[1]) >= 11, shown
    else:
        assert "about" not in shown and "20" in shown, shown  # 10 open + 10 answered


@pytest.mark.parametrize("typed", ["Rossi", "rossi", "ROSS"])
def test_the_client_search_finds_a_name_by_a_part_in_its_middle(staff, typed):
    make_client("Studio Rossi & Figli S.r.l.")
    make_client("Bianchi Costruzioni S.p.A.")
    db.session.commit()

    page = staff.get(f"/clientview/list/?_flt_2_name={typed}").get_data(as_text=True)

    assert "Studio Rossi &amp; Figli S.r.l." in page
    assert "Bianchi Costruzioni" not in page


def test_the_api_client_search_finds_a_name_by_a_part_in_its_middle(web):
    headers = api_headers(web)
    rossi = make_client("Ferramenta Rossi Mario").id
    make_client("Verdi Impianti S.r.l.")
    db.session.commit()

    answer = web.get("/api/v1/client/?q=" + rison({"filters": [{"col": "name", "opr": "ct", "value": "rossi"}]}),
                     headers=headers).get_json()

    assert answer["ids"] == [rossi] and answer["count"] == 1


@pytest.mark.postgres_only  # the trigram index exists on PostgreSQL only (SQLite scans)
def test_on_postgresql_the_client_search_can_use_the_trigram_index():
    assert db.session.scalar(text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_client_name_trgm'")) == \
        "CREATE INDEX ix_client_name_trgm ON public.client USING gin (name gin_trgm_ops)"
    make_client("Studio Rossi & Figli S.r.l.")
    db.session.execute(insert(Client), [{"name": f"Impresa {n} S.r.l.", "email": f"i{n}@x.it"} for n in range(3000)])
    db.session.commit()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM ANALYZE client")  # what autovacuum does: the GIN index's statistics
    db.session.execute(text("SET LOCAL enable_seqscan = off"))  # a small table all in memory: ask for the index path
    plan = "\n".join(db.session.execute(text(
        "EXPLAIN SELECT id FROM client WHERE archived = false AND name ILIKE '%rossi%'")).scalars())
    db.session.rollback()

    assert "ix_client_name_trgm" in plan, plan
