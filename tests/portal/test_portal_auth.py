"""Signing in to the portal: link scanners, expiry, revocation, single use, logout, rate limits,
no enumeration, CSRF and security headers."""
from __future__ import annotations

import datetime as dt
import re
import threading

import pytest
from flask import g
from sqlalchemy import select
from werkzeug.serving import make_server

from app.clients.models import Contact
from app.extensions import db
from app.mail.models import OutboxEmail
from app.portal.models import PortalToken
from app.portal.security import SIGNED_IN_AT_KEY
from app.portal.tokens import issue_sign_in_link, revoke_contact_access
from tests.support.portal import csrf_token_from, link_token, make_client, make_invoice, sign_in

LINK = re.compile(r"https?://[^\s\"'<>]+/portal/auth/[A-Za-z0-9_-]+")


def _signed_in(web) -> bool:
    return web.get("/portal/").status_code == 200


def _token_row(raw: str) -> PortalToken:
    from app.portal.tokens import hash_token

    db.session.expire_all()
    return db.session.scalar(select(PortalToken).where(PortalToken.token_hash == hash_token(raw)))


# ---------------------------------------------------------------- the link page and link scanners

def test_opening_a_link_shows_one_button_with_a_masked_address_and_the_business_name(web):
    _client, contact = make_client("Rossi Arredamenti S.r.l.", "giulia@rossi.it")
    raw = link_token(issue_sign_in_link(contact))
    db.session.commit()

    response = web.get(f"/portal/auth/{raw}")

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "g*****@r*****.it" in page and "giulia@rossi.it" not in page
    assert "Rossi Arredamenti S.r.l." in page
    assert len(re.findall(r"<form method=\"post\"", page)) == 1
    assert page.count("<button") == 1


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_scanner_opening_the_link_neither_signs_in_nor_uses_the_link_up(web, method):
    _client, contact = make_client("Rossi S.r.l.", "giulia@rossi.it")
    raw = link_token(issue_sign_in_link(contact, single_use=True, ttl=dt.timedelta(minutes=15)))
    db.session.commit()

    for _ in range(3):
        response = web.open(f"/portal/auth/{raw}", method=method)
        assert response.status_code == 200
        assert "Set-Cookie" not in response.headers, "a GET or HEAD must not start any session"

    assert _token_row(raw).used_at is None
    assert not _signed_in(web)
    assert web.post(f"/portal/auth/{raw}").status_code == 303, "the person can still use the link"


def test_pressing_the_button_signs_in_rotates_the_session_and_lands_on_the_document(web):
    client, contact = make_client("Rossi S.r.l.", "giulia@rossi.it")
    invoice = make_invoice(client)
    raw = link_token(issue_sign_in_link(contact, target=f"/portal/invoices/{invoice.id}", purpose="invoice"))
    db.session.commit()
    with web.session_transaction() as session:
        session["left_over"] = "from before"

    response = web.post(f"/portal/auth/{raw}")

    assert response.status_code == 303
    assert response.headers["Location"] == f"/portal/invoices/{invoice.id}"
    assert raw not in response.headers["Location"]
    assert response.headers["Referrer-Policy"] == "no-referrer"
    with web.session_transaction() as session:
        assert "left_over" not in session, "signing in starts a fresh session"
        assert session["portal_contact_id"] == contact.id
    assert _signed_in(web)


def test_without_a_target_the_button_lands_on_the_statement(web):
    _client, contact = make_client("Rossi S.r.l.", "giulia@rossi.it")
    raw = link_token(issue_sign_in_link(contact))
    db.session.commit()
    assert web.post(f"/portal/auth/{raw}").headers["Location"] == "/portal/"


def test_a_post_from_another_site_is_refused_and_leaves_the_link_unused(web):
    _client, contact = make_client("Rossi S.r.l.", "giulia@rossi.it")
    raw = link_token(issue_sign_in_link(contact, single_use=True))
    db.session.commit()

    assert web.post(f"/portal/auth/{raw}", headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert web.post(f"/portal/auth/{raw}", headers={"Origin": "https://evil.example"}).status_code == 403
    assert _token_row(raw).used_at is None
    assert not _signed_in(web)


# ---------------------------------------------------------------- links that must not work

def _assert_link_refused(web, raw: str) -> None:
    assert web.get(f"/portal/auth/{raw}").status_code == 404
    response = web.post(f"/portal/auth/{raw}")
    assert response.status_code == 404
    assert "no longer works" in response.get_data(as_text=True) or "non funziona" in response.get_data(as_text=True)
    assert not _signed_in(web)


def test_an_expired_link_does_not_sign_in(web):
    _client, contact = make_client("Rossi S.r.l.", "giulia@rossi.it")
    raw = link_token(issue_sign_in_link(contact, ttl=dt.timedelta(seconds=-1)))
    db.session.commit()
    _assert_link_refused(web, raw)


def test_a_revoked_contact_cannot_sign_in_and_its_open_sessions_end(web, app):
    _client, contact = make_client("Rossi S.r.l.", "giulia@rossi.it")
    raw = link_token(issue_sign_in_link(contact))
    sign_in(web, contact)
    assert _signed_in(web)

    revoke_contact_access(db.session.get(Contact, contact.id))
    db.session.commit()

    assert not _signed_in(web), "the running session ends at once"
    _assert_link_refused(app.test_client(), raw)


def test_an_archived_client_cannot_sign_in_and_its_sessions_end(web, app):
    client, contact = make_client("Rossi S.r.l.", "giulia@rossi.it")
    raw = link_token(issue_sign_in_link(contact))
    sign_in(web, contact)
    client.archived = True
    db.session.commit()

    assert not _signed_in(web)
    _assert_link_refused(app.test_client(), raw)


def test_a_removed_contact_cannot_sign_in_and_its_sessions_end(web, app):
    client, contact = make_client("Rossi S.r.l.", "giulia@rossi.it")
    raw = link_token(issue_sign_in_link(contact))
    sign_in(web, contact)
    client.contacts.remove(contact)
    db.session.commit()

    assert not _signed_in(web)
    _assert_link_refused(app.test_client(), raw)


def test_a_session_older_than_its_lifetime_ends(web):
    _client, contact = make_client("Rossi S.r.l.", "giulia@rossi.it")
    sign_in(web, contact)
    with web.session_transaction() as session:
        session[SIGNED_IN_AT_KEY] -= 12 * 3600 + 1
    assert not _signed_in(web)


def test_a_single_use_link_works_once(web, app):
    _client, contact = make_client("Rossi S.r.l.", "giulia@rossi.it")
    raw = link_token(issue_sign_in_link(contact, single_use=True, ttl=dt.timedelta(minutes=15)))
    db.session.commit()

    assert web.post(f"/portal/auth/{raw}").status_code == 303
    second = app.test_client()
    assert second.post(f"/portal/auth/{raw}").status_code == 404
    assert not _signed_in(second)


@pytest.mark.postgres_only
def test_a_single_use_link_signs_in_exactly_once_under_ten_concurrent_clicks(app):
    _client, contact = make_client("Rossi S.r.l.", "giulia@rossi.it")
    raw = link_token(issue_sign_in_link(contact, single_use=True, ttl=dt.timedelta(minutes=15)))
    db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    import http.client

    statuses: list[int] = []
    barrier = threading.Barrier(10)

    def click() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=30)
        barrier.wait()
        connection.request("POST", f"/portal/auth/{raw}", body=b"", headers={"Content-Length": "0"})
        statuses.append(connection.getresponse().status)
        connection.close()

    try:
        clicks = [threading.Thread(target=click) for _ in range(10)]
        for each in clicks:
            each.start()
        for each in clicks:
            each.join(timeout=60)
    finally:
        server.shutdown()
        thread.join(timeout=10)

    assert sorted(statuses) == [303] + [404] * 9


# ---------------------------------------------------------------- logout

def test_logout_ends_the_session_even_for_a_copied_cookie(web, app):
    _client, contact = make_client("Rossi S.r.l.", "giulia@rossi.it")
    sign_in(web, contact)
    copied = web.get_cookie("session").value

    response = web.post("/portal/logout")

    assert response.status_code == 303 and response.headers["Location"] == "/portal/login"
    assert not _signed_in(web)
    thief = app.test_client()
    thief.set_cookie("session", copied)
    response = thief.get("/portal/")
    assert response.status_code == 302 and response.headers["Location"] == "/portal/login"


# ---------------------------------------------------------------- asking for a link

def _ask_for_link(web, email: str, **kwargs):
    return web.post("/portal/login", data={"email": email}, **kwargs)


def test_asking_for_a_link_sends_a_single_use_fifteen_minute_link(web, smtp_server):
    _client, contact = make_client("Rossi S.r.l.", "giulia@rossi.it")
    db.session.commit()

    response = _ask_for_link(web, "Giulia@Rossi.it ")

    assert response.status_code == 200
    [message] = smtp_server.to("giulia@rossi.it")
    url = LINK.search(message.get_body(("plain",)).get_content()).group(0)
    token = _token_row(link_token(url))
    assert token.contact_id == contact.id and token.single_use
    lifetime = token.expires_at - dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    assert dt.timedelta(minutes=14) < lifetime <= dt.timedelta(minutes=15)

    assert web.post(url.removeprefix("http://clientela.test")).status_code == 303
    assert _signed_in(web)


def test_the_answer_is_the_same_for_known_and_unknown_addresses(web, smtp_server):
    make_client("Rossi S.r.l.", "giulia@rossi.it")
    db.session.commit()

    known = _ask_for_link(web, "giulia@rossi.it")
    unknown = _ask_for_link(web, "nobody@rossi.it")

    assert known.status_code == unknown.status_code == 200
    assert known.get_data(as_text=True).replace("giulia@rossi.it", "X") == \
        unknown.get_data(as_text=True).replace("nobody@rossi.it", "X")
    assert [m["To"] for m in smtp_server.messages] == ["giulia@rossi.it"]
    assert db.session.scalar(select(db.func.count(PortalToken.id))) == 1


def test_no_link_is_sent_to_a_disabled_contact_or_an_archived_client(web, smtp_server):
    client, _contact = make_client("Rossi S.r.l.", "giulia@rossi.it")
    _other, disabled = make_client("Verdi S.r.l.", "marco@verdi.it")
    client.archived = True
    disabled.portal_enabled = False
    db.session.commit()

    assert _ask_for_link(web, "giulia@rossi.it").status_code == 200
    assert _ask_for_link(web, "marco@verdi.it").status_code == 200
    assert smtp_server.messages == []


def test_links_are_built_on_the_public_base_url_whatever_the_host_header_says(web):
    make_client("Rossi S.r.l.", "giulia@rossi.it")
    db.session.commit()

    _ask_for_link(web, "giulia@rossi.it", headers={"Host": "evil.example", "X-Forwarded-Host": "evil.example"})

    [email] = db.session.scalars(select(OutboxEmail).where(OutboxEmail.to_email == "giulia@rossi.it")).all()
    links = LINK.findall(email.body_text) + LINK.findall(email.body_html)
    assert links and all(link.startswith("http://clientela.test/portal/auth/") for link in links)
    assert "evil.example" not in email.body_text + email.body_html


def test_a_malformed_address_gets_a_clear_error(web):
    response = _ask_for_link(web, "not-an-address")
    assert response.status_code == 400
    assert 'aria-invalid="true"' in response.get_data(as_text=True)


def test_asking_for_links_is_rate_limited_per_ip_and_per_address(limited_app):
    web = limited_app.test_client()
    make_client("Rossi S.r.l.", "giulia@rossi.it")
    db.session.commit()

    answers = [_ask_for_link(web, "giulia@rossi.it", environ_base={"REMOTE_ADDR": f"10.0.0.{n}"}).status_code
               for n in range(1, 5)]
    assert answers == [200, 200, 200, 429], "three per address, whatever the IP"

    answers = [_ask_for_link(web, f"someone{n}@example.it", environ_base={"REMOTE_ADDR": "10.9.9.9"}).status_code
               for n in range(6)]
    assert answers == [200] * 5 + [429], "five per minute from one IP, whatever the address"

    limited = _ask_for_link(web, "other@example.it", environ_base={"REMOTE_ADDR": "10.9.9.9"})
    page = limited.get_data(as_text=True)
    assert limited.status_code == 429
    assert "wait a few minutes" in page or "qualche minuto" in page
    assert limited.headers["X-Content-Type-Options"] == "nosniff"


# ---------------------------------------------------------------- CSRF and headers

@pytest.fixture
def csrf_on(app):
    app.config["WTF_CSRF_ENABLED"] = True
    yield
    app.config["WTF_CSRF_ENABLED"] = False


def test_portal_forms_need_their_csrf_token(web, csrf_on):
    _client, contact = make_client("Rossi S.r.l.", "giulia@rossi.it")
    assert _ask_for_link(web, "giulia@rossi.it").status_code == 400
    token = csrf_token_from(web.get("/portal/login").get_data(as_text=True))
    assert web.post("/portal/login", data={"email": "giulia@rossi.it", "csrf_token": token}).status_code == 200

    sign_in(web, contact)
    g.pop("csrf_token", None)  # the suite keeps one app context (and `g`) across requests
    assert web.post("/portal/logout").status_code == 400
    token = csrf_token_from(web.get("/portal/").get_data(as_text=True))
    assert web.post("/portal/logout", data={"csrf_token": token}).status_code == 303


@pytest.mark.parametrize("path", ["/portal/login", "/portal/", "/portal/invoices", "/portal/quotes",
                                  "/portal/invoices/{invoice}"])
def test_every_portal_page_carries_the_security_headers_and_no_inline_code(web, path):
    client, contact = make_client("Rossi S.r.l.", "giulia@rossi.it")
    invoice = make_invoice(client)
    sign_in(web, contact)

    response = web.get(path.format(invoice=invoice.id))

    assert response.status_code == 200
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*\bsrc=)", page), "no inline scripts"
    assert not re.search(r"\son[a-z]+=", page), "no inline event handlers"
    assert not re.search(r"\sstyle=", page) and "<style" not in page, "no inline styles"


def test_the_portal_speaks_the_clients_language_with_a_switch(web):
    client, contact = make_client("Smith Ltd", "john@smith.co.uk", language="en")
    make_invoice(client, amount="1000.00")
    sign_in(web, contact)

    english = web.get("/portal/").get_data(as_text=True)
    assert '<html lang="en">' in english and "€1,220.00" in english

    italian = web.get("/portal/?lang=it").get_data(as_text=True)
    assert '<html lang="it">' in italian and "1.220,00\xa0€" in italian
    assert '<html lang="it">' in web.get("/portal/invoices").get_data(as_text=True), "the choice is remembered"
