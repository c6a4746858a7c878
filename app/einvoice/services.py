"""The e-invoicing rules, callable without HTTP: issue a document's file, find it, apply a
receipt, export a period. Each function leaves the commit to its caller.
"""
from __future__ import annotations

import datetime as dt
import io
import zipfile
from decimal import Decimal

from flask import Flask
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from app.billing.models import CreditNote, Invoice
from app.billing.services import BillingError
from app.billing.signals import document_finalized, document_finalizing
from app.billing.totals import STAMP_DUTY_NATURE, WITHHELD_PENSION_FUND, pension_fund_nature, tax_terms, vat_summary
from app.company.models import CompanySettings
from app.company.services import get_company
from app.einvoice import checks, fatturapa
from app.einvoice.models import CREDIT_NOTE, INVOICE, EInvoiceFile, EInvoiceProgressive, SdiReceipt
from app.einvoice.receipts import Receipt, parse_receipt
from app.einvoice.schema import schema_errors
from app.einvoice.signals import einvoice_file_issued
from app.extensions import db

PROGRESSIVE_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
PROGRESSIVE_LENGTH = 5  # IT<IdCodice>_<5 alphanumerics>.xml: 36^5, some sixty million files
STAMP_DUTY_LINE = "Imposta di bollo assolta in modo virtuale"
# A later receipt never takes a file back to an earlier state (they can arrive out of order).
STATUS_RANK = {"not_sent": 0, "sent": 1, "not_delivered": 2, "delivered": 3,
               "rejected": 4, "accepted": 4, "refused": 4, "expired": 4}
DOCUMENT_MODELS = {INVOICE: Invoice, CREDIT_NOTE: CreditNote}

Document = Invoice | CreditNote


class UnknownFile(LookupError):
    """A receipt names a file Clientela never made."""


def document_kind(document: Document) -> str:
    return CREDIT_NOTE if isinstance(document, CreditNote) else INVOICE


# ── Building the file ─────────────────────────────────────────────────────────────────────

def transmitter_code(company: CompanySettings) -> str:
    """IdTrasmittente's IdCodice: the configured one, else the company's VAT number, else its tax code."""
    return (fatturapa.code(company.transmitter_id, 28) or checks.vat_code_of(company)
            or fatturapa.code(company.tax_code, 16))


def seller_of(company: CompanySettings) -> fatturapa.Seller:
    return fatturapa.Seller(
        name=company.legal_name, address=company.address, city=company.city, province=company.province,
        postal_code=company.postal_code, country=company.country or "IT", vat_number=company.vat_number,
        tax_code=company.tax_code, regime_fiscale=company.regime_fiscale or "RF01", email=company.email,
        phone=company.phone, iban=company.iban, bank_name=company.bank_name,
    )


def buyer_of(document: Document) -> fatturapa.Buyer:
    return fatturapa.Buyer(
        name=document.bill_name, address=document.bill_address, city=document.bill_city,
        province=document.bill_province, postal_code=document.bill_postal_code,
        country=document.bill_country or "IT", vat_number=document.bill_vat_number, tax_code=document.bill_tax_code,
        kind=document.bill_kind or fatturapa.BUSINESS, sdi_code=document.bill_sdi_code, pec=document.bill_pec,
    )


def snapshot(document: Document) -> fatturapa.Document:
    """The document as the file shows it: its stored lines and totals, and billing's VAT summary."""
    withheld = bool(document.withholding_amount)
    lines = [
        fatturapa.Line(description=line.description, quantity=line.quantity, unit_price=line.unit_price,
                       discount=line.discount or Decimal(0), tax_rate=line.tax_rate, amount=line.amount,
                       nature="" if line.tax_rate else line.vat_nature, withholding=withheld)
        for line in document.lines
    ]
    if document.stamp_duty_charged and document.stamp_duty_amount:
        # The 2.00 the client pays back is in the total and in an N1 summary block: SdI wants
        # a line for it too (00422), never subject to withholding.
        lines.append(fatturapa.Line(description=STAMP_DUTY_LINE, quantity=Decimal(1),
                                    unit_price=document.stamp_duty_amount, discount=Decimal(0),
                                    tax_rate=Decimal(0), amount=document.stamp_duty_amount,
                                    nature=STAMP_DUTY_NATURE))
    summary = tuple(fatturapa.Summary(rate=block.rate, nature=block.nature, reference=block.nature_reference,
                                      taxable=block.taxable, tax=block.tax) for block in vat_summary(document))
    withholding = None
    if withheld:
        withholding = fatturapa.Withholding(type=document.withholding_type or "RT01", rate=document.withholding_rate,
                                            amount=document.withholding_amount,
                                            reason=document.withholding_reason or "A")
    fund = None
    if document.pension_fund_type and document.pension_fund_amount:
        fund = fatturapa.PensionFund(
            type=document.pension_fund_type, rate=document.pension_fund_rate, amount=document.pension_fund_amount,
            tax_rate=document.pension_fund_tax_rate,
            nature=pension_fund_nature(document.lines, tax_terms(document)),
            withholding=withheld and document.pension_fund_type == WITHHELD_PENSION_FUND,
        )
    linked = None
    reasons: tuple[str, ...] = ()
    if isinstance(document, CreditNote):
        linked = fatturapa.LinkedInvoice(number=document.invoice.number, issue_date=document.invoice.issue_date)
        reasons = (document.reason,) if (document.reason or "").strip() else ()
    return fatturapa.Document(
        document_type=document.document_type, number=document.number, issue_date=document.issue_date,
        currency=document.currency, total=document.total, net_to_pay=document.net_to_pay, lines=tuple(lines),
        summary=summary, due_date=getattr(document, "due_date", None), withholding=withholding,
        pension_fund=fund, stamp_duty=document.stamp_duty_amount or Decimal(0),
        split_payment=bool(document.split_payment), reasons=reasons, linked_invoice=linked,
    )


def build_xml(document: Document, progressive: str, company: CompanySettings | None = None) -> bytes:
    company = company or get_company()
    return fatturapa.build(snapshot(document), seller_of(company), buyer_of(document),
                           transmitter=transmitter_code(company), progressive=progressive)


def to_base36(value: int) -> str:
    digits = []
    while value:
        value, remainder = divmod(value, len(PROGRESSIVE_ALPHABET))
        digits.append(PROGRESSIVE_ALPHABET[remainder])
    return "".join(reversed(digits)).rjust(PROGRESSIVE_LENGTH, "0")


def next_progressive() -> str:
    """The next file progressive, under a row lock (SELECT … FOR UPDATE on PostgreSQL)."""
    session = db.session
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(EInvoiceProgressive).values(id=1, last_value=0).on_conflict_do_nothing(
        index_elements=["id"]))
    row = session.execute(select(EInvoiceProgressive).where(EInvoiceProgressive.id == 1).with_for_update()
                          .execution_options(populate_existing=True)).scalar_one()
    row.last_value += 1
    if row.last_value >= len(PROGRESSIVE_ALPHABET) ** PROGRESSIVE_LENGTH:
        raise BillingError(_l("The e-invoice file progressives are exhausted."))
    session.flush()
    return to_base36(row.last_value)


def files_of(document: Document) -> list[EInvoiceFile]:
    """Every file made for the document, oldest first (more than one after corrections)."""
    return list(db.session.scalars(
        select(EInvoiceFile).where(EInvoiceFile.document_kind == document_kind(document),
                                   EInvoiceFile.document_id == document.id).order_by(EInvoiceFile.id)
    ))


def current_file(document: Document) -> EInvoiceFile | None:
    return db.session.scalars(
        select(EInvoiceFile).where(EInvoiceFile.document_kind == document_kind(document),
                                   EInvoiceFile.document_id == document.id)
        .order_by(EInvoiceFile.id.desc()).limit(1)
    ).first()


def issue_file(document: Document) -> EInvoiceFile:
    """Make, validate and store the document's file (once: a second call returns it, unless
    SdI rejected it and the document was corrected, which makes a new file)."""
    existing = current_file(document)
    if existing is not None and existing.sdi_status != "rejected":
        return existing
    company = get_company()
    progressive = next_progressive()
    content = build_xml(document, progressive, company)
    errors = schema_errors(content)
    if errors:  # a bug of ours, never the user's: refuse rather than store a file SdI rejects
        raise BillingError(_l("The e-invoice does not satisfy the FatturaPA schema: %(error)s", error=errors[0]))
    file = EInvoiceFile(
        document_kind=document_kind(document), document_id=document.id, document_number=document.number,
        issue_date=document.issue_date, file_name=f"IT{transmitter_code(company)}_{progressive}.xml",
        progressive=progressive, content=content, sdi_status="not_sent", sdi_errors=[],
    )
    db.session.add(file)
    db.session.flush()
    document.sdi_file_name = file.file_name
    document.sdi_status = "not_sent"
    document.sdi_errors = []
    if company.einvoice_channel == "pec":
        einvoice_file_issued.send(file, document=document)
    return file


def mark_sent(file_name: str) -> None:
    """The file left by PEC: it is `sent` until SdI answers (never back from a later state)."""
    file = db.session.scalar(select(EInvoiceFile).where(EInvoiceFile.file_name == file_name))
    if file is not None:
        _set_status(file, "sent", None)


# ── Receipts ──────────────────────────────────────────────────────────────────────────────

def document_of(file: EInvoiceFile) -> Document | None:
    return db.session.get(DOCUMENT_MODELS[file.document_kind], file.document_id)


def _set_status(file: EInvoiceFile, status: str, errors: list | None) -> None:
    if STATUS_RANK[status] < STATUS_RANK.get(file.sdi_status, 0):
        return
    file.sdi_status = status
    if errors is not None:
        file.sdi_errors = errors
    document = document_of(file)
    if document is not None and document.sdi_file_name == file.file_name:
        document.sdi_status = file.sdi_status
        document.sdi_errors = list(file.sdi_errors or [])


def import_receipt(content: bytes) -> tuple[EInvoiceFile, Receipt]:
    """Apply one receipt to the file it names. Raises receipts.MalformedReceipt or
    schema.UnsafeXml (the caller answers 400) and UnknownFile (404). A receipt already
    imported changes nothing."""
    receipt = parse_receipt(content)
    file = db.session.scalar(select(EInvoiceFile).where(EInvoiceFile.file_name == receipt.file_name)
                             .with_for_update())
    if file is None:
        raise UnknownFile(receipt.file_name)
    seen = db.session.scalar(select(SdiReceipt.id).where(
        SdiReceipt.file_id == file.id, SdiReceipt.kind == receipt.kind, SdiReceipt.message_id == receipt.message_id))
    if seen is not None:
        return file, receipt
    try:
        with db.session.begin_nested():
            db.session.add(SdiReceipt(file_id=file.id, kind=receipt.kind, message_id=receipt.message_id,
                                      sdi_id=receipt.sdi_id, content=content))
    except IntegrityError:  # the same receipt, imported at the same moment by another worker
        return file, receipt
    _set_status(file, receipt.status, receipt.errors if receipt.kind == "NS" else None)
    return file, receipt


# ── The accountant's export ───────────────────────────────────────────────────────────────

def period_files(start: dt.date, end: dt.date) -> list[EInvoiceFile]:
    """The current file of each document dated in the period (superseded rejected files are
    not invoices: SdI never accepted them)."""
    latest = (select(func.max(EInvoiceFile.id))
              .where(EInvoiceFile.issue_date >= start, EInvoiceFile.issue_date <= end)
              .group_by(EInvoiceFile.document_kind, EInvoiceFile.document_id))
    return list(db.session.scalars(select(EInvoiceFile).where(EInvoiceFile.id.in_(latest))
                                   .order_by(EInvoiceFile.issue_date, EInvoiceFile.id)))


def export_zip(start: dt.date, end: dt.date) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in period_files(start, end):
            archive.writestr(file.file_name, file.content)
    return buffer.getvalue()


# ── Wiring ────────────────────────────────────────────────────────────────────────────────

def enabled(company: CompanySettings) -> bool:
    """E-invoicing starts once the company has its Italian VAT number: before that there is
    no seller to name (a fresh install, or a company outside Italy), and documents are
    finalized as before; the invoice page says why no XML is offered."""
    return (company.country or "IT").upper() == "IT" and bool(checks.vat_code_of(company))


def _check_on_finalizing(document, **_kwargs) -> None:
    company = get_company()
    if isinstance(document, (Invoice, CreditNote)) and enabled(company):
        checks.check_document(document, company)


def _issue_on_finalized(document, **_kwargs) -> None:
    if isinstance(document, (Invoice, CreditNote)) and enabled(get_company()):
        issue_file(document)


def init_app(app: Flask) -> None:
    """Connect to billing's signals (weak=False: the functions live as long as the module)
    and put the receipts' mailbox on the clock."""
    from app.einvoice import periodic

    periodic.init_app(app)
    document_finalizing.connect(_check_on_finalizing, weak=False)
    document_finalized.connect(_issue_on_finalized, weak=False)
