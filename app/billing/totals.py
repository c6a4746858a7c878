"""The one rule for line amounts and document totals.

Each line's net amount is quantity × unit price less its discount, rounded half-up to the
cent. Tax is computed once per tax rate on the sum of that rate's net amounts (the Italian
"riepilogo IVA"), rounded half-up to the cent. The total is net plus tax; paid and balance
follow from the payments.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Iterable, Protocol

from app.money import CENT, ZERO, round_cents, to_decimal

HUNDRED = Decimal(100)


class LineLike(Protocol):
    quantity: Decimal
    unit_price: Decimal
    discount: Decimal
    tax_rate: Decimal


@dataclass(frozen=True)
class TaxLine:
    rate: Decimal
    taxable: Decimal
    tax: Decimal


@dataclass(frozen=True)
class Totals:
    subtotal: Decimal
    tax_total: Decimal
    total: Decimal
    taxes: tuple[TaxLine, ...]


def line_amount(quantity: object, unit_price: object, discount: object = 0) -> Decimal:
    # The default 28 digits could round the largest accepted inputs before the cent is reached.
    with localcontext() as context:
        context.prec = 60
        gross = to_decimal(quantity) * to_decimal(unit_price)
        return round_cents(gross * (HUNDRED - to_decimal(discount)) / HUNDRED)


def compute_totals(lines: Iterable[LineLike]) -> Totals:
    taxable_by_rate: dict[Decimal, Decimal] = defaultdict(lambda: ZERO)
    for line in lines:
        rate = to_decimal(line.tax_rate).quantize(CENT)  # 22, 22.0 and 22.00 are one rate
        taxable_by_rate[rate] += line_amount(line.quantity, line.unit_price, line.discount)
    taxes = tuple(
        TaxLine(rate=rate, taxable=taxable, tax=round_cents(taxable * rate / HUNDRED))
        for rate, taxable in sorted(taxable_by_rate.items())
    )
    subtotal = sum((t.taxable for t in taxes), ZERO)
    tax_total = sum((t.tax for t in taxes), ZERO)
    return Totals(subtotal=subtotal, tax_total=tax_total, total=subtotal + tax_total, taxes=taxes)


def apply_totals(document) -> Totals:
    """Store line amounts and document totals on an invoice or quote (and balance on invoices)."""
    for position, line in enumerate(document.lines):
        line.position = position
        line.amount = line_amount(line.quantity, line.unit_price, line.discount)
    totals = compute_totals(document.lines)
    document.subtotal = totals.subtotal
    document.tax_total = totals.tax_total
    document.total = totals.total
    if hasattr(document, "amount_paid"):
        document.amount_paid = sum((to_decimal(p.amount) for p in document.payments), ZERO)
        document.balance = document.total - document.amount_paid
    return totals
