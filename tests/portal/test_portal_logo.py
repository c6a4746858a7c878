"""The company logo on portal pages is a link to one cached image, never inlined into each page."""
from __future__ import annotations

from app.company.services import get_company
from app.extensions import db
from tests.support.portal import make_client, sign_in

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(40)


def set_logo(content: bytes | None, mime: str) -> None:
    company = get_company()
    company.logo, company.logo_mime = content, mime
    db.session.commit()


def test_pages_link_the_logo_and_the_browser_keeps_it(web):
    set_logo(PNG, "image/png")
    _client, anna = make_client("Alfa S.r.l.", "anna@alfa.it")
    db.session.commit()

    sign_in_page = web.get("/portal/login").get_data(as_text=True)
    sign_in(web, anna)
    statement = web.get("/portal/").get_data(as_text=True)

    for page in (sign_in_page, statement):
        assert '<img class="brand-logo" src="/portal/logo"' in page
        assert "data:image" not in page
    logo = web.get("/portal/logo")
    assert (logo.status_code, logo.mimetype, logo.data) == (200, "image/png", PNG)
    assert logo.headers["Cache-Control"] in ("public, max-age=300", "max-age=300, public")
    again = web.get("/portal/logo", headers={"If-None-Match": logo.headers["ETag"]})
    assert (again.status_code, again.data) == (304, b"")

    set_logo(PNG + b"\x01", "image/png")  # a new logo: the old ETag no longer matches
    assert web.get("/portal/logo", headers={"If-None-Match": logo.headers["ETag"]}).status_code == 200


def test_no_logo_or_a_type_we_do_not_serve_shows_none(web):
    for content, mime in ((None, ""), (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml")):
        set_logo(content, mime)
        assert "brand-logo" not in web.get("/portal/login").get_data(as_text=True)
        assert web.get("/portal/logo").status_code == 404
