"""Calling the REST API as staff: a JWT for a new user of a role, and FAB's rison arguments."""
from __future__ import annotations

import prison

from tests.support.factories import STAFF_PASSWORD, make_staff_user


def api_headers(web, role: str = "Billing", language: str = "en") -> dict[str, str]:
    """Sign a new staff user of `role` in through FAB's JWT login; the headers carry the token
    and ask for messages in `language`."""
    user = make_staff_user(role)
    response = web.post("/api/v1/security/login", json={
        "username": user.username, "password": STAFF_PASSWORD, "provider": "db", "refresh": False,
    })
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['access_token']}", "Accept-Language": language}


def rison(value: dict) -> str:
    """FAB's list arguments travel as rison in `q`."""
    return prison.dumps(value)
