"""Admin pages and API answers carry the security headers the admin can live with; the
portal keeps its own stricter policy."""
from tests.support.factories import login, make_staff_user


def test_admin_pages_refuse_framing_by_other_sites_and_mime_sniffing(web):
    login(web, make_staff_user("Billing").username)
    response = web.get("/clientview/list/")
    assert response.status_code == 200
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_the_api_answers_with_nosniff(web):
    assert web.get("/api/v1/client/").headers["X-Content-Type-Options"] == "nosniff"


def test_the_portal_keeps_its_own_stricter_policy(web):
    response = web.get("/portal/login")
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Referrer-Policy"] == "no-referrer"
