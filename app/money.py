"""Money is Decimal, rounded half-up to the cent; never a float.

These few functions are the only place where amounts are rounded, so totals computed by the
admin, the API, the portal and the PDFs cannot disagree.
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
ZERO = Decimal("0.00")

# Column shapes shared by every money and rate column.
MONEY_PRECISION = (14, 2)
QUANTITY_PRECISION = (12, 3)
RATE_PRECISION = (5, 2)


def to_decimal(value: object) -> Decimal:
    """Parse user or database input into a Decimal; floats are refused on purpose."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        raise TypeError("money must not be a float")
    if value is None or value == "":
        return Decimal(0)
    if isinstance(value, bool):  # JSON true/false is not an amount (Decimal(True) would be 1)
        raise ValueError(f"not a number: {value!r}")
    try:
        return Decimal(str(value).strip().replace(",", ".") if isinstance(value, str) else value)
    except (InvalidOperation, ValueError) as exc:
        raise ValueError(f"not a number: {value!r}") from exc


def stored_amount(value: object) -> Decimal:
    """An amount read back from SQL (a column or an aggregate), to the cent: PostgreSQL gives
    Decimal, SQLite int, float or str, and None when nothing was summed."""
    if value is None:
        return ZERO
    return Decimal(str(value)).quantize(CENT)


def round_cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def to_cents(value: Decimal) -> int:
    """Minor units for payment providers (EUR, USD and the like have two decimals)."""
    return int((round_cents(value) * 100).to_integral_value())
