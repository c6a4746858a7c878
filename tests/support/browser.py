"""Debian's Chromium under Playwright: the flags without which it stalls on this closed network,
the app on a local port and a page of a fresh Italian browser profile (the `live_server` and
`browser_page` fixtures, loaded by `pytest_plugins` in tests/conftest.py), and signing staff in as a person would."""
from __future__ import annotations

import tempfile
import threading

import pytest
from werkzeug.serving import make_server

from tests.support.factories import STAFF_PASSWORD

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def browser_page():
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="clientela-chromium-") as profile, sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True,
            accept_downloads=True, locale="it-IT",
        )
        try:
            yield context.new_page()
        finally:
            context.close()


@pytest.fixture
def live_server(app):
    """The app on a random local port; links in emails point at it for the test's duration."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{server.server_port}"
    saved = app.config["PUBLIC_BASE_URL"]
    app.config["PUBLIC_BASE_URL"] = base_url
    yield base_url
    app.config["PUBLIC_BASE_URL"] = saved
    server.shutdown()
    thread.join(timeout=10)


def sign_in_staff(page, base_url: str, username: str, password: str | None = None) -> None:
    """Sign a staff user in on the admin's login page."""
    page.goto(f"{base_url}/login/")
    page.fill("#username", username)
    page.fill("#password", password or STAFF_PASSWORD)
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_selector("a[href='/logout/']", state="attached")
