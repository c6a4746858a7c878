"""Every portal route × every actor: anonymous, a contact of client A, a contact of client B,
each on A's and on B's objects. B's objects answer 404 to A (and A's to B), lists and the
statement never show the other client's documents, anonymous visitors are sent to sign in.

The meta-test at the bottom fails when a /portal route exists that this matrix does not cover.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import pytest

from app.extensions import db
from app.portal.tokens import issue_sign_in_link
from tests.support.portal import link_token, make_client, make_invoice, make_quote, sign_in
from tests.support.tickets import attachment_path, ticket_of


@dataclass
class World:
    clients: dict
    contacts: dict
    invoices: dict
    drafts: dict
    quotes: dict


@pytest.fixture
def world(app):
    clients, contacts, invoices, drafts, quotes = {}, {}, {}, {}, {}
    for owner, email in (("A", "anna@alfa.it"), ("B", "bruno@beta.it")):
        client, contact = make_client(f"Cliente {owner} S.r.l.", email)
        clients[owner], contacts[owner] = client, contact
        invoices[owner] = make_invoice(client, amount="100.00" if owner == "A" else "900.00")
        drafts[owner] = make_invoice(client, finalize=False)
        quotes[owner] = make_quote(client)
    db.session.commit()
    return World(clients, contacts, invoices, drafts, quotes)


@dataclass
class Case:
    """How to call one route on `owner`'s objects, and what its owner gets back."""

    method: str
    build: Callable[[World, str], tuple[str, dict | None]]
    own_status: int
    public: bool = False
    scoped_object: bool = True  # False: the route shows the signed-in client's data, no id in it
    content_type: str | None = None


def _fixed(path: str, data: dict | None = None):
    return lambda world, owner: (path, data)


def _xml_path(world: World, owner: str) -> tuple[str, None]:
    """The invoice's FatturaPA file, made as finalizing makes it once the company is Italian."""
    from app.einvoice.services import issue_file
    from tests.support.einvoice import italian_company

    italian_company()
    issue_file(world.invoices[owner])
    return f"/portal/invoices/{world.invoices[owner].id}/xml", None


MATRIX: dict[str, Case] = {
    "portal.login": Case("GET", _fixed("/portal/login"), 200, public=True, scoped_object=False),
    "portal.auth": Case(
        "GET",
        lambda w, o: (f"/portal/auth/{link_token(issue_sign_in_link(w.contacts[o]))}", None),
        200, public=True, scoped_object=False,
    ),
    # The matrix's company has no logo: public, and nothing to show.
    "portal.logo": Case("GET", _fixed("/portal/logo"), 404, public=True, scoped_object=False),
    "portal.logout": Case("POST", _fixed("/portal/logout", {}), 303, scoped_object=False),
    "portal.statement": Case("GET", _fixed("/portal/"), 200, scoped_object=False),
    "portal.statement_pdf": Case("GET", _fixed("/portal/statement.pdf"), 200, scoped_object=False,
                                 content_type="application/pdf"),
    "portal.invoices": Case("GET", _fixed("/portal/invoices"), 200, scoped_object=False),
    "portal.invoice": Case("GET", lambda w, o: (f"/portal/invoices/{w.invoices[o].id}", None), 200),
    "portal.invoice_pdf": Case("GET", lambda w, o: (f"/portal/invoices/{w.invoices[o].id}/pdf", None), 200,
                               content_type="application/pdf"),
    "portal.invoice_xml": Case("GET", _xml_path, 200, content_type="application/xml"),
    "portal.download_invoices": Case("POST", lambda w, o: ("/portal/invoices/download", {"ids": [w.invoices[o].id]}),
                                     200, content_type="application/zip"),
    "portal.quotes": Case("GET", _fixed("/portal/quotes"), 200, scoped_object=False),
    "portal.quote": Case("GET", lambda w, o: (f"/portal/quotes/{w.quotes[o].id}", None), 200),
    "portal.quote_pdf": Case("GET", lambda w, o: (f"/portal/quotes/{w.quotes[o].id}/pdf", None), 200,
                             content_type="application/pdf"),
    "portal.accept_quote": Case("POST", lambda w, o: (f"/portal/quotes/{w.quotes[o].id}/accept", {}), 303),
    "portal.reject_quote": Case("POST", lambda w, o: (f"/portal/quotes/{w.quotes[o].id}/reject", {"reason": "x"}),
                                303),
    "tickets.portal_list": Case("GET", _fixed("/portal/tickets"), 200, scoped_object=False),
    "tickets.portal_ticket": Case("GET", lambda w, o: (f"/portal/tickets/{ticket_of(w.contacts[o]).id}", None), 200),
    "tickets.portal_attachment": Case("GET", lambda w, o: (attachment_path(w.contacts[o]), None), 200,
                                      content_type="application/pdf"),
    # Stripe "Pay now" (app/payments): without Stripe keys, pay goes back to the invoice page.
    "payments.pay": Case("POST", lambda w, o: (f"/portal/invoices/{w.invoices[o].id}/pay", {}), 303),
    "payments.paid": Case("GET", lambda w, o: (f"/portal/invoices/{w.invoices[o].id}/paid", None), 200),
    "payments.cancelled": Case("GET", lambda w, o: (f"/portal/invoices/{w.invoices[o].id}/pay/cancelled", None), 302),
}

ACTORS = ("anonymous", "A", "B")
OWNERS = ("A", "B")


def _call(web, case: Case, world: World, owner: str):
    url, data = case.build(world, owner)
    db.session.commit()
    return web.open(url, method=case.method, data=data)


@pytest.mark.parametrize("owner", OWNERS)
@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("endpoint", sorted(MATRIX))
def test_route_answers_each_actor_only_with_their_own_data(app, web, world, endpoint, actor, owner):
    case = MATRIX[endpoint]
    if actor != "anonymous":
        sign_in(web, world.contacts[actor])
    other = "B" if actor == "A" else "A"

    response = _call(web, case, world, owner)

    if actor == "anonymous" and not case.public:
        assert response.status_code in (302, 303)
        assert response.headers["Location"].endswith("/portal/login")
        return
    if actor != "anonymous" and case.scoped_object and owner != actor:
        assert response.status_code == 404, "another client's object must look like it does not exist"
        assert response.mimetype == "text/html"
        return
    assert response.status_code == case.own_status
    if case.content_type:
        assert response.mimetype == case.content_type
    if actor != "anonymous" and response.mimetype == "text/html":
        page = response.get_data(as_text=True)
        for document in (world.invoices[other], world.quotes[other], world.drafts[actor]):
            assert f">{document.number}<" not in page if document.number else True
        assert f"/invoices/{world.invoices[other].id}\"" not in page
        assert f"/quotes/{world.quotes[other].id}\"" not in page
        assert f"/invoices/{world.drafts[actor].id}\"" not in page, "drafts never reach the portal"


@pytest.mark.parametrize("path", ["/portal/invoices/{id}", "/portal/invoices/{id}/pdf", "/portal/invoices/{id}/xml"])
def test_a_draft_invoice_is_not_found_even_by_its_own_client(web, world, path):
    sign_in(web, world.contacts["A"])
    assert web.get(path.format(id=world.drafts["A"].id)).status_code == 404


def test_every_portal_route_is_in_the_matrix(app):
    portal_endpoints = {rule.endpoint for rule in app.url_map.iter_rules() if rule.rule.startswith("/portal")}
    missing = portal_endpoints - set(MATRIX)
    assert not missing, f"add these portal routes to the route × actor matrix: {sorted(missing)}"
    assert set(MATRIX) <= portal_endpoints, "the matrix names a route that no longer exists"
