"""`clientela copy-database TARGET_URL`: moving house from the embedded SQLite to PostgreSQL.

The source is the test database with demo data (SQLite in the SQLite pass, which is the move
the command exists for; PostgreSQL in the PostgreSQL pass); the target is a fresh PostgreSQL
database made for each test, named after the PostgreSQL test database with "_copy". The command migrates the target with the real migration history,
so the source is stamped at head first, as a database built by `flask db upgrade` would be.
"""
from __future__ import annotations

import os
from decimal import Decimal

from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from flask_appbuilder import Model
from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import make_url

from app.billing.models import Invoice, Payment
from app.extensions import db
from tests.support.database import TEST_DB, is_postgres

ROOT = Path(__file__).resolve().parents[2]
# Next to the PostgreSQL test database (`make test` passes TEST_DATABASE_URL to both passes).
_POSTGRES_TESTS = TEST_DB if is_postgres() else os.environ.get(
    "TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/clientela_test")
TARGET = _POSTGRES_TESTS.replace("postgresql+psycopg://", "postgresql://") + "_copy"


def _server():
    return create_engine(make_url(TARGET).set(drivername="postgresql+psycopg", database="postgres"),
                         isolation_level="AUTOCOMMIT")


@pytest.fixture
def target():
    """An empty PostgreSQL database, dropped afterwards; yields an engine on it."""
    server = _server()
    name = make_url(TARGET).database
    with server.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine = create_engine(TARGET.replace("postgresql://", "postgresql+psycopg://"))
    yield engine
    engine.dispose()
    with server.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    server.dispose()


@pytest.fixture
def demo_source(app):
    """The test database with an admin, company settings and seeded demo data, stamped at head."""
    runner = app.test_cli_runner()
    for args in (["init"], ["demo", "--clients", "4", "--invoices-per-client", "5", "--seed", "7"]):
        result = runner.invoke(args=["clientela", *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
    head = ScriptDirectory(str(ROOT / "migrations")).get_current_head()
    with db.engine.begin() as connection:  # what `flask db stamp head` writes, without its logging setup
        connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)"))
        connection.execute(text("INSERT INTO alembic_version VALUES (:head)"), {"head": head})
    yield
    db.session.remove()
    with db.engine.begin() as connection:
        connection.execute(text("DROP TABLE alembic_version"))


def _counts(engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
                for table in Model.metadata.sorted_tables}


def _money(engine) -> tuple[Decimal, Decimal, Decimal]:
    with engine.connect() as connection:
        return (
            connection.execute(select(func.sum(Invoice.total))).scalar_one(),
            connection.execute(select(func.sum(Invoice.amount_paid))).scalar_one(),
            connection.execute(select(func.sum(Payment.amount))).scalar_one(),
        )


def _copy(app, url: str = TARGET):
    return app.test_cli_runner().invoke(args=["clientela", "copy-database", url], catch_exceptions=False)


def test_every_row_moves_with_the_counts_and_totals_of_the_source_and_new_rows_get_fresh_ids(app, demo_source, target):
    source_counts, source_money = _counts(db.engine), _money(db.engine)
    assert source_counts["invoice"] == 20 and source_counts["payment"] > 0 and source_counts["ab_user"] == 1

    result = _copy(app)

    assert result.exit_code == 0, result.output
    assert _counts(target) == source_counts, "every table of the metadata, row for row"
    assert _money(target) == source_money
    assert all(value > 0 for value in source_money)
    with target.connect() as connection:
        revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    with db.engine.connect() as connection:
        assert revision == connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    for table, rows in source_counts.items():
        assert f"  {table}" in result.output and str(rows) in result.output
    assert f"Copied {sum(source_counts.values())} rows in {len(source_counts)} tables" in result.output

    # The sequences were moved past the copied ids: new rows get fresh ones.
    activity = Model.metadata.tables["activity"]
    view_menu = Model.metadata.tables["ab_view_menu"]  # FAB's tables name their own sequences

    with target.begin() as connection:
        newest = connection.execute(select(activity).order_by(activity.c.id.desc()).limit(1)).mappings().one()
        row = {key: value for key, value in newest.items() if key != "id"}
        new_activity = connection.execute(insert(activity).values(row).returning(activity.c.id)).scalar_one()
        new_view = connection.execute(insert(view_menu).values(name="After the move")
                                      .returning(view_menu.c.id)).scalar_one()
        highest_view = connection.execute(select(func.max(view_menu.c.id))
                                          .where(view_menu.c.name != "After the move")).scalar_one()

    assert new_activity > newest["id"]
    assert new_view > highest_view


def test_a_target_that_holds_data_is_refused_and_left_unchanged(app, demo_source, target):
    assert _copy(app).exit_code == 0
    with target.begin() as connection:
        connection.execute(text("UPDATE client SET notes = 'edited in the new home'"))
    before = _counts(target)

    result = _copy(app)

    assert result.exit_code != 0
    assert "already holds data" in result.output
    assert _counts(target) == before
    with target.connect() as connection:
        assert set(connection.execute(text("SELECT notes FROM client")).scalars()) == {"edited in the new home"}


def test_a_target_with_only_one_row_of_its_own_is_refused_before_any_migration(app, demo_source, target):
    with target.begin() as connection:
        connection.execute(text("CREATE TABLE notes (id serial PRIMARY KEY, body text)"))
        connection.execute(text("INSERT INTO notes (body) VALUES ('mine')"))

    result = _copy(app)

    assert result.exit_code != 0 and "already holds data (in notes)" in result.output
    with target.connect() as connection:
        tables = set(connection.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars())
    assert tables == {"notes"}, "nothing was migrated into it"
