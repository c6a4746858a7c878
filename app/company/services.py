"""Reading the company settings row (created with defaults the first time it is needed) and
applying its numbering formats."""
from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.company.models import CompanySettings
from app.extensions import db


# The logo types the settings accept, by the bytes they start with: the upload is checked by
# its content, and the portal and the PDF show only a logo of one of these types.
LOGO_TYPES = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff"}


def logo_mime(content: bytes) -> str | None:
    """The image type the bytes really are (PNG or JPEG), or None."""
    return next((mime for mime, magic in LOGO_TYPES.items() if content.startswith(magic)), None)


def shown_logo_mime(company: CompanySettings) -> str:
    """The stored logo's type when it is an accepted one, else "". Reads only the type: the
    logo's bytes are a deferred column, loaded only by whoever sends them."""
    mime = (company.logo_mime or "").strip().lower()
    return mime if mime in LOGO_TYPES else ""


def get_company() -> CompanySettings:
    company = db.session.get(CompanySettings, 1)
    if company is None:
        # Two workers may both find no row on a fresh database: the second insert yields.
        dialect = db.session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        db.session.execute(insert(CompanySettings).values(id=1).on_conflict_do_nothing(index_elements=["id"]))
        company = db.session.get(CompanySettings, 1)
    return company


def format_number(pattern: str, year: int, sequence: int) -> str:
    """Apply a numbering format of the settings, such as `{year}/{seq:04d}`.

    Lives with the settings, whose form tries each format, and below billing, which numbers
    its documents with it (`app.billing.numbering`).
    """
    return pattern.format(year=year, seq=sequence, yy=year % 100)
