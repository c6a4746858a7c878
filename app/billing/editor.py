"""The one-page editor of invoices, quotes and credit-note drafts: what its view needs besides
the form (`app.billing.forms`).

A new document exists only once it is saved: the editor opens on defaults (`new_document_defaults`)
and `create_document` makes it through `new_invoice` / `new_quote` with every line at once. A
refused save changes nothing and the form comes back as typed, each error at its row and
field (`show_refusal`). The browser recomputes the totals as the user types
(`app/static/admin/editor.js`) with the rounding of `app.billing.totals`; `editor_config` hands
it the reader's notation and the tax blocks the document will apply. The server stays the
authority: what is saved is computed again by the services.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from babel.numbers import get_decimal_symbol, get_group_symbol
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.billing import services
from app.billing.models import CreditNote, Invoice
from app.billing.natures import STAMP_DUTY_NATURES
from app.billing.totals import (
    NO_TERMS,
    STAMP_DUTY,
    STAMP_DUTY_NATURE,
    STAMP_DUTY_THRESHOLD,
    WITHHELD_PENSION_FUND,
    TaxTerms,
    tax_terms,
)
from app.clients.models import Client
from app.company.services import get_company
from app.fab.fields import example_amount
from app.i18n import current_language, format_money

EARLY_CREDIT_NOTE = _l("A credit note cannot be dated before its invoice.")


def new_document_defaults(kind: str, client: Client) -> dict[str, object]:
    """What the empty editor shows: today, the company's terms and payment delay, no lines
    (the form adds one spare row, at the company's default VAT rate)."""
    company = get_company()
    today = dt.date.today()
    values: dict[str, object] = {"issue_date": today, "notes": "", "terms": company.default_terms or "", "lines": []}
    if kind == "invoice":
        values["due_date"] = today + dt.timedelta(days=company.payment_terms_days or 0)
    else:
        values["valid_until"] = today + dt.timedelta(days=company.quote_validity_days or 30)
    return values


def create_document(kind: str, client: Client, form):
    """The invoice or quote the editor's form describes, made in one go (the caller commits)."""
    header = {name: form[name].data for name in form.header_fields}
    lines = form.lines.line_values()
    if kind == "invoice":
        return services.new_invoice(client, issue_date=header["issue_date"], due_date=header["due_date"],
                                    lines=lines, notes=header["notes"] or "", terms=header["terms"] or "")
    return services.new_quote(client, issue_date=header["issue_date"], valid_until=header["valid_until"],
                              lines=lines, notes=header["notes"] or "", terms=header["terms"] or "")


def update_draft(document, form) -> None:
    """Write the form onto a draft: its header, then every line through the billing rule."""
    lines = form.lines.line_values()
    if isinstance(document, CreditNote):
        if form.issue_date.data < document.invoice.issue_date:
            raise services.BillingError(EARLY_CREDIT_NOTE, "issue_date")
        document.issue_date = form.issue_date.data
        document.reason = (form.reason.data or "").strip()
        document.notes = form.notes.data or ""
        services.set_credit_note_lines(document, lines)  # within what is left to credit
        return
    for name in form.header_fields:
        setattr(document, name, form[name].data if form[name].data is not None else "")
    services.set_lines(document, lines)


def show_refusal(form, error: services.BillingError) -> None:
    """Put a rule's refusal where it belongs: a line's at its row and field, a header's at its
    field; what names no field is kept for a message at the top (`unplaced_errors`)."""
    errors = error.errors if isinstance(error, services.BillingErrors) else {error.field or "": error.message}
    form.unplaced = []
    for key, message in errors.items():
        text = str(message)
        if form.lines.show_refusal(key, text):
            continue
        if key and key in form:
            form[key].errors = [*form[key].errors, text]
        else:
            form.unplaced.append(text)


def unplaced_errors(form) -> list[str]:
    return list(getattr(form, "unplaced", []))


def draft_terms(kind: str, document, client: Client) -> TaxTerms:
    """The tax blocks the saved draft will carry: a quote none, a credit note its invoice's,
    an invoice what `fix_tax_terms` gives today (worked out on an unsaved copy)."""
    if kind == "quote":
        return NO_TERMS
    if isinstance(document, CreditNote):
        return tax_terms(document)
    probe = Invoice()
    probe.client = client
    services.fix_tax_terms(probe)
    return tax_terms(probe)


def _plain(value: Decimal) -> str:
    """A rate for the script (machine text, never shown): `22.00`, never `2.2E+1`."""
    return format(Decimal(value), "f")


def editor_config(kind: str, document, client: Client) -> dict[str, object]:
    """What editor.js needs to read and show numbers as the server does: the reader's decimal
    and group symbols, the money pattern, the tax blocks, and the labels of the totals."""
    language = current_language()
    currency = (document.currency if document is not None else client.currency) or "EUR"
    decimal, group = get_decimal_symbol(language), get_group_symbol(language)
    prefix, _zero, suffix = format_money(Decimal("0.00"), currency).partition(f"0{decimal}00")
    terms = draft_terms(kind, document, client)
    return {
        "decimal": decimal,
        "group": group,
        "money": {"prefix": prefix, "suffix": suffix},
        "default_tax_rate": _plain(get_company().default_tax_rate),
        "terms": {
            "withholding_rate": _plain(terms.withholding_rate),
            "pension_fund_type": terms.pension_fund_type,
            "pension_fund_rate": _plain(terms.pension_fund_rate),
            "pension_fund_tax_rate": _plain(terms.pension_fund_tax_rate),
            "stamp_duty_auto": terms.stamp_duty_auto,
            "stamp_duty_charged": terms.stamp_duty_charged,
            "split_payment": terms.split_payment,
        },
        "stamp": {"amount": _plain(STAMP_DUTY), "threshold": _plain(STAMP_DUTY_THRESHOLD),
                  "nature": STAMP_DUTY_NATURE, "natures": sorted(STAMP_DUTY_NATURES)},
        "withheld_fund": WITHHELD_PENSION_FUND,
        "labels": {
            "vat": _("Tax %(rate)s%% on %(taxable)s", rate="{rate}", taxable="{taxable}"),
            "unreadable": _("Type a number such as %(example)s.", example=example_amount()),
        },
    }


def billing_block(document, client: Client) -> dict[str, str]:
    """The "Billed to" block: the draft's copy, or the client's profile for a new document."""
    if document is not None:
        return {name: getattr(document, f"bill_{name}") or "" for name in
                ("name", "vat_number", "tax_code", "address", "postal_code", "city", "province", "country")}
    return {name: getattr(client, name) or "" for name in
            ("name", "vat_number", "tax_code", "address", "postal_code", "city", "province", "country")}
