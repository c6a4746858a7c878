"""One ZIP of many invoice PDFs, streamed as it is built.

Which stored PDFs are still current is decided up front in one query (their freshness keys,
`app.pdf.service.current_pdf_ids`); their bytes are then read a batch at a time as the archive
reaches them, so the first bytes leave at once and memory holds one batch. Only a missing or
stale PDF is rendered (and kept). PDFs are already compressed: members are stored.
"""
from __future__ import annotations

import re
from typing import Iterable, Iterator

from zipstream import ZipStream

from app.billing.models import Invoice
from app.extensions import db

MAX_INVOICES_PER_ZIP = 500
STORED_BATCH = 25  # PDFs read per query while streaming (~25 kB each)
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
    """A streamed archive of the invoices' PDFs (cached ones; a missing or stale one is rendered and kept)."""
    from app.pdf.service import current_pdf_ids, pdf_filename

    ids = [invoice.id for invoice in invoices]
    names = unique_member_names(pdf_filename(invoice) for invoice in invoices)
    current = current_pdf_ids("invoice", ids)
    stored = _StoredPdfs([pk for pk in ids if pk in current])
    archive = ZipStream(sized=False)
    for invoice_id, name in zip(ids, names):
        archive.add(stored.member(invoice_id), name)
    return archive


class _StoredPdfs:
    """Current stored PDFs, read STORED_BATCH at a time in the order the archive asks for them."""

    def __init__(self, current_ids: list[int]):
        self.waiting = current_ids
        self.loaded: dict[int, bytes] = {}

    def member(self, invoice_id: int) -> Iterator[bytes]:
        # Runs while the response streams, after the view's session has closed: query afresh.
        from app.pdf.service import pdf_for, stored_pdfs

        if invoice_id in self.waiting and invoice_id not in self.loaded:
            start = self.waiting.index(invoice_id)
            batch = self.waiting[start:start + STORED_BATCH]
            del self.waiting[start:start + STORED_BATCH]
            self.loaded.update(stored_pdfs("invoice", batch))
        content = self.loaded.pop(invoice_id, None)
        if content is not None:
            yield content
            return
        yield pdf_for(db.session.get(Invoice, invoice_id))
        # A PDF rendered just now is kept, so the next download is instant.
        db.session.commit()
