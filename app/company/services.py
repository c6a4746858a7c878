"""Reading the company settings row, created with defaults the first time it is needed."""
from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.company.models import CompanySettings
from app.extensions import db


def get_company() -> CompanySettings:
    company = db.session.get(CompanySettings, 1)
    if company is None:
        # Two workers may both find no row on a fresh database: the second insert yields.
        dialect = db.session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        db.session.execute(insert(CompanySettings).values(id=1).on_conflict_do_nothing(index_elements=["id"]))
        company = db.session.get(CompanySettings, 1)
    return company
