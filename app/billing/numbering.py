"""Gapless progressive numbers per document kind and year.

A number is taken inside the transaction that finalizes the document, with the sequence
row locked (SELECT … FOR UPDATE on PostgreSQL; SQLite serializes writers anyway). If that
transaction rolls back, so does the increment: no gap is left behind.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.billing.models import NumberSequence
from app.company.services import format_number  # noqa: F401  (numbering's public name for the rule)
from app.extensions import db


def next_number(kind: str, year: int, count: int = 1) -> int:
    """Take the next `count` consecutive numbers (a block, for bulk imports); return the first."""
    session = db.session
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    # Create the year's row if it is missing, without racing another worker doing the same.
    session.execute(
        insert(NumberSequence)
        .values(kind=kind, year=year, last_value=0)
        .on_conflict_do_nothing(index_elements=["kind", "year"])
    )
    sequence = session.execute(
        select(NumberSequence)
        .where(NumberSequence.kind == kind, NumberSequence.year == year)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()
    sequence.last_value += count
    session.flush()
    return sequence.last_value - count + 1
