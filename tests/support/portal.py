"""Builders shared by the portal tests: clients with a contact, documents, signing in, and
the `limited_app` fixture (rate limits on). Documents are built with
tests/support/factories.py, through the real billing rules.
"""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest

from app import create_app
from app.billing.models import Invoice, Quote
from app.clients.models import Client, Contact
from app.extensions import db, limiter
from app.portal.tokens import issue_sign_in_link
from tests.support import factories

TODAY = dt.date.today()


def make_client(name: str, email: str, *, language: str = "it") -> tuple[Client, Contact]:
    """A client whose primary contact has `email`."""
    client = factories.make_client(name, email=email, language=language)
    return client, client.contacts[0]


def make_invoice(client: Client, *, amount: str = "100.00", days_overdue: int | None = None,
                 finalize: bool = True) -> Invoice:
    """An invoice of `amount` + 22% VAT; `days_overdue` puts its due date that many days ago."""
    due = TODAY + dt.timedelta(days=30) if days_overdue is None else TODAY - dt.timedelta(days=days_overdue)
    return factories.make_invoice(client, lines=[factories.line(unit_price=amount)], finalize=finalize,
                                  issue_date=min(TODAY, due), due_date=due)


def make_quote(client: Client, *, amount: str = "500.00", finalize: bool = True,
               valid_until: dt.date | None = None) -> Quote:
    return factories.make_quote(client, lines=[factories.line(description="Sito web", unit_price=amount)],
                                finalize=finalize, issue_date=min(TODAY, valid_until or TODAY),
                                valid_until=valid_until)


def link_token(url: str) -> str:
    return url.rsplit("/", 1)[1]


def sign_in(web, contact: Contact, **link_options) -> None:
    """Sign `web` in as `contact` the way a person does: open the link, press the button."""
    url = issue_sign_in_link(contact, **link_options)
    db.session.commit()
    response = web.post(f"/portal/auth/{link_token(url)}")
    assert response.status_code == 303, response.status_code


def gross(amount: str) -> Decimal:
    """`amount` plus 22% VAT, as the invoice total."""
    return (Decimal(amount) * Decimal("1.22")).quantize(Decimal("0.01"))


def csrf_token_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the form carries a CSRF token"
    return match.group(1)


@pytest.fixture
def limited_app(app):
    """The same app wiring with rate limits on, counting in Redis db 7 (or memory without Redis)."""
    limited = create_app(
        "config.TestConfig",
        SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
        REDIS_URL="",
        PUBLIC_BASE_URL="http://clientela.test",
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI=_limit_storage(),
    )
    limiter.reset()
    yield limited
    limiter.reset()
    limiter.enabled = False  # the shared extension goes back to the test suite's setting
    with limited.app_context():
        db.session.remove()
        db.engine.dispose()


def _limit_storage() -> str:
    import redis

    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/7").ping()
        return "redis://127.0.0.1:6379/7"
    except redis.RedisError:
        return "memory://"
