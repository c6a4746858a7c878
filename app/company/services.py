"""Reading the company settings row, created with defaults the first time it is needed."""
from __future__ import annotations

from app.company.models import CompanySettings
from app.extensions import db


def get_company() -> CompanySettings:
    company = db.session.get(CompanySettings, 1)
    if company is None:
        company = CompanySettings(id=1)
        db.session.add(company)
        db.session.flush()
    return company
