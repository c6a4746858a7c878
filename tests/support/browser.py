"""Debian's Chromium under Playwright: the flags without which it stalls on this closed network,
and a page of a fresh Italian browser profile (the `browser_page` fixture, loaded by
`pytest_plugins` in tests/conftest.py)."""
from __future__ import annotations

import tempfile

import pytest

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
