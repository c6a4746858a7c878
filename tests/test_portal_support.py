"""Builders shared by the portal tests: two clients, A and B, each with a contact and documents.

No tests live here; the portal test modules import these helpers.
"""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from app.billing import services as billing
from app.clients.models import Client, Contact
from app.extensions import db
from app.portal.tokens import issue_sign_in_link

TODAY = dt.date.today()


def make_client(name: str, email: str, *, language: str = "it") -> tuple[Client, Contact]:
    client = Client(name=name, email=email, language=language, city="Roma", country="IT")
    contact = Contact(name=f"Contatto {name}", email=email, is_primary=True)
    client.contacts.append(contact)
    db.session.add(client)
    db.session.flush()
    return client, contact


def make_invoice(client: Client, *, amount: str = "100.00", days_overdue: int | None = None,
                 issue_days_ago: int = 0, finalize: bool = True):
    """A sent invoice for `amount` + 22% VAT; `days_overdue` puts its due date in the past."""
    issue = TODAY - dt.timedelta(days=issue_days_ago)
    due = TODAY + dt.timedelta(days=30) if days_overdue is None else TODAY - dt.timedelta(days=days_overdue)
    issue = min(issue, due)
    invoice = billing.new_invoice(
        client, issue_date=issue, due_date=due,
        lines=[{"description": "Consulenza", "quantity": "1", "unit_price": amount, "tax_rate": "22"}],
    )
    if finalize:
        billing.finalize_invoice(invoice)
    db.session.flush()
    return invoice


def make_quote(client: Client, *, amount: str = "500.00", finalize: bool = True):
    quote = billing.new_quote(
        client, lines=[{"description": "Sito web", "quantity": "1", "unit_price": amount, "tax_rate": "22"}]
    )
    if finalize:
        billing.finalize_quote(quote)
    db.session.flush()
    return quote


def link_token(url: str) -> str:
    return url.rsplit("/", 1)[1]


def sign_in(web, contact: Contact, **link_options) -> None:
    """Sign `web` in as `contact` the way a person does: open the link, press the button."""
    url = issue_sign_in_link(contact, **link_options)
    db.session.commit()
    response = web.post(f"/portal/auth/{link_token(url)}")
    assert response.status_code == 303, response.status_code


def gross(amount: str) -> Decimal:
    return (Decimal(amount) * Decimal("1.22")).quantize(Decimal("0.01"))


def csrf_token_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the form carries a CSRF token"
    return match.group(1)
