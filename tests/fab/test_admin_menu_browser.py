"""The admin menu fits one line on a 1366 px wide screen (the commonest laptop width), in
Italian, for the role that sees every entry: measured in Debian's Chromium."""
from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server

from tests.support.browser import CHROMIUM_ARGS
from tests.support.factories import STAFF_PASSWORD, make_staff_user

pytestmark = pytest.mark.browser


@pytest.fixture
def served(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


def test_the_admin_menu_is_one_line_at_laptop_width(app, served, width=1366):
    from playwright.sync_api import sync_playwright

    admin = make_staff_user("Admin")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": width, "height": 800}, locale="it-IT")
            page.goto(f"{served}/login/")
            page.fill("#username", admin.username)
            page.fill("#password", STAFF_PASSWORD)
            page.click("input[type=submit]")
            page.goto(f"{served}/lang/it")
            page.goto(f"{served}/clientview/list/")
            bar = page.locator(".navbar .navbar-collapse")
            items = page.locator(".navbar .navbar-nav > li")
            assert items.count() > 12  # every entry an admin sees, the language and user menus included
            tops = {round(box["y"]) for box in (items.nth(i).bounding_box() for i in range(items.count()))}
            height = bar.bounding_box()["height"]
            assert len(tops) == 1, f"the menu wraps onto {len(tops)} lines ({height:.0f} px) at {width} px"
        finally:
            browser.close()
