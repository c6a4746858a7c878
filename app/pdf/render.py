"""HTML to PDF with wkhtmltopdf, locked down: the one place that runs the binary.

Debian's wkhtmltopdf is built on an old QtWebKit that still fetches `<img src=http://…>`
with JavaScript off, and pdfkit 1.0.0 reads `<meta name="pdfkit-…">` tags in the HTML as
command-line options (CVE-2025-26240). So every option is passed explicitly, the meta
parsing is switched off, all network traffic goes to a dead proxy, local files are off
limits, and the process gets a minimal environment. The template inlines its CSS and logo.
"""
from __future__ import annotations

import os
import shutil
import tempfile

import pdfkit
from flask import current_app

# Every option wkhtmltopdf runs with; part of the cache key, so changing one re-renders.
OPTIONS: dict[str, str] = {
    "--quiet": "",
    "--encoding": "UTF-8",
    "--page-size": "A4",
    "--margin-top": "14mm",
    "--margin-bottom": "14mm",
    "--margin-left": "14mm",
    "--margin-right": "14mm",
    "--disable-javascript": "",
    "--disable-local-file-access": "",
    "--disable-plugins": "",
    # Nothing may reach the network: every request goes to a port where nobody listens.
    "--proxy": "http://127.0.0.1:9",
    # A blocked request must not fail the render (the document itself references nothing).
    "--load-error-handling": "ignore",
    "--load-media-error-handling": "ignore",
}

# wkhtmltopdf exits with 1 when it blocked a request (file://, the dead proxy) yet wrote the PDF.
_BLOCKED_REQUEST = "due to network error"

_runtime_dir: str | None = None


class PdfRenderError(RuntimeError):
    """wkhtmltopdf failed or produced no PDF."""


class _ExplicitOptionsPDFKit(pdfkit.PDFKit):
    """pdfkit without its `<meta name="pdfkit-…">` option parsing (CVE-2025-26240)."""

    def _find_options_in_meta(self, content):  # noqa: ARG002 - the HTML never chooses options
        return {}

    @staticmethod
    def handle_error(exit_code, stderr):
        if exit_code == 1 and _BLOCKED_REQUEST in stderr:
            return
        pdfkit.PDFKit.handle_error(exit_code, stderr)


def wkhtmltopdf_path() -> str:
    """WKHTMLTOPDF_PATH, else the binary on PATH (Debian: /usr/bin/wkhtmltopdf)."""
    configured = current_app.config.get("WKHTMLTOPDF_PATH")
    found = configured or shutil.which("wkhtmltopdf")
    if not found:
        raise PdfRenderError("wkhtmltopdf is not installed: sudo apt-get install -y wkhtmltopdf")
    return found


def _environment() -> dict[str, str]:
    """A minimal environment: no inherited proxies or display, a private Qt runtime dir."""
    global _runtime_dir
    if _runtime_dir is None or not os.path.isdir(_runtime_dir):
        _runtime_dir = tempfile.mkdtemp(prefix="clientela-wkhtmltopdf-")  # created 0700
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": _runtime_dir,
        "XDG_RUNTIME_DIR": _runtime_dir,
        "LANG": "C.UTF-8",
        "QT_QPA_PLATFORM": "offscreen",
    }


def html_to_pdf(html: str) -> bytes:
    """Run wkhtmltopdf once on `html` and return the PDF bytes."""
    configuration = pdfkit.configuration(wkhtmltopdf=wkhtmltopdf_path(), environ=_environment())
    kit = _ExplicitOptionsPDFKit(html, "string", options=dict(OPTIONS), configuration=configuration)
    try:
        pdf = kit.to_pdf()
    except OSError as exc:
        raise PdfRenderError(str(exc)) from exc
    if not pdf or not pdf.startswith(b"%PDF-"):
        raise PdfRenderError("wkhtmltopdf produced no PDF")
    return pdf
