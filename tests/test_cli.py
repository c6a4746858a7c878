"""The operator's commands, run the way `make run` runs them (click's runner, a real database)."""
from __future__ import annotations

import os
import stat

import pytest
from sqlalchemy import func, select

from app.billing.models import Invoice
from app.clients.models import Client
from app.company.models import CompanySettings
from app.extensions import db


@pytest.fixture
def run(app):
    runner = app.test_cli_runner()

    def invoke(*args: str):
        result = runner.invoke(args=["clientela", *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result

    return invoke


@pytest.fixture
def admin_from_env(app, monkeypatch):
    monkeypatch.setitem(app.config, "ADMIN_USERNAME", "direzione")
    monkeypatch.setitem(app.config, "ADMIN_PASSWORD", "Segreta-2025!")
    monkeypatch.setitem(app.config, "ADMIN_EMAIL", "direzione@studio.example")


def _users_and_roles(app):
    sm = app.appbuilder.sm
    db.session.expire_all()
    return (
        db.session.scalar(select(func.count(sm.user_model.id))),
        sorted(role.name for role in db.session.scalars(select(sm.role_model))),
    )


def test_init_creates_the_roles_and_an_admin_who_can_sign_in(app, run, admin_from_env):
    result = run("init")

    sm = app.appbuilder.sm
    user = sm.auth_user_db("direzione", "Segreta-2025!")
    assert user is not None and [role.name for role in user.roles] == ["Admin"]
    assert user.email == "direzione@studio.example"
    assert {"Admin", "Billing", "Support"} <= set(_users_and_roles(app)[1])
    assert "Clientela is ready at http://clientela.test/" in result.output
    assert "direzione / Segreta-2025!" in result.output
    assert db.session.scalar(select(func.count(CompanySettings.id))) == 1


def test_init_is_idempotent(app, run, admin_from_env):
    run("init")
    before = _users_and_roles(app)
    second = run("init")

    assert _users_and_roles(app) == before
    assert before[0] == 1
    assert "Segreta-2025!" not in second.output  # an existing admin's password is not printed again
    assert db.session.scalar(select(func.count(CompanySettings.id))) == 1


def test_init_generates_the_embedded_admin_password_once(app, run, monkeypatch, tmp_path):
    monkeypatch.setitem(app.config, "ADMIN_PASSWORD", "")
    monkeypatch.setattr(app, "instance_path", str(tmp_path))

    first = run("init")
    password_file = tmp_path / "admin_password"
    password = password_file.read_text().strip()
    assert len(password) >= 12
    assert stat.S_IMODE(os.stat(password_file).st_mode) == 0o600
    assert f"admin / {password}" in first.output
    second = run("init")
    assert f"admin / {password}" in second.output  # still shown: the newcomer may have missed it
    assert app.appbuilder.sm.auth_user_db("admin", password) is not None


def test_init_adds_demo_data_only_to_an_empty_database(app, run, admin_from_env):
    run("init", "--demo-if-empty")
    clients = db.session.scalar(select(func.count(Client.id)))
    invoices = db.session.scalar(select(func.count(Invoice.id)))
    assert (clients, invoices) == (25, 150)

    run("init", "--demo-if-empty")
    assert db.session.scalar(select(func.count(Client.id))) == 25


def test_demo_command_adds_clients_with_a_progress_bar_and_a_summary(run):
    result = run("demo", "--clients", "4", "--invoices-per-client", "3", "--seed", "7")

    assert "Creating demo clients" in result.output
    assert "Added 4 clients" in result.output and "12 invoices" in result.output
    assert db.session.scalar(select(func.count(Client.id))) == 4
    run("demo", "--clients", "2", "--invoices-per-client", "1")
    assert db.session.scalar(select(func.count(Client.id))) == 6
    assert db.session.scalar(select(func.count(Invoice.id))) == 14


def test_demo_command_refuses_nonsense_counts(app):
    result = app.test_cli_runner().invoke(args=["clientela", "demo", "--clients", "0"])
    assert result.exit_code == 2 and "--clients" in result.output
    assert db.session.scalar(select(func.count(Client.id))) == 0


def test_portal_link_prints_a_single_use_link_that_signs_the_contact_in(app, run, web):
    from tests.support.factories import make_client

    client = make_client("Bianchi S.r.l.", contacts=[{"name": "Anna", "email": "anna@bianchi.example"}])
    db.session.commit()

    output = run("portal-link", "ANNA@bianchi.example").output
    assert output.startswith("Bianchi S.r.l.: http://clientela.test/portal/auth/")
    path = output.strip().split("http://clientela.test", 1)[1]

    assert web.post(path, headers={"Sec-Fetch-Site": "same-origin"}).status_code == 303
    assert web.get("/portal/").status_code == 200
    web.post("/portal/logout")
    assert web.post(path, headers={"Sec-Fetch-Site": "same-origin"}).status_code != 303, "single use"
    assert client.id


def test_portal_link_for_an_unknown_address_fails_clearly(app):
    result = app.test_cli_runner().invoke(args=["clientela", "portal-link", "nobody@example.it"])
    assert result.exit_code != 0
    assert "No contact with portal access" in result.output
