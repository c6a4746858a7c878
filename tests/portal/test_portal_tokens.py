"""Portal sign-in links: what is stored, how long they live, who can spend them."""
from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import select

from app.extensions import db
from app.portal.models import PortalToken
from app.portal.tokens import (
    consume,
    find_usable_token,
    issue_sign_in_link,
    revoke_contact_access,
)
from tests.support.portal import link_token, make_client


def test_a_link_is_absolute_on_the_public_base_url_and_only_its_hash_is_stored(app):
    _client, contact = make_client("Rossi Srl", "giulia@rossi.it")
    url = issue_sign_in_link(contact, target="/portal/invoices/7", purpose="invoice")
    db.session.commit()

    assert url.startswith("http://clientela.test/portal/auth/")
    raw = link_token(url)
    assert len(raw) >= 43
    stored = db.session.scalars(select(PortalToken)).one()
    assert stored.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in (stored.token_hash, stored.target or "", stored.purpose)
    assert stored.contact_id == contact.id
    assert stored.target == "/portal/invoices/7"
    assert find_usable_token(raw).id == stored.id


def test_a_link_lasts_portal_link_days_by_default(app):
    _client, contact = make_client("Rossi Srl", "giulia@rossi.it")
    issue_sign_in_link(contact)
    token = db.session.scalars(select(PortalToken)).one()
    lifetime = token.expires_at - dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    assert dt.timedelta(days=29, hours=23) < lifetime <= dt.timedelta(days=30)


def test_an_expired_link_is_not_usable(app):
    _client, contact = make_client("Rossi Srl", "giulia@rossi.it")
    url = issue_sign_in_link(contact, ttl=dt.timedelta(seconds=-1))
    assert find_usable_token(link_token(url)) is None


def test_unknown_and_tampered_secrets_are_not_usable(app):
    _client, contact = make_client("Rossi Srl", "giulia@rossi.it")
    raw = link_token(issue_sign_in_link(contact))
    assert find_usable_token(raw[:-1] + ("A" if raw[-1] != "A" else "B")) is None
    assert find_usable_token("") is None
    assert find_usable_token("x" * 5000) is None


def test_targets_outside_the_portal_are_dropped(app):
    _client, contact = make_client("Rossi Srl", "giulia@rossi.it")
    for target in ("https://evil.example/portal/", "//evil.example", "/admin/", "/portal//evil.example"):
        issue_sign_in_link(contact, target=target)
    assert db.session.scalars(select(PortalToken.target)).all() == [None] * 4


def test_a_single_use_link_is_spent_once(app):
    _client, contact = make_client("Rossi Srl", "giulia@rossi.it")
    raw = link_token(issue_sign_in_link(contact, single_use=True, ttl=dt.timedelta(minutes=15)))
    token = find_usable_token(raw)
    assert consume(token) is True
    assert consume(token) is False
    db.session.commit()
    assert find_usable_token(raw) is None


def test_a_document_link_can_be_used_again(app):
    _client, contact = make_client("Rossi Srl", "giulia@rossi.it")
    raw = link_token(issue_sign_in_link(contact))
    assert consume(find_usable_token(raw)) is True
    db.session.commit()
    assert consume(find_usable_token(raw)) is True


def test_revoking_access_kills_every_link_and_session_and_disables_the_portal(app):
    _client, contact = make_client("Rossi Srl", "giulia@rossi.it")
    raws = [link_token(issue_sign_in_link(contact)) for _ in range(3)]
    version = contact.session_version
    revoke_contact_access(contact)
    db.session.commit()

    assert all(find_usable_token(raw) is None for raw in raws)
    assert contact.session_version == version + 1
    assert contact.portal_enabled is False
    contact.portal_enabled = True
    db.session.commit()
    assert all(find_usable_token(raw) is None for raw in raws), "re-enabling does not revive old links"


def test_an_archived_clients_or_disabled_contacts_links_do_not_work(app):
    client, contact = make_client("Rossi Srl", "giulia@rossi.it")
    raw = link_token(issue_sign_in_link(contact))
    client.archived = True
    db.session.commit()
    assert find_usable_token(raw) is None
    client.archived = False
    contact.portal_enabled = False
    db.session.commit()
    assert find_usable_token(raw) is None


def test_a_removed_contacts_links_do_not_work(app):
    client, contact = make_client("Rossi Srl", "giulia@rossi.it")
    raw = link_token(issue_sign_in_link(contact))
    db.session.commit()
    client.contacts.remove(contact)
    db.session.commit()
    assert find_usable_token(raw) is None
