"""The catalogue's rules: what a valid product is, and how it is created, changed and archived.

Admin views and the API both go through `clean_product`, so an error reads the same and
sits on the same field everywhere. Functions change the session; the caller commits.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Mapping

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.company.services import get_company
from app.errors import FieldRefusals
from app.extensions import db
from app.i18n import example_number
from app.money import CENT, to_decimal
from app.products.models import Product
from app.security.limits import MAX_ID

# FatturaPA's Natura codes: why a line carries no VAT (excluded, not subject, exempt, reverse
# charge …). Billing validates the nature on lines; a product is checked against the same list.
VAT_NATURES = (
    "N1", "N2.1", "N2.2", "N3.1", "N3.2", "N3.3", "N3.4", "N3.5", "N3.6", "N4", "N5",
    "N6.1", "N6.2", "N6.3", "N6.4", "N6.5", "N6.6", "N6.7", "N6.8", "N6.9", "N7",
)
MAX_PRICE = Decimal("999999999999.99")
PRODUCT_FIELDS = ("name", "description", "unit", "unit_price", "tax_rate", "vat_nature")
# What a line takes from its product when it does not give its own.
LINE_VALUES = ("description", "unit_price", "tax_rate", "vat_nature")


class ProductErrors(FieldRefusals):
    """The fields a product's input got wrong, each with its message."""


def clean_product(data: Mapping[str, object]) -> tuple[dict[str, object], dict[str, object]]:
    """Check a product's fields (all of them: the caller merges a change into the current
    values first); return (values, errors by field)."""
    values: dict[str, object] = {}
    errors: dict[str, object] = {}
    name = str(data.get("name") or "").strip()
    if not name:
        errors["name"] = _l("The name is required.")
    elif len(name) > 200:
        errors["name"] = _l("At most {max} characters.").format(max=200)
    values["name"] = name
    values["description"] = str(data.get("description") or "").strip()
    unit = str(data.get("unit") or "").strip()
    if len(unit) > 20:
        errors["unit"] = _l("At most {max} characters.").format(max=20)
    values["unit"] = unit

    try:
        price = to_decimal(data.get("unit_price"))
        if not price.is_finite() or abs(price) > MAX_PRICE or price != price.quantize(CENT):
            raise ValueError
        values["unit_price"] = price
    except (ValueError, TypeError):
        errors["unit_price"] = _l("The unit price must be an amount such as %(example)s.", example=example_number("120.50"))
    raw_rate = data.get("tax_rate")
    try:
        rate = get_company().default_tax_rate if raw_rate is None or raw_rate == "" else to_decimal(raw_rate)
        if not rate.is_finite() or not Decimal(0) <= rate <= Decimal(100):
            raise ValueError
        values["tax_rate"] = rate
    except (ValueError, TypeError):
        errors["tax_rate"] = _l("The tax rate is a percentage between 0 and 100.")

    nature = str(data.get("vat_nature") or "").strip().upper()
    values["vat_nature"] = nature
    if nature and nature not in VAT_NATURES:
        errors["vat_nature"] = _l("Unknown VAT nature: use one of N1, N2.1 … N7.")
    elif "tax_rate" in values and values["tax_rate"] == 0 and not nature:
        errors["vat_nature"] = _l("A product with a zero VAT rate needs a nature (N1 … N7): why no VAT is charged.")
    elif "tax_rate" in values and values["tax_rate"] > 0 and nature:
        errors["vat_nature"] = _l("A nature applies only to a zero VAT rate.")
    return values, errors


def _apply(product: Product, data: Mapping[str, object]) -> Product:
    current = {name: getattr(product, name) for name in PRODUCT_FIELDS}
    values, errors = clean_product({**current, **{k: v for k, v in data.items() if k in PRODUCT_FIELDS}})
    if errors:
        raise ProductErrors(errors)
    for name, value in values.items():
        setattr(product, name, value)
    if "archived" in data:
        product.archived = bool(data["archived"])
    return product


def create_product(data: Mapping[str, object]) -> Product:
    product = _apply(Product(name="", description="", unit="", vat_nature="", archived=False,
                             unit_price=Decimal(0), tax_rate=None), data)
    db.session.add(product)
    db.session.flush()
    return product


def update_product(product: Product, data: Mapping[str, object]) -> Product:
    """Change the fields `data` names. Documents already made keep their own copy of the
    description, price and rate: changing a product never changes an invoice."""
    return _apply(product, data)


def archive_product(product: Product) -> Product:
    """Take a product off the pickers; documents that use it keep it."""
    product.archived = True
    return product


def restore_product(product: Product) -> Product:
    product.archived = False
    return product


def find_product(product_id: object) -> Product | None:
    """The product a line names by id (an int or a string of digits), or None for anything else."""
    if isinstance(product_id, bool):
        return None
    if isinstance(product_id, str) and product_id.strip().isdigit():
        product_id = int(product_id.strip())
    if not isinstance(product_id, int) or not 0 < product_id <= MAX_ID:
        return None
    return db.session.get(Product, product_id)


def line_values(product: Product) -> dict[str, object]:
    """What a line takes from its product (the line's own values win, see billing)."""
    return {name: getattr(product, name) for name in LINE_VALUES}


def product_choices(keep: set[int] = frozenset()) -> list[tuple[str, str]]:
    """The pickers' options: active products by name, plus archived ones in `keep` (those
    already on the document being edited, so its lines still show them)."""
    rows = db.session.execute(
        select(Product.id, Product.name, Product.archived)
        .where((Product.archived.is_(False)) | Product.id.in_(keep or {0}))
        .order_by(Product.name, Product.id)
    ).all()
    return [(str(pid), f"{name} ({_l('archived')})" if archived else name) for pid, name, archived in rows]
