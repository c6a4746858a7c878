"""Issuing, checking and spending portal sign-in links.

A link is `PUBLIC_BASE_URL/portal/auth/<secret>`: the secret is 32 random bytes, the
database keeps only its SHA-256, so a leaked backup signs nobody in. Links sent with
documents last PORTAL_LINK_DAYS days and can be used again; links a contact asks for on
/portal/login are single-use and last 15 minutes. Nothing here commits: the caller's
request or job does, in one transaction with whatever it was doing.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from flask import current_app
from sqlalchemy import select, update

from app.clients.models import Contact
from app.extensions import db
from app.portal.models import PortalToken

LOGIN_LINK_TTL = dt.timedelta(minutes=15)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def safe_target(target: str | None) -> str | None:
    """A target is a path inside the portal; anything else (other sites, `//host`) is dropped."""
    if not target or not target.startswith("/portal/") or "//" in target or "\\" in target:
        return None
    if any(ord(char) < 33 for char in target):
        return None
    return target[:300]


def issue_sign_in_link(contact: Contact, *, target: str | None = None, purpose: str = "statement",
                       ttl: dt.timedelta | None = None, single_use: bool = False) -> str:
    """Create a sign-in link for `contact` and return its absolute URL (built from
    PUBLIC_BASE_URL, never from the request's Host header)."""
    raw = secrets.token_urlsafe(32)
    if ttl is None:
        ttl = dt.timedelta(days=current_app.config.get("PORTAL_LINK_DAYS", 30))
    token = PortalToken(
        contact_id=contact.id,
        token_hash=hash_token(raw),
        purpose=purpose[:20],
        target=safe_target(target),
        single_use=single_use,
        expires_at=_now() + ttl,
    )
    db.session.add(token)
    db.session.flush()
    return f"{current_app.config['PUBLIC_BASE_URL'].rstrip('/')}/portal/auth/{raw}"


def find_usable_token(raw: str) -> PortalToken | None:
    """The token for `raw` if it may still sign its contact in, else None.

    Checks expiry, revocation, single use, and that the contact still has portal access
    (enabled, not removed, client not archived).
    """
    if not raw or len(raw) > 200:
        return None
    token = db.session.scalar(select(PortalToken).where(PortalToken.token_hash == hash_token(raw)))
    if token is None or token.revoked_at is not None or token.expires_at <= _now():
        return None
    if token.single_use and token.used_at is not None:
        return None
    if not contact_may_sign_in(token.contact):
        return None
    return token


def contact_may_sign_in(contact: Contact | None) -> bool:
    return contact is not None and bool(contact.portal_enabled) and not contact.client.archived


def consume(token: PortalToken) -> bool:
    """Spend a link atomically: True for exactly one caller, however many click at once.

    Multi-use links only get their first-use time recorded and always answer True.
    """
    now = _now()
    if not token.single_use:
        db.session.execute(
            update(PortalToken).where(PortalToken.id == token.id, PortalToken.used_at.is_(None)).values(used_at=now)
        )
        return True
    result = db.session.execute(
        update(PortalToken)
        .where(PortalToken.id == token.id, PortalToken.used_at.is_(None), PortalToken.revoked_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def end_contact_sessions(contact: Contact) -> None:
    """Every portal session of this contact stops working (their cookies carry the old version)."""
    db.session.execute(
        update(Contact)
        .where(Contact.id == contact.id)
        .values(session_version=Contact.session_version + 1)
        .execution_options(synchronize_session=False)
    )
    db.session.expire(contact, ["session_version"])


def revoke_contact_access(contact: Contact) -> None:
    """Staff's "revoke portal access": all links die, all sessions end, and the contact cannot
    ask for a new link until staff enable the portal for them again (Contact.portal_enabled)."""
    db.session.execute(
        update(PortalToken)
        .where(PortalToken.contact_id == contact.id, PortalToken.revoked_at.is_(None))
        .values(revoked_at=_now())
        .execution_options(synchronize_session=False)
    )
    contact.portal_enabled = False
    db.session.flush()
    end_contact_sessions(contact)
