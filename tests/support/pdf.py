"""Reading a PDF's text back, as a person would read it."""
from __future__ import annotations

import io
import re

from pypdf import PdfReader


def pdf_text(pdf: bytes) -> str:
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    return re.sub(r"[ \t\xa0]+", " ", text)  # pypdf separates words with tabs
