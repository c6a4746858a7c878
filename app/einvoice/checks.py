"""SdI's content checks that need nothing but the document: run when it is finalized.

The XSD checks structure only; SdI then rejects a file for what these find (error codes from
the Agenzia's "Elenco controlli" 1.9), days later, after the invoice went out by email. Here
they refuse the finalization instead, before a number is taken, at the field the user must
change, with a message naming SdI's code so an accountant can look it up.
"""
from __future__ import annotations

from decimal import Decimal

from flask_babel import lazy_gettext as _l

from app.billing.natures import RETIRED_NATURES
from app.billing.services import BillingError
from app.billing.numbering import format_number
from app.billing.totals import HUNDRED, pension_fund_nature, tax_terms, vat_summary
from app.company.models import CompanySettings
from app.einvoice.fatturapa import INDIVIDUAL, PUBLIC_ADMINISTRATION
from app.einvoice.text import code
from app.money import CENT, round_cents

LINE_TOLERANCE = Decimal("0.01")  # 00423: PrezzoTotale against quantity × price less discount
TAXABLE_TOLERANCE = Decimal("1.00")  # 00422: a summary block's taxable against its lines
TAX_TOLERANCE = Decimal("0.01")  # 00421: a block's tax against taxable × rate


class SdiCheckFailed(BillingError):
    """SdI would reject the file for this; `code` is SdI's error code. A billing refusal, so
    every caller of finalization (admin, API, jobs) shows it like its own."""

    def __init__(self, code: str, message, field: str):
        super().__init__(message, field)
        self.code = code


def _lines(document) -> list:
    return list(document.lines)


def check_lines(document) -> None:
    for index, line in enumerate(_lines(document)):
        field = f"lines.{index}.vat_nature"
        nature = (line.vat_nature or "").strip()
        if nature in RETIRED_NATURES:
            raise SdiCheckFailed("00445", _l("SdI rejects the nature %(nature)s since 2021: choose one of its "
                                             "subcodes (SdI error 00445).", nature=nature), field)
        if not line.tax_rate and not nature:
            raise SdiCheckFailed("00400", _l("A line without VAT (rate 0) needs a VAT nature (SdI error 00400)."), field)
        if line.tax_rate and nature:
            raise SdiCheckFailed("00401", _l("A line with VAT cannot have a VAT nature (SdI error 00401)."), field)
        gross = Decimal(line.quantity) * Decimal(line.unit_price) * (HUNDRED - Decimal(line.discount or 0)) / HUNDRED
        if abs(round_cents(gross) - Decimal(line.amount)) > LINE_TOLERANCE:
            raise SdiCheckFailed("00423", _l("The line's amount is not quantity × price less the discount "
                                             "(SdI error 00423)."), f"lines.{index}.unit_price")


def check_summary(document) -> None:
    """00419, 00421, 00422: the summary has a block for every rate and nature of the lines
    (and the pension fund), each block's taxable is what its lines add up to, its tax is
    taxable × rate; and the stored total is what the blocks add up to."""
    blocks = vat_summary(document)
    keys = {(block.rate.quantize(CENT), block.nature) for block in blocks}
    for line in _lines(document):
        rate = Decimal(line.tax_rate).quantize(CENT)
        if (rate, "" if rate else line.vat_nature) not in keys:
            raise SdiCheckFailed("00419", _l("The VAT summary lacks the rate or nature of a line (SdI error 00419)."),
                                 "lines")
    fund_nature = pension_fund_nature(_lines(document), tax_terms(document))
    for block in blocks:
        expected = sum((Decimal(line.amount) for line in _lines(document)
                        if Decimal(line.tax_rate).quantize(CENT) == block.rate.quantize(CENT)
                        and ("" if line.tax_rate else line.vat_nature) == block.nature), Decimal("0.00"))
        if document.pension_fund_amount and Decimal(document.pension_fund_tax_rate).quantize(CENT) == block.rate \
                and fund_nature == block.nature:
            expected += document.pension_fund_amount
        if document.stamp_duty_charged and document.stamp_duty_amount and not block.rate and block.nature == "N1":
            expected += document.stamp_duty_amount
        if abs(expected - block.taxable) > TAXABLE_TOLERANCE:
            raise SdiCheckFailed("00422", _l("A VAT summary block's taxable amount differs from its lines "
                                             "(SdI error 00422)."), "lines")
        if abs(round_cents(block.taxable * block.rate / HUNDRED) - block.tax) > TAX_TOLERANCE:
            raise SdiCheckFailed("00421", _l("A VAT summary block's tax is not its taxable amount × its rate "
                                             "(SdI error 00421)."), "lines")
    if sum((block.tax for block in blocks), Decimal("0.00")) != document.tax_total:
        raise SdiCheckFailed("00421", _l("The VAT summary's tax differs from the document's (SdI error 00421)."),
                             "lines")
    if document.pension_fund_amount and not document.pension_fund_tax_rate and not fund_nature:
        raise SdiCheckFailed("00413", _l("A pension fund contribution without VAT needs a VAT nature: add a line "
                                         "without VAT that has one (SdI error 00413)."), "lines")


def check_buyer(document) -> None:
    kind = document.bill_kind or "business"
    foreign = (document.bill_country or "IT").upper() != "IT"
    tax_code = code(document.bill_tax_code, 16)
    vat = code(document.bill_vat_number, 30)
    if not foreign:
        if kind == INDIVIDUAL and not tax_code:
            raise SdiCheckFailed("00417", _l("An Italian private person is identified by their tax code: add it "
                                             "to the client (SdI error 00417)."), "bill_tax_code")
        if kind != INDIVIDUAL and not (vat or tax_code):
            raise SdiCheckFailed("00417", _l("The client needs a VAT number or a tax code (SdI error 00417)."),
                                 "bill_vat_number")
    sdi_code = code(document.bill_sdi_code, 7)
    if kind == PUBLIC_ADMINISTRATION and not foreign and len(sdi_code) != 6:
        raise SdiCheckFailed("00427", _l("A public administration's office code (codice univoco ufficio) has 6 "
                                         "characters (SdI error 00427)."), "bill_sdi_code")
    if kind != PUBLIC_ADMINISTRATION and sdi_code and len(sdi_code) != 7:
        raise SdiCheckFailed("00427", _l("An SdI recipient code has 7 characters (SdI error 00427)."),
                             "bill_sdi_code")
    if not (document.bill_address or "").strip() or not (document.bill_city or "").strip():
        raise BillingError(_l("The e-invoice needs the client's address and city."), "bill_address")


def check_number(document, company: CompanySettings) -> None:
    """00425: the number must contain a digit (a corrected document keeps the one it has)."""
    pattern = company.credit_note_number_format if document.document_type == "TD04" else company.invoice_number_format
    number = document.number or format_number(pattern, document.issue_date.year, 1)
    if not any(char.isdigit() for char in number):
        raise SdiCheckFailed("00425", _l("The document number must contain at least one digit (SdI error 00425)."),
                             "number")


def check_credit_note(document) -> None:
    """00418: a credit note cannot be dated before the invoice it corrects."""
    if document.document_type == "TD04" and document.issue_date < document.invoice.issue_date:
        raise SdiCheckFailed("00418", _l("A credit note cannot be dated before its invoice (SdI error 00418)."),
                             "issue_date")


def check_company(company: CompanySettings) -> None:
    """What the seller block needs; not one of SdI's coded checks, the schema refuses it first."""
    if not (company.address or "").strip() or not (company.city or "").strip():
        raise BillingError(_l("Set the company's address and city (Company settings) before issuing e-invoices."),
                      "address")


def vat_code_of(company: CompanySettings) -> str:
    number = code(company.vat_number, 30)
    country = (company.country or "IT").upper()
    return number[2:] if number.startswith(country) and len(number) > 2 else number


def check_document(document, company: CompanySettings) -> None:
    """Every check, in the order a user would fix them; raises the first that fails."""
    check_company(company)
    check_buyer(document)
    check_lines(document)
    check_summary(document)
    check_number(document, company)
    check_credit_note(document)

