"""The one rule for line amounts and document totals, and the Italian tax blocks.

Each line's net amount is quantity × unit price less its discount, rounded half-up to the
cent. Tax is computed once per VAT summary block, one per (rate, nature), on the sum of that
block's net amounts (the Italian "riepilogo IVA", DatiRiepilogo on the e-invoice), rounded
half-up to the cent. The tax blocks a document applies (`TaxTerms`, fixed at finalization)
add to that:

- pension fund contribution (rivalsa, e.g. TC22 INPS 4 %): its rate × the lines' net
  amounts, added to the taxable base of its VAT rate's block (DatiCassaPrevidenziale);
- stamp duty (bollo virtuale): 2.00 when it is automatic and the amounts not subject to VAT
  that the stamp rule counts (`app.billing.natures.STAMP_DUTY_NATURES`) exceed 77.47; when
  the client is charged it, it is an N1 block of its own (and an N1 line on the e-invoice);
- withholding tax (ritenuta d'acconto): its rate × (the lines' net amounts + the TC22 INPS
  contribution, the one fund subject to ritenuta); the client pays it to the State for us;
- split payment: the client pays the VAT to the State.

total = net amounts + pension fund + VAT + stamp (when charged);
net_to_pay = total − withholding − (VAT under split payment): what the client pays us.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Iterable, Protocol

from app.billing.natures import STAMP_DUTY_NATURES, nature_reference
from app.money import CENT, ZERO, round_cents, to_decimal

HUNDRED = Decimal(100)
STAMP_DUTY = Decimal("2.00")
STAMP_DUTY_THRESHOLD = Decimal("77.47")  # the duty is due above it, not at it
STAMP_DUTY_NATURE = "N1"
STAMP_DUTY_REFERENCE = "Imposta di bollo assolta in modo virtuale, art. 15 DPR 633/72"
# The one pension fund whose contribution is subject to withholding (INPS gestione separata).
WITHHELD_PENSION_FUND = "TC22"


class LineLike(Protocol):
    quantity: Decimal
    unit_price: Decimal
    discount: Decimal
    tax_rate: Decimal


@dataclass(frozen=True)
class VatBlock:
    """One block of the VAT summary: every amount at one rate and nature."""

    rate: Decimal
    nature: str
    nature_reference: str
    taxable: Decimal
    tax: Decimal


@dataclass(frozen=True)
class TaxTerms:
    """The tax blocks a document applies (all off: a plain document, such as a quote)."""

    withholding_rate: Decimal = ZERO  # 0 when the client withholds nothing
    pension_fund_type: str = ""
    pension_fund_rate: Decimal = ZERO
    pension_fund_tax_rate: Decimal = ZERO
    stamp_duty_auto: bool = False
    stamp_duty_charged: bool = False
    split_payment: bool = False


NO_TERMS = TaxTerms()


@dataclass(frozen=True)
class Totals:
    subtotal: Decimal  # the lines' net amounts
    tax_total: Decimal
    total: Decimal
    taxes: tuple[VatBlock, ...]
    pension_fund_amount: Decimal = ZERO
    withholding_amount: Decimal = ZERO
    stamp_duty_amount: Decimal = ZERO
    net_to_pay: Decimal = ZERO


def line_amount(quantity: object, unit_price: object, discount: object = 0) -> Decimal:
    # The default 28 digits could round the largest accepted inputs before the cent is reached.
    with localcontext() as context:
        context.prec = 60
        gross = to_decimal(quantity) * to_decimal(unit_price)
        return round_cents(gross * (HUNDRED - to_decimal(discount)) / HUNDRED)


def percent_of(rate: Decimal, amount: Decimal) -> Decimal:
    return round_cents(to_decimal(rate) * amount / HUNDRED)


def pension_fund_nature(lines: Iterable[LineLike], terms: TaxTerms) -> str:
    """The nature of the contribution: none when it bears VAT; at 0 % that of the first 0 %
    line (a forfettario's N2.2), "" when no line has one (finalization refuses that)."""
    if to_decimal(terms.pension_fund_tax_rate):
        return ""
    return next((getattr(line, "vat_nature", "") for line in lines
                 if not to_decimal(line.tax_rate) and getattr(line, "vat_nature", "")), "")


def compute_totals(lines: Iterable[LineLike], terms: TaxTerms = NO_TERMS) -> Totals:
    lines = list(lines)
    taxable: dict[tuple[Decimal, str], Decimal] = defaultdict(lambda: ZERO)
    references: dict[tuple[Decimal, str], str] = {}
    for line in lines:
        rate = to_decimal(line.tax_rate).quantize(CENT)  # 22, 22.0 and 22.00 are one rate
        nature = "" if rate else getattr(line, "vat_nature", "") or ""
        key = (rate, nature)
        taxable[key] += line_amount(line.quantity, line.unit_price, line.discount)
        if not references.get(key):
            references[key] = getattr(line, "vat_nature_reference", "") or ""
    subtotal = sum(taxable.values(), ZERO)

    pension_fund = ZERO
    if terms.pension_fund_type and to_decimal(terms.pension_fund_rate):
        pension_fund = percent_of(terms.pension_fund_rate, subtotal)
        key = (to_decimal(terms.pension_fund_tax_rate).quantize(CENT), pension_fund_nature(lines, terms))
        taxable[key] += pension_fund

    stamp_duty = ZERO
    if terms.stamp_duty_auto:
        vat_free = sum((amount for (rate, nature), amount in taxable.items()
                        if not rate and nature in STAMP_DUTY_NATURES), ZERO)
        if vat_free > STAMP_DUTY_THRESHOLD:
            stamp_duty = STAMP_DUTY
    if stamp_duty and terms.stamp_duty_charged:
        key = (ZERO.quantize(CENT), STAMP_DUTY_NATURE)
        taxable[key] += stamp_duty
        references.setdefault(key, STAMP_DUTY_REFERENCE)

    taxes = tuple(
        VatBlock(rate=rate, nature=nature, nature_reference=nature_reference(nature, references.get((rate, nature), "")),
                 taxable=amount, tax=percent_of(rate, amount))
        for (rate, nature), amount in sorted(taxable.items())
    )
    tax_total = sum((t.tax for t in taxes), ZERO)
    total = sum((t.taxable for t in taxes), ZERO) + tax_total

    withholding = ZERO
    if to_decimal(terms.withholding_rate):
        base = subtotal + (pension_fund if terms.pension_fund_type == WITHHELD_PENSION_FUND else ZERO)
        withholding = percent_of(terms.withholding_rate, base)
    net_to_pay = total - withholding - (tax_total if terms.split_payment else ZERO)
    return Totals(subtotal=subtotal, tax_total=tax_total, total=total, taxes=taxes,
                  pension_fund_amount=pension_fund, withholding_amount=withholding,
                  stamp_duty_amount=stamp_duty, net_to_pay=net_to_pay)


def tax_terms(document) -> TaxTerms:
    """The tax blocks stored on an invoice or credit note; none on a quote."""
    if not hasattr(document, "net_to_pay"):
        return NO_TERMS
    return TaxTerms(
        withholding_rate=to_decimal(document.withholding_rate or 0),
        pension_fund_type=document.pension_fund_type or "",
        pension_fund_rate=to_decimal(document.pension_fund_rate or 0),
        pension_fund_tax_rate=to_decimal(document.pension_fund_tax_rate or 0),
        stamp_duty_auto=bool(document.stamp_duty_auto),
        stamp_duty_charged=bool(document.stamp_duty_charged),
        split_payment=bool(document.split_payment),
    )


def document_totals(document) -> Totals:
    return compute_totals(document.lines, tax_terms(document))


def vat_summary(document) -> list[VatBlock]:
    """The document's VAT summary, one block per (rate, nature), sorted by rate then nature:
    what its stored tax_total is the sum of, and what the PDF and the e-invoice print."""
    return list(document_totals(document).taxes)


def apply_totals(document) -> Totals:
    """Store line amounts and document totals (with the tax blocks and, on invoices, paid,
    credited and balance) on an invoice, quote or credit note."""
    for position, line in enumerate(document.lines):
        line.position = position
        line.amount = line_amount(line.quantity, line.unit_price, line.discount)
    totals = document_totals(document)
    document.subtotal = totals.subtotal
    document.tax_total = totals.tax_total
    document.total = totals.total
    if hasattr(document, "net_to_pay"):
        document.pension_fund_amount = totals.pension_fund_amount
        document.withholding_amount = totals.withholding_amount
        document.stamp_duty_amount = totals.stamp_duty_amount
        document.net_to_pay = totals.net_to_pay
    if hasattr(document, "amount_paid"):
        document.amount_paid = sum((to_decimal(p.amount) for p in document.payments), ZERO)
        document.balance = balance_of(document.net_to_pay, document.amount_paid,
                                      to_decimal(document.amount_credited or 0))
    return totals


def balance_of(net_to_pay: Decimal, amount_paid: Decimal, amount_credited: Decimal = ZERO) -> Decimal:
    """What is left to pay of an invoice: the net to pay less payments and credit notes."""
    return net_to_pay - amount_paid - amount_credited
