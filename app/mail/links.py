"""Sign-in links into the portal, for the emails that carry one.

The portal issues them (it owns the tokens) and sits above mail, so mail cannot import it:
the portal registers its issuer here in its init_app.
"""
from __future__ import annotations

from typing import Protocol

from flask import Flask, current_app

from app.clients.models import Contact

_KEY = "clientela.sign_in_links"


class SignInLinkIssuer(Protocol):
    def __call__(self, contact: Contact, *, target: str, purpose: str) -> str: ...


def use_sign_in_links(app: Flask, issue: SignInLinkIssuer) -> None:
    app.extensions[_KEY] = issue


def sign_in_link(contact: Contact, *, target: str, purpose: str) -> str:
    """A fresh link that signs `contact` in and lands on `target` (a portal path)."""
    issue: SignInLinkIssuer = current_app.extensions[_KEY]
    return issue(contact, target=target, purpose=purpose)
