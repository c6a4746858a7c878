"""The REST API against its own OpenAPI description, fuzzed by schemathesis with a staff token.

For every operation in /api/v1/_openapi, schemathesis generates requests that the schema
allows and sends them to the WSGI app: no answer may be a 5xx, and every answer of our
operations must be one the description documents (status code, content type, body schema).
A bounded, derandomized run: 25 examples per operation.
"""
from __future__ import annotations

import pytest
import schemathesis
from flask_jwt_extended import create_access_token
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support import factories
from app.extensions import db

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def staff_headers(app) -> dict[str, str]:
    """An Admin's JWT; some clients and documents, so ids in the generated paths sometimes exist."""
    admin = factories.make_staff_user("Admin")
    client = factories.make_client("Fuzz S.r.l.")
    factories.make_invoice(client, finalize=True)
    factories.make_invoice(client)
    factories.make_quote(client, finalize=True)
    db.session.commit()
    return {"Authorization": f"Bearer {create_access_token(identity=str(admin.id), fresh=True)}",
            "Accept-Language": "en"}


# FAB's own, with FAB's descriptions: menu separators are "-", login/refresh errors are not FAB's shape.
FAB_OPERATIONS = ["/api/v1/menu/", "/api/v1/security/login", "/api/v1/security/refresh"]


def fuzz(app, headers: dict[str, str], checks, exclude: list[str] = ()) -> list[str]:
    """Run every operation of the description (but the `exclude` paths) through schemathesis;
    the failures, one line each.

    The Python API rather than schemathesis' pytest loader (`from_fixture`), which fails on this
    pytest (it sets `node._nodeid`, gone in pytest 9)."""
    api = schemathesis.openapi.from_wsgi("/api/v1/_openapi", app, headers=headers)
    if exclude:
        api = api.exclude(path=list(exclude))
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 20, "every endpoint of docs/api.md is described"
    failures: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, derandomize=True, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
        def answers(case):
            # Each request in its own app context, as on a server: a fresh session, and a fresh
            # `g` (the JWT user of the request before would be left there, detached).
            with app.app_context():
                case.call_and_validate(headers=headers, checks=checks)

        try:
            answers()
        except (Exception, BaseExceptionGroup) as error:  # noqa: BLE001 - every operation is tried, all reported
            details = getattr(error, "exceptions", None) or [error]
            failures.append(f"{operation.label}: " + " | ".join(sorted({str(d).splitlines()[0] for d in details})))
    return failures


def test_no_generated_request_gets_a_server_error(app, staff_headers):
    failures = fuzz(app, staff_headers, [not_a_server_error])
    assert not failures, "\n".join(failures)


def test_every_answer_of_ours_matches_the_api_description(app, staff_headers):
    failures = fuzz(app, staff_headers, CHECKS, exclude=FAB_OPERATIONS)
    assert not failures, "\n".join(failures)
