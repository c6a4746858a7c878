"""One ZIP of many invoice PDFs, streamed as it is built.

Each member's bytes are fetched only when the archive reaches it, so the first bytes leave
at once and memory holds one PDF at a time. PDFs are already compressed: members are stored.
"""
from __future__ import annotations

import re
from typing import Iterable, Iterator

from zipstream import ZipStream

from app.billing.models import Invoice
from app.extensions import db

MAX_INVOICES_PER_ZIP = 500
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_member_name(name: str) -> str:
    """Letters, digits, dot, dash and underscore only: no paths, no "..", nothing a ZIP tool
    could turn into a file outside the folder it extracts into."""
    stem = name[:-4] if name.lower().endswith(".pdf") else name
    stem = _UNSAFE.sub("-", stem).strip(".-_") or "document"
    return f"{stem[:120]}.pdf"


def unique_member_names(names: Iterable[str]) -> list[str]:
    """`Fattura_1.pdf`, `Fattura_1-2.pdf` … : two members never share a name."""
    seen: set[str] = set()
    result = []
    for name in names:
        safe = safe_member_name(name)
        candidate, counter = safe, 2
        while candidate.lower() in seen:
            candidate = f"{safe[:-4]}-{counter}.pdf"
            counter += 1
        seen.add(candidate.lower())
        result.append(candidate)
    return result


def invoices_zip(invoices: list[Invoice]) -> ZipStream:
    """A streamed archive of the invoices' PDFs (cached ones; a missing one is rendered and kept)."""
    from app.pdf.service import pdf_filename, pdf_for

    archive = ZipStream(sized=False)
    for invoice, name in zip(invoices, unique_member_names(pdf_filename(invoice) for invoice in invoices)):
        archive.add(_pdf_bytes(invoice.id, pdf_for), name)
    return archive


def _pdf_bytes(invoice_id: int, pdf_for) -> Iterator[bytes]:
    # Runs while the response streams, after the view's session has closed: load by id afresh.
    yield pdf_for(db.session.get(Invoice, invoice_id))
    # A PDF rendered just now is kept, so the next download is instant.
    db.session.commit()
