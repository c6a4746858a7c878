"""A document's PDF, for billing's own adapters (the admin's and the API's PDF download).

The PDF is made by `app.pdf`, which sits above billing (it renders billing's documents), so
billing cannot import it: the renderer registers itself here in its init_app. A signal would
carry no answer; this is the one place billing asks a higher capability for something.
"""
from __future__ import annotations

from typing import Protocol

from flask import Flask, current_app

from app.billing.models import Invoice, Quote

_KEY = "clientela.pdf_renderer"


class PdfRenderer(Protocol):
    def pdf_for(self, document: Invoice | Quote) -> bytes: ...

    def pdf_filename(self, document: Invoice | Quote) -> str: ...


def use_renderer(app: Flask, renderer: PdfRenderer) -> None:
    app.extensions[_KEY] = renderer


def document_pdf(document: Invoice | Quote) -> tuple[bytes, str]:
    """The PDF (the cached one, or rendered now into the session: the caller commits) and its file name."""
    renderer: PdfRenderer = current_app.extensions[_KEY]
    return renderer.pdf_for(document), renderer.pdf_filename(document)
