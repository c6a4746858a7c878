"""The migration history builds the whole schema on an empty database, and matches the models.

Runs the real CLI (`flask --app app db upgrade`, then `flask db check`) in a subprocess with
DATABASE_URL, as an operator would: once on an empty SQLite file, once on an empty PostgreSQL
database created for the test and dropped after it.
"""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url

from tests.support.database import TEST_DB, is_postgres

ROOT = Path(__file__).resolve().parent.parent
FLASK = [sys.executable, "-m", "flask", "--app", "app"]


def flask(*args: str, database_url: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "migration-test",
        "REDIS_URL": "",
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.run([*FLASK, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def upgrade(database_url: str) -> None:
    result = flask("db", "upgrade", database_url=database_url)
    assert result.returncode == 0, result.stderr


def assert_the_schema_is_built(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {"client", "contact", "invoice", "invoice_line", "quote", "quote_line", "payment", "number_sequence",
            "company_settings", "activity", "alembic_version", "ab_user", "ab_role"} <= tables


def assert_no_pending_change(database_url: str) -> None:
    check = flask("db", "check", database_url=database_url)
    pending = [line for line in (check.stdout + check.stderr).splitlines() if "Detected added" in line
               or "Detected removed" in line or "Detected type change" in line or "Detected NULL" in line]
    assert check.returncode == 0, "the models changed since the last migration (regenerate it):\n" + "\n".join(pending)
    assert "No new upgrade operations detected" in check.stdout + check.stderr


@pytest.fixture
def empty_sqlite_database(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'empty.db'}"


def test_an_empty_sqlite_database_upgrades_to_the_full_schema(empty_sqlite_database):
    upgrade(empty_sqlite_database)
    assert_the_schema_is_built(empty_sqlite_database)


def test_after_upgrading_sqlite_the_models_have_no_pending_change(empty_sqlite_database):
    upgrade(empty_sqlite_database)
    assert_no_pending_change(empty_sqlite_database)


@pytest.fixture
def empty_postgres_database():
    """A throwaway database next to the test database, dropped even when the test fails."""
    if not is_postgres():
        pytest.skip("runs in the PostgreSQL pass (CLIENTELA_TEST_DB)")
    url = make_url(TEST_DB.replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"{url.database}_migr_{uuid.uuid4().hex[:8]}"
    server = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        server.dispose()


@pytest.mark.postgres_only
def test_an_empty_postgresql_database_upgrades_to_the_full_schema(empty_postgres_database):
    upgrade(empty_postgres_database)
    assert_the_schema_is_built(empty_postgres_database)


@pytest.mark.postgres_only
def test_after_upgrading_postgresql_the_models_have_no_pending_change(empty_postgres_database):
    upgrade(empty_postgres_database)
    assert_no_pending_change(empty_postgres_database)
