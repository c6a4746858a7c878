"""The operator's commands, run the way `make run` runs them (click's runner, a real database)."""
from __future__ import annotations

import http.client
import logging
import os
import signal
import stat
import threading
import time
import urllib.request

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
    assert "Admin user created: direzione / Segreta-2025!" in result.output
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
    assert password not in second.output  # `serve` shows it each time, with the URL
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
    assert "e-invoice files in" in result.output and "ms each" in result.output
    assert db.session.scalar(select(func.count(Client.id))) == 4
    run("demo", "--clients", "2", "--invoices-per-client", "1")
    assert db.session.scalar(select(func.count(Client.id))) == 6
    assert db.session.scalar(select(func.count(Invoice.id))) == 14
    assert "e-invoice" not in run("demo", "--clients", "1", "--no-einvoice", "--seed", "7").output


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


def _serve_in_background(app, port: int):
    """`clientela serve`'s server in a thread; returns (ready event, what on_ready saw, stop)."""
    from app.ops.serve import serve

    ready, stop, seen = threading.Event(), threading.Event(), []

    def on_ready(url: str) -> None:
        with urllib.request.urlopen(f"{url}/healthz", timeout=5) as response:
            seen.append((url, response.status))
        ready.set()

    thread = threading.Thread(target=serve, args=(app, "127.0.0.1", port, on_ready, stop), daemon=True)
    thread.start()
    return ready, seen, stop, thread


def test_serve_says_ready_once_healthz_answers_and_later_links_use_its_port(app, run, monkeypatch, tmp_path):
    import config
    from tests.support.factories import make_client

    monkeypatch.setattr(app, "instance_path", str(tmp_path))
    monkeypatch.delenv("PUBLIC_BASE_URL", raising=False)
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", app.config["PUBLIC_BASE_URL"])  # put back afterwards
    make_client("Bianchi S.r.l.", contacts=[{"name": "Anna", "email": "anna@bianchi.example"}])
    db.session.commit()

    ready, seen, stop, thread = _serve_in_background(app, 5141)
    try:
        assert ready.wait(30), "the server never became healthy"
        assert seen == [("http://127.0.0.1:5141", 200)], "ready is announced with /healthz already answering"
        assert (tmp_path / "public_base_url").read_text().strip() == "http://127.0.0.1:5141"
        assert config.public_base_url(tmp_path) == "http://127.0.0.1:5141", "what the next command's config reads"

        output = run("portal-link", "anna@bianchi.example").output
        assert output.startswith("Bianchi S.r.l.: http://127.0.0.1:5141/portal/auth/")
        path = output.strip().split("http://127.0.0.1:5141", 1)[1]
        connection = http.client.HTTPConnection("127.0.0.1", 5141, timeout=10)
        connection.request("POST", path, headers={"Sec-Fetch-Site": "same-origin"})
        assert connection.getresponse().status == 303, "the printed link signs in on the running server"
    finally:
        stop.set()
        thread.join(10)


def test_serve_leaves_a_configured_public_base_url_alone(app, monkeypatch, tmp_path):
    import config

    monkeypatch.setattr(app, "instance_path", str(tmp_path))
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://fatture.example.it/")
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "https://fatture.example.it")

    ready, seen, stop, thread = _serve_in_background(app, 5142)
    try:
        assert ready.wait(30)
        assert seen == [("http://127.0.0.1:5142", 200)]
        assert app.config["PUBLIC_BASE_URL"] == "https://fatture.example.it"
        assert not (tmp_path / "public_base_url").exists()
        assert config.public_base_url(tmp_path) == "https://fatture.example.it"
    finally:
        stop.set()
        thread.join(10)


def test_without_a_remembered_address_links_use_the_default_port(monkeypatch, tmp_path):
    import config

    monkeypatch.delenv("PUBLIC_BASE_URL", raising=False)
    assert config.public_base_url(tmp_path) == "http://127.0.0.1:5000"


def test_create_permissions_keeps_quiet_about_the_permissions_our_views_share(app, caplog):
    from flask_appbuilder.cli import fab  # registered through an entry point, not on app.cli

    result = app.test_cli_runner().invoke(fab, ["create-permissions"], catch_exceptions=False)

    assert result.exit_code == 0 and "Created all permissions" in result.output
    noise = [record.getMessage() for record in caplog.records if record.levelno >= logging.WARNING]
    assert noise == []


def test_the_serve_command_prints_the_url_and_the_login_when_ready_and_stops_on_ctrl_c(
        app, monkeypatch, tmp_path):
    monkeypatch.setattr(app, "instance_path", str(tmp_path))
    monkeypatch.delenv("PUBLIC_BASE_URL", raising=False)
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", app.config["PUBLIC_BASE_URL"])
    monkeypatch.setitem(app.config, "ADMIN_PASSWORD", "")
    (tmp_path / "admin_password").write_text("Generata-Una-Volta")
    answered = []

    def press_ctrl_c_once_healthy() -> None:
        for _ in range(300):
            try:
                with urllib.request.urlopen("http://127.0.0.1:5143/healthz", timeout=2) as response:
                    answered.append(response.status)
                    break
            except OSError:
                time.sleep(0.1)
        time.sleep(2)  # serve polls every 0.1 s: let its banner out
        signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)

    # Ctrl-C as a terminal sends it (an RQ worker run by an earlier test may have left its own handler).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        threading.Thread(target=press_ctrl_c_once_healthy, daemon=True).start()
        result = app.test_cli_runner().invoke(args=["clientela", "serve", "--port", "5143"], catch_exceptions=False)
    finally:
        signal.signal(signal.SIGINT, previous)

    assert result.exit_code == 0, result.output
    assert answered == [200]
    lines = result.output.splitlines()
    assert "Clientela is ready at http://127.0.0.1:5143/" in lines
    assert "  Admin login: admin / Generata-Una-Volta" in lines
    assert lines[-1] == "Stopped."
