"""Debian's Chromium under Playwright: the flags without which it stalls on this closed network,
and signing staff in as a person would."""
from __future__ import annotations

from tests.support.factories import STAFF_PASSWORD

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def sign_in_staff(page, base_url: str, username: str, password: str | None = None) -> None:
    """Sign a staff user in on the admin's login page."""
    page.goto(f"{base_url}/login/")
    page.fill("#username", username)
    page.fill("#password", password or STAFF_PASSWORD)
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_selector("a[href='/logout/']", state="attached")
