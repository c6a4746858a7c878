"""The PDF job: make sure a document's cached PDF matches its current content."""
from __future__ import annotations

import logging

from app.extensions import db
from app.pdf import service

log = logging.getLogger(__name__)


def render_document_pdf(kind: str, document_id: int) -> None:
    """Render the invoice or quote if its PDF is missing or stale; idempotent.

    Running it twice (a retry, two changes in a row) renders once: the second run finds
    the cached PDF's hash equal to the HTML's. A document deleted meanwhile is skipped.
    """
    document = service.load_document(kind, document_id)
    if document is None:
        log.info("%s %s no longer exists: no PDF to render", kind, document_id)
        return
    service.pdf_for(document)  # one render per version: a concurrent one is waited for, not repeated
    db.session.commit()
