"""Invoice and quote PDFs: rendered from HTML once per document version, cached in the database.

Each stored PDF carries a freshness key: the document's revision (bumped by
`app.billing.revisions` whenever a line, a payment or any printed column changes), a
fingerprint of the company settings (IBAN, logo …) and of what renders it (template source,
translation catalogs, wkhtmltopdf options, LAYOUT_VERSION). An equal key means the same PDF,
so a cached PDF is served without rendering its HTML; any change a reader could see yields a
new key and a new render. Views, the API, email jobs and the portal all call `pdf_for()`;
the portal ZIP checks hundreds of documents with `current_pdf_ids()` in one query.
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from decimal import Decimal
from pathlib import Path

from babel import Locale
from babel.numbers import format_decimal
from flask import current_app
from flask_babel import force_locale, gettext, ngettext, pgettext
from jinja2 import Environment
from sqlalchemy import and_, event, inspect, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.billing.models import CreditNote, DocumentPdf, Invoice, Quote
from app.billing.natures import DEFAULT_REFERENCES
from app.billing.totals import document_totals
from app.company.services import get_company, shown_logo_mime
from app.extensions import db
from app.i18n import SUPPORTED_LANGUAGES, format_date, format_money, normalize_language
from app.jobs import RedisLease, enqueue, keep_alive
from app.pdf import render

TEMPLATE = "pdf/invoice.html"
# Bump when the PDFs change for a reason the template source, the catalogs and the wkhtmltopdf
# options do not show (a new context value, a Babel upgrade that formats money differently).
LAYOUT_VERSION = 2  # 2: the Italian tax blocks, VAT natures and credit notes
_WAIT_SECONDS = 0.2  # how often a worker waiting for another's render looks for its row
DOCUMENT_CLASSES: dict[str, type[Invoice] | type[Quote] | type[CreditNote]] = {
    "invoice": Invoice, "quote": Quote, "credit_note": CreditNote,
}

# File names are fixed words in the document's language, not UI strings.
_FILENAME_WORDS = {
    "it": {"invoice": "Fattura", "quote": "Preventivo", "credit_note": "Nota_di_credito", "draft": "bozza"},
    "en": {"invoice": "Invoice", "quote": "Quote", "credit_note": "Credit_note", "draft": "draft"},
}
_UNSAFE_FILENAME_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


def document_kind(document: Invoice | Quote | CreditNote) -> str:
    if isinstance(document, CreditNote):
        return "credit_note"
    return "invoice" if isinstance(document, Invoice) else "quote"


def load_document(kind: str, document_id: int) -> Invoice | Quote | None:
    return db.session.get(DOCUMENT_CLASSES[kind], document_id)


def pdf_filename(document: Invoice | Quote) -> str:
    """"Fattura_2026-0001.pdf", "Quote_P2026-0003.pdf", or "Fattura_bozza_12.pdf" for a draft."""
    words = _FILENAME_WORDS[normalize_language(document.language)]
    if document.number:
        stem = f"{words[document_kind(document)]}_{document.number}"
    else:
        stem = f"{words[document_kind(document)]}_{words['draft']}_{document.id}"
    return _UNSAFE_FILENAME_CHARS.sub("-", stem).strip("-") + ".pdf"


def render_html(document: Invoice | Quote) -> str:
    """The document as printable HTML in its own language, every user value escaped."""
    language = normalize_language(document.language)
    with force_locale(language):
        return template_environment().get_template(TEMPLATE).render(**_context(document, language))


class RenderInProgress(Exception):
    """Another worker is rendering this document now (raised by `pdf_for(wait=False)`)."""


def pdf_for(document: Invoice | Quote, *, wait: bool = True) -> bytes:
    """The document's PDF: the cached one while its freshness key is unchanged, else a fresh render.

    One render per document version, however many workers ask at once: the render is done
    under a lease on the document, and whoever finds the lease taken waits for the holder's
    row instead of rendering too (or, with `wait=False`, raises RenderInProgress: a job with
    other work to do comes back later rather than hold a worker idle). A fresh render is
    stored in the session; the caller commits (or the job does), and the lease is released
    when that transaction ends.
    """
    db.session.flush()  # the cache row is keyed by the id; pending changes move the revision
    kind = document_kind(document)
    key = freshness_key(document)
    cached = _cached(kind, document.id)
    if cached is not None and cached.source_key == key:
        return cached.content
    lease = RedisLease(f"pdf:{kind}:{document.id}")
    while not lease.acquire():
        if not wait:
            raise RenderInProgress(f"{kind} {document.id}")
        # Someone is rendering this document now: their row, once committed, is ours too.
        # If they die, their lease lapses and the next acquire is ours.
        time.sleep(_WAIT_SECONDS)
        cached = _cached(kind, document.id)
        if cached is not None and cached.source_key == key:
            return cached.content
    _release_when_transaction_ends(lease)
    cached = _cached(kind, document.id)  # the holder we waited for may have committed it
    if cached is not None and cached.source_key == key:
        return cached.content
    html = render_html(document)
    with keep_alive(lease.renew, lease.seconds / 3):
        pdf = render.html_to_pdf(html)
    if cached is None:
        return _insert_or_read(kind, document.id, key, _content_hash(html), pdf)
    cached.content_hash = _content_hash(html)
    cached.source_key = key
    cached.content = pdf
    cached.rendered_at = db.func.now()
    db.session.flush()
    return pdf


def _cached(kind: str, document_id: int) -> DocumentPdf | None:
    return db.session.execute(
        select(DocumentPdf).where(DocumentPdf.document_kind == kind, DocumentPdf.document_id == document_id)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()


def _insert_or_read(kind: str, document_id: int, key: str, content_hash: str, pdf: bytes) -> bytes:
    """Store the document's first PDF; if another worker stored one meanwhile (a lapsed lease,
    a node without Redis), the unique (kind, id) key keeps theirs and we read it: nobody fails
    because somebody else won."""
    dialect = db.session.get_bind().dialect.name
    insert = {"postgresql": postgresql_insert, "sqlite": sqlite_insert}[dialect]
    statement = insert(DocumentPdf).values(
        document_kind=kind, document_id=document_id, content_hash=content_hash, source_key=key,
        content=pdf, rendered_at=db.func.now(),
    ).on_conflict_do_nothing(index_elements=["document_kind", "document_id"])
    if db.session.execute(statement).rowcount == 1:
        return pdf
    winner = _cached(kind, document_id)
    # Theirs is of the same version (same key), or of another one: then ours is still the
    # right PDF for the document we read, and the next call renders theirs stale again.
    return winner.content if winner is not None and winner.source_key == key else pdf


def _release_when_transaction_ends(lease: RedisLease) -> None:
    """Hold the render lease until the row is committed (or rolled back), so a waiter never
    finds the lease free while the PDF is not yet readable."""
    session = db.session()
    release = lambda *_args: lease.release()  # noqa: E731
    event.listen(session, "after_commit", release, once=True)
    event.listen(session, "after_rollback", release, once=True)


def freshness_key(document: Invoice | Quote) -> str:
    """What the document's PDF depends on, as a key: equal keys, equal PDFs (no rendering needed)."""
    return _freshness_key(document_kind(document), document.id, document.revision, _company_fingerprint())


def current_pdf_ids(kind: str, document_ids: list[int]) -> set[int]:
    """Which of these documents have a stored PDF that is still current: one query, no rendering."""
    if not document_ids:
        return set()
    model = DOCUMENT_CLASSES[kind]
    company = _company_fingerprint()
    rows = db.session.execute(
        select(model.id, model.revision, DocumentPdf.source_key)
        .join(DocumentPdf, and_(DocumentPdf.document_kind == kind, DocumentPdf.document_id == model.id))
        .where(model.id.in_(document_ids))
    ).all()
    return {
        document_id for document_id, revision, key in rows
        if key == _freshness_key(kind, document_id, revision, company)
    }


def stored_pdfs(kind: str, document_ids: list[int]) -> dict[int, bytes]:
    """The stored PDF bytes of these documents, in one query (check freshness first)."""
    if not document_ids:
        return {}
    return dict(db.session.execute(
        select(DocumentPdf.document_id, DocumentPdf.content)
        .where(DocumentPdf.document_kind == kind, DocumentPdf.document_id.in_(document_ids))
    ).all())


def _freshness_key(kind: str, document_id: int, revision: int, company: str) -> str:
    text = f"{_renderer_fingerprint()}|{company}|{kind}|{document_id}|{revision or 0}"
    return hashlib.sha256(text.encode()).hexdigest()


def _company_fingerprint() -> str:
    """Every column of the company settings row (legal name, IBAN, logo …), hashed."""
    company = get_company()
    digest = hashlib.sha256()
    for column in inspect(company).mapper.column_attrs:
        value = getattr(company, column.key)
        digest.update(column.key.encode() + b"=")
        digest.update(value if isinstance(value, bytes) else repr(value).encode())
        digest.update(b"\x00")
    return digest.hexdigest()


def _renderer_fingerprint() -> str:
    """The templates' source (every one under pdf/: the documents' and the partials they
    import), the translation catalogs and wkhtmltopdf's options: a deploy that changes any of
    them makes every cached PDF stale. Computed once per process."""
    cached = current_app.extensions.get("clientela_pdf_renderer")
    if cached is not None and not current_app.debug:
        return cached
    env = template_environment()
    digest = hashlib.sha256(f"{LAYOUT_VERSION}|{json.dumps(render.OPTIONS, sort_keys=True)}|".encode())
    for name in sorted(name for name in env.list_templates() if name.startswith("pdf/")):
        digest.update(name.encode() + b"\x00" + env.loader.get_source(env, name)[0].encode())
    directories = current_app.config.get("BABEL_TRANSLATION_DIRECTORIES") or "translations"
    for directory in directories.split(";"):
        for language in SUPPORTED_LANGUAGES:
            for catalog in sorted(Path(current_app.root_path, directory, language, "LC_MESSAGES").glob("*.mo")):
                digest.update(f"{language}/{catalog.name}".encode())
                digest.update(catalog.read_bytes())
    current_app.extensions["clientela_pdf_renderer"] = digest.hexdigest()
    return current_app.extensions["clientela_pdf_renderer"]


def request_render(document: Invoice | Quote) -> None:
    """Make sure the document's PDF is ready, in a job that runs after the current commit."""
    from app.pdf.jobs import render_document_pdf

    enqueue(render_document_pdf, document_kind(document), document.id)


def render_finalized_document(document: Invoice | Quote, **_kwargs) -> None:
    """Connected to billing's `document_finalized` (app.pdf.init_app): a finalized document's
    PDF is what clients download and emails attach, so have it ready."""
    request_render(document)


def _content_hash(html: str) -> str:
    digest = hashlib.sha256(json.dumps(render.OPTIONS, sort_keys=True).encode())
    digest.update(html.encode("utf-8"))
    return digest.hexdigest()


def template_environment() -> Environment:
    """A Jinja environment of our own: autoescape always on, no request-bound globals."""
    env = current_app.extensions.get("clientela_pdf_jinja")
    if env is None:
        env = Environment(loader=current_app.jinja_loader, autoescape=True,
                          extensions=["jinja2.ext.i18n"], auto_reload=current_app.debug)
        env.install_gettext_callables(gettext, ngettext, newstyle=True, pgettext=pgettext)
        current_app.extensions["clientela_pdf_jinja"] = env
    return env


def _context(document: Invoice | Quote, language: str) -> dict[str, object]:
    company = get_company()
    currency = document.currency or company.currency or "EUR"
    locale = Locale.parse(language)

    def money(amount: Decimal | None) -> str:
        return format_money(amount, currency, language)

    def number(value: Decimal | None) -> str:
        return format_decimal(Decimal(value or 0), format="#,##0.###", locale=language)

    totals = document_totals(document)
    is_invoice = isinstance(document, Invoice)
    is_credit_note = isinstance(document, CreditNote)
    taxed = is_invoice or is_credit_note

    def percent(value: Decimal | None) -> str:
        return f"{number(value)}%"

    # Each nature's reference once, under the lines (a 0 % line shows its nature code).
    references = []
    for line in document.lines:
        if line.vat_nature:
            entry = (line.vat_nature, line.vat_nature_reference or DEFAULT_REFERENCES.get(line.vat_nature, ""))
            if entry not in references:
                references.append(entry)
    return {
        "kind": document_kind(document),
        "document": document,
        "company": company,
        "logo_uri": logo_uri(company),
        "company_country": locale.territories.get(company.country or "", company.country or ""),
        "bill_country": locale.territories.get(document.bill_country or "", document.bill_country or ""),
        "issue_date": format_date(document.issue_date, language),
        "due_date": format_date(document.due_date, language) if is_invoice else "",
        "valid_until": format_date(document.valid_until, language) if isinstance(document, Quote) else "",
        "credited_invoice": document.invoice.number if is_credit_note else "",
        "credited_invoice_date": format_date(document.invoice.issue_date, language) if is_credit_note else "",
        "reason": document.reason if is_credit_note else "",
        "lines": [
            {
                "description": line.description,
                "quantity": number(line.quantity),
                "unit_price": money(line.unit_price),
                "discount": f"{number(line.discount)}%" if line.discount else "",
                "tax_rate": f"{number(line.tax_rate)}%" + (f" {line.vat_nature}" if line.vat_nature else ""),
                "amount": money(line.amount),
            }
            for line in document.lines
        ],
        "any_discount": any(line.discount for line in document.lines),
        "taxes": [
            {"rate": percent(tax.rate) + (f" {tax.nature}" if tax.nature else ""), "taxable": money(tax.taxable),
             "tax": money(tax.tax)}
            for tax in totals.taxes
        ],
        "nature_references": references,
        "subtotal": money(totals.subtotal),
        "pension_fund": (
            {"type": document.pension_fund_type, "rate": percent(document.pension_fund_rate),
             "amount": money(totals.pension_fund_amount)}
            if taxed and totals.pension_fund_amount else None
        ),
        "stamp_duty": money(totals.stamp_duty_amount) if taxed and totals.stamp_duty_amount else "",
        "stamp_duty_charged": taxed and bool(document.stamp_duty_charged),
        "tax_total": money(totals.tax_total),
        "total": money(totals.total),
        "withholding": (
            {"rate": percent(document.withholding_rate), "amount": money(totals.withholding_amount)}
            if taxed and totals.withholding_amount else None
        ),
        "split_payment": money(totals.tax_total) if taxed and document.split_payment and totals.tax_total else "",
        "net_to_pay": money(totals.net_to_pay) if taxed and totals.net_to_pay != totals.total else "",
        "amount_paid": money(document.amount_paid) if is_invoice and document.amount_paid else "",
        "amount_credited": money(document.amount_credited) if is_invoice and document.amount_credited else "",
        "balance": money(document.balance) if is_invoice else "",
        "status": document.status,
    }


def logo_uri(company) -> str:
    """The logo as a data: URI (wkhtmltopdf may not fetch anything), or "" without one."""
    mime = shown_logo_mime(company)
    if not company.logo or not mime:
        return ""
    return f"data:{mime};base64,{base64.b64encode(company.logo).decode('ascii')}"
