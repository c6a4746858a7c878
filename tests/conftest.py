"""Test fixtures on real components.

The database is SQLite by default, or the URL in CLIENTELA_TEST_DB (the Makefile runs the
suite once on each; see `make test`). Tables are created once per run; after each test the
rows each test wrote are deleted, keeping FAB's roles and permissions.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from flask_appbuilder import Model

from app import create_app
from app.extensions import db
from tests.support.database import KEEP_TABLES, TEST_DB, is_postgres

# Shared fixtures: smtp_server, rq_queue, limited_app. Helpers are imported from tests.support.
pytest_plugins = ["tests.support.smtp", "tests.support.jobs", "tests.support.portal", "tests.support.browser"]


def _database_url(tmp_dir: Path) -> str:
    if TEST_DB == "sqlite":
        return f"sqlite:///{tmp_dir / 'test.db'}"
    url = TEST_DB
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    _ensure_postgres_database(url)
    return url


def pytest_collection_modifyitems(config, items):
    """PostgreSQL-only tests (row locks under real concurrency) run in the PostgreSQL pass."""
    if is_postgres():
        return
    selected = [item for item in items if "postgres_only" not in item.keywords]
    deselected = [item for item in items if "postgres_only" in item.keywords]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected


@pytest.fixture(scope="session")
def app():
    tmp_dir = Path(tempfile.mkdtemp(prefix="clientela-test-"))
    app = create_app(
        "config.TestConfig",
        SQLALCHEMY_DATABASE_URI=_database_url(tmp_dir),
        REDIS_URL="",
        PUBLIC_BASE_URL="http://clientela.test",
    )
    with app.app_context():
        Model.metadata.drop_all(db.engine)
        Model.metadata.create_all(db.engine)
        app.appbuilder.add_permissions(update_perms=True)
        from app.security.setup import ensure_roles

        ensure_roles()
        db.session.commit()
    yield app
    with app.app_context():
        db.session.remove()
        if is_postgres():
            Model.metadata.drop_all(db.engine)
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _app_context(app):
    """Each test runs inside an app context and leaves no rows behind."""
    with app.app_context():
        yield
        db.session.rollback()
        db.session.remove()
        with db.engine.begin() as connection:
            for table in reversed(Model.metadata.sorted_tables):
                if table.name not in KEEP_TABLES:
                    connection.execute(table.delete())


@pytest.fixture
def web(app):
    """A test client for pages and the API."""
    return app.test_client()


def _ensure_postgres_database(url: str) -> None:
    """Create the test database when it is missing (a newcomer's first `make test`)."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    target = make_url(url)
    server = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        exists = connection.exec_driver_sql("SELECT 1 FROM pg_database WHERE datname = %s", (target.database,))
        if exists.first() is None:
            connection.exec_driver_sql(f'CREATE DATABASE "{target.database}"')
    server.dispose()
