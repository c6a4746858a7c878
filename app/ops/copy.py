"""Moving house: every row from the app's database into an empty one (`clientela copy-database`).

The usual move is from the embedded SQLite file to PostgreSQL (docs/scaling.md, step 1). The
tables come from the model metadata in dependency order (`sorted_tables`: a client before its
invoices, an invoice before its lines), so a table added tomorrow is copied without a change
here. The target is migrated to head by the real migration history first, so it ends exactly
as `flask db upgrade` builds it; the rows then go in one transaction, read from one snapshot
of the source: the copy is whole or nothing. Ids are copied as they are (links, numbering and
portal sessions keep meaning), so PostgreSQL's sequences are moved past them afterwards.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from flask_appbuilder import Model
from sqlalchemy import Connection, Engine, Integer, Table, func, inspect, select, text

BATCH_SIZE = 1000
ROOT_DIR = Path(__file__).resolve().parents[2]
_NEXTVAL = re.compile(r"nextval\('([^']+)'")


class CopyRefused(Exception):
    """The copy cannot start; nothing was changed in the target."""


@dataclass(frozen=True)
class TableCount:
    table: str
    source: int
    target: int


def tables() -> list[Table]:
    """Every application table, parents before children."""
    return list(Model.metadata.sorted_tables)


def refuse_unless_empty(target: Engine) -> None:
    """A target with any row in any table is refused: a copy merged into live data would
    collide on ids or, worse, half-succeed."""
    inspector = inspect(target)
    with target.connect() as connection:
        holding = [name for name in inspector.get_table_names() if name != "alembic_version"
                   and connection.execute(text(f'SELECT 1 FROM "{name}" LIMIT 1')).first() is not None]
    if holding:
        raise CopyRefused(f"the target database already holds data (in {', '.join(sorted(holding))}); "
                          "copy only into an empty database")


def migrate_to_head(target_url: str) -> None:
    """`flask db upgrade` on the target, in a process of its own (the migration environment
    reads the app's own database from its configuration, so it runs with DATABASE_URL=target)."""
    env = {**os.environ, "DATABASE_URL": target_url, "REDIS_URL": "", "PYTHONPATH": str(ROOT_DIR)}
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"], cwd=ROOT_DIR,
                            env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise CopyRefused(f"migrating the target failed:\n{result.stderr.strip()}")


def refuse_unless_same_revision(source: Engine, target: Engine) -> None:
    """Both databases must be at the same migration, or columns would not line up."""
    revisions = []
    for engine in (source, target):
        with engine.connect() as connection:
            revisions.append(connection.execute(text("SELECT version_num FROM alembic_version")).scalar())
    if revisions[0] != revisions[1]:
        raise CopyRefused(f"the source is at migration {revisions[0]}, the target at {revisions[1]}: "
                          "run `flask --app app db upgrade` on the source first")


def count_rows(connection: Connection) -> dict[str, int]:
    return {table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
            for table in tables()}


def copy_rows(source: Engine, target: Engine, progress: Callable[[int], None] = lambda rows: None,
              batch_size: int = BATCH_SIZE) -> list[TableCount]:
    """Copy every table in batches (`progress` hears each one), check the counts per table and
    reset the sequences; one transaction on the target, rolled back on any mismatch."""
    with _snapshot(source) as reading, target.begin() as writing:
        counts = count_rows(reading)
        for table in tables():
            order = list(table.primary_key.columns)
            result = reading.execution_options(yield_per=batch_size).execute(select(table).order_by(*order))
            for batch in result.partitions():
                writing.execute(table.insert(), [dict(row._mapping) for row in batch])
                progress(len(batch))
        copied = count_rows(writing)
        report = [TableCount(name, counts[name], copied[name]) for name in counts]
        wrong = [line for line in report if line.source != line.target]
        if wrong:
            raise CopyRefused("row counts differ, nothing was kept: " + ", ".join(
                f"{line.table} {line.source} → {line.target}" for line in wrong))
        if writing.dialect.name == "postgresql":
            _reset_sequences(writing)
    return report


def _snapshot(source: Engine) -> Connection:
    """Read every table from one moment: PostgreSQL's REPEATABLE READ gives one snapshot to the
    whole transaction. (On SQLite, stop writing while the copy runs: it is the embedded default,
    one process, and `make run` is stopped with Ctrl-C.)"""
    connection = source.connect()
    if source.dialect.name == "postgresql":
        connection = connection.execution_options(isolation_level="REPEATABLE READ")
    return connection


def _reset_sequences(connection: Connection) -> None:
    """Move each id sequence to the highest copied id, so the next insert gets a fresh one.
    Serial and identity columns name their sequence through pg_get_serial_sequence; FAB's
    tables use sequences of their own, named in the column's default."""
    for table in tables():
        for column in table.primary_key.columns:
            if column.autoincrement is False or not isinstance(column.type, Integer):
                continue
            sequence = connection.execute(text("SELECT pg_get_serial_sequence(:table, :column)"),
                                          {"table": table.name, "column": column.name}).scalar()
            if sequence is None:
                default = connection.execute(text(
                    "SELECT column_default FROM information_schema.columns "
                    "WHERE table_schema = current_schema() AND table_name = :table AND column_name = :column"),
                    {"table": table.name, "column": column.name}).scalar()
                found = _NEXTVAL.search(default or "")
                sequence = found.group(1) if found else None
            if sequence is None:
                continue
            connection.execute(text(
                f'SELECT setval(:sequence, COALESCE(MAX("{column.name}"), 1), MAX("{column.name}") IS NOT NULL) '
                f'FROM "{table.name}"'), {"sequence": sequence})
