"""Every foreign key of Clientela's tables leads an index (or the primary key): deleting the
row it points at (a draft invoice, a contact) looks its referencing rows up, and without an
index each delete scans the referencing table (docs/scaling.md). FAB's own tables (ab_*)
are FAB's."""
from __future__ import annotations

from flask_appbuilder import Model
from sqlalchemy import PrimaryKeyConstraint, UniqueConstraint


def leading_columns(table) -> set[str]:
    led = {index.columns.values()[0].name for index in table.indexes if index.columns}
    led |= {constraint.columns.values()[0].name for constraint in table.constraints
            if isinstance(constraint, (UniqueConstraint, PrimaryKeyConstraint)) and constraint.columns}
    return led


def test_every_foreign_key_leads_an_index(app):
    missing = sorted(
        f"{table.name}.{key.parent.name}"
        for table in Model.metadata.tables.values() if not table.name.startswith("ab_")
        for key in table.foreign_keys
        if key.parent.name not in leading_columns(table)
    )
    assert missing == []
