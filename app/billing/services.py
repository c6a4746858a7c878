"""The billing rules, callable without HTTP: admin views, the API, jobs and the portal use them.

Each function changes the session and leaves the commit to its caller, so a request or job
is one transaction: a failure after a number was taken rolls the number back too.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Iterable, Mapping

from flask_babel import lazy_gettext as _l
from sqlalchemy import event, func, inspect, select
from sqlalchemy.orm import Session

from app.activity import services as activity
from app.billing import (
    accounts,  # noqa: F401  (registers the flush listener that keeps client rollups)
    revisions,  # noqa: F401  (registers the flush listener that bumps document revisions)
    states,
)
from app.billing.models import (
    DOCUMENT_CLASSES,
    LINE_CLASSES,
    VAT_NATURES,
    CreditNote,
    CreditNoteLine,
    CreditNoteStatus,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    Payment,
    PaymentMethod,
    Quote,
    QuoteLine,
    QuoteStatus,
    line_document,
)
from app.billing.natures import RETIRED_NATURES
from app.billing.numbering import format_number, next_number
from app.billing.signals import document_finalized, document_finalizing, payment_recorded
from app.billing.totals import apply_totals, compute_totals, line_amount, pension_fund_nature, tax_terms
from app.clients.models import Client
from app.company.models import CompanySettings
from app.company.services import get_company
from app.errors import Refusal
from app.extensions import db
from app.i18n import example_number, format_money
from app.money import CENT, MONEY_PRECISION, QUANTITY_PRECISION, RATE_PRECISION, ZERO, to_decimal
from app.products import services as products

LINE_FIELDS = ("product_id", "description", "quantity", "unit_price", "discount", "tax_rate", "vat_nature",
               "vat_nature_reference")
MAX_NATURE_REFERENCE = 100  # RiferimentoNormativo's length in FatturaPA
MAX_AMOUNT = Decimal("999999999999.99")


class BillingError(Refusal):
    """A billing rule refused the change."""


class BillingErrors(BillingError):
    """Several field errors at once (a form with many lines)."""

    def __init__(self, errors: Mapping[str, object]):
        super().__init__(next(iter(errors.values())), next(iter(errors)))
        self.errors = dict(errors)

    def as_dict(self) -> dict[str, str]:
        return {key: str(value) for key, value in self.errors.items()}


TaxedDocument = Invoice | CreditNote
Document = Invoice | Quote | CreditNote


def billing_block(client: Client | Mapping[str, object]) -> dict[str, object]:
    """The "Fatturato a" block of a client's profile (a Client, or its fields as a mapping):
    the bill_* fields, currency and language a new document takes."""
    field = client.get if isinstance(client, Mapping) else lambda name: getattr(client, name)
    return {
        "bill_name": field("name"),
        "bill_address": field("address") or "",
        "bill_city": field("city") or "",
        "bill_province": field("province") or "",
        "bill_postal_code": field("postal_code") or "",
        "bill_country": field("country") or "IT",
        "bill_vat_number": field("vat_number") or "",
        "bill_tax_code": field("tax_code") or "",
        "bill_sdi_code": field("sdi_code") or "",
        "bill_pec": field("pec") or "",
        "bill_kind": field("kind") or "business",
        "currency": field("currency") or "EUR",
        "language": field("language") or "it",
    }


def copy_billing_block(document: Document, client: Client) -> None:
    """Fill the "Fatturato a" block from the client's profile (done once, on creation)."""
    document.client = client
    document.client_id = client.id
    for name, value in billing_block(client).items():
        setattr(document, name, value)


def new_invoice(client: Client, *, issue_date: dt.date | None = None, due_date: dt.date | None = None,
                lines: Iterable[Mapping[str, object]] = (), notes: str = "", terms: str | None = None) -> Invoice:
    if client.archived:
        raise BillingError(_l("This client is archived: restore it before billing it."), "client_id")
    company = get_company()
    issue_date = issue_date or dt.date.today()
    invoice = Invoice(
        status=InvoiceStatus.DRAFT.value,
        issue_date=issue_date,
        due_date=due_date or issue_date + dt.timedelta(days=company.payment_terms_days or 0),
        notes=notes,
        terms=company.default_terms if terms is None else terms,
    )
    copy_billing_block(invoice, client)
    if invoice.due_date < invoice.issue_date:
        raise BillingError(_l("The due date cannot be before the issue date."), "due_date")
    db.session.add(invoice)
    set_lines(invoice, lines)
    db.session.flush()
    activity.record("invoice_created", client.id, invoice_id=invoice.id)
    return invoice


def new_quote(client: Client, *, issue_date: dt.date | None = None, valid_until: dt.date | None = None,
              lines: Iterable[Mapping[str, object]] = (), notes: str = "", terms: str | None = None) -> Quote:
    if client.archived:
        raise BillingError(_l("This client is archived: restore it before billing it."), "client_id")
    company = get_company()
    issue_date = issue_date or dt.date.today()
    quote = Quote(
        status=QuoteStatus.DRAFT.value,
        issue_date=issue_date,
        valid_until=valid_until or issue_date + dt.timedelta(days=company.quote_validity_days or 30),
        notes=notes,
        terms=company.default_terms if terms is None else terms,
    )
    copy_billing_block(quote, client)
    db.session.add(quote)
    set_lines(quote, lines)
    db.session.flush()
    activity.record("quote_created", client.id, quote_id=quote.id)
    return quote


# The decimals a line's number keeps (its column's scale, app.money's precisions).
LINE_DECIMALS = {"quantity": QUANTITY_PRECISION[1], "unit_price": MONEY_PRECISION[1], "discount": RATE_PRECISION[1],
                 "tax_rate": RATE_PRECISION[1]}


def clean_line(data: Mapping[str, object], prefix: str = "") -> tuple[dict[str, object], dict[str, object]]:
    """Validate one line's input; return (values, errors keyed by `prefix + field`)."""
    values: dict[str, object] = {}
    errors: dict[str, object] = {}
    data = _with_product(data, prefix, values, errors)
    description = str(data.get("description") or "").strip()
    if not description:
        errors[prefix + "description"] = _l("Describe what is being billed.")
    values["description"] = description
    limits = {
        "quantity": (ZERO, Decimal("999999999.999"), Decimal(1)),
        "unit_price": (-MAX_AMOUNT, MAX_AMOUNT, ZERO),
        "discount": (ZERO, Decimal(100), ZERO),
        "tax_rate": (ZERO, Decimal(100), get_company().default_tax_rate),
    }
    messages = {
        "quantity": _l("The quantity must be a number, zero or more."),
        "unit_price": _l("The unit price must be an amount such as %(example)s.", example=example_number("120.50")),
        "discount": _l("The discount is a percentage between 0 and 100."),
        "tax_rate": _l("The tax rate is a percentage between 0 and 100."),
    }
    for name, (low, high, default) in limits.items():
        raw = data.get(name)
        try:
            value = default if raw is None or raw == "" else to_decimal(raw)
            if not value.is_finite() or not low <= value <= high:
                raise ValueError(name)
        except (ValueError, TypeError):
            errors[prefix + name] = messages[name]
            continue
        places = LINE_DECIMALS[name]
        if value != value.quantize(Decimal(1).scaleb(-places)):
            # More than the column keeps: stored, it would be rounded behind the user's back
            # (and the line's amount no longer its quantity times its price).
            errors[prefix + name] = (messages[name] if name == "unit_price"
                                     else _l("At most %(places)d decimals.", places=places))
            continue
        values[name] = value
    nature, nature_errors = _clean_nature(data, values.get("tax_rate"))
    values["vat_nature"] = nature
    errors.update({prefix + key: message for key, message in nature_errors.items()})
    reference = str(data.get("vat_nature_reference") or "").strip()
    if len(reference) > MAX_NATURE_REFERENCE:
        errors[prefix + "vat_nature_reference"] = _l("The legal reference can be at most %(n)d characters.",
                                                     n=MAX_NATURE_REFERENCE)
    values["vat_nature_reference"] = reference if nature else ""
    return values, errors


def _clean_nature(data: Mapping[str, object], rate: Decimal | None) -> tuple[str, dict[str, object]]:
    """A 0 % line says why it bears no VAT (its nature); a taxed line has none (SdI 00400/00401)."""
    nature = str(data.get("vat_nature") or "").strip().upper()
    if nature in RETIRED_NATURES:
        return nature, {"vat_nature": _l("%(nature)s is no longer accepted by SdI: choose one of its subcodes "
                                         "(%(nature)s.1, %(nature)s.2 …).", nature=nature)}
    if nature and nature not in VAT_NATURES:
        return nature, {"vat_nature": _l("Unknown VAT nature: use one of N1, N2.1, N2.2, N3.1–N3.6, N4, N5, "
                                         "N6.1–N6.9, N7.")}
    if rate is None:
        return nature, {}
    if not rate and not nature:
        return nature, {"vat_nature": _l("A line at 0 % VAT needs a VAT nature (why no VAT is charged).")}
    if rate and nature:
        return nature, {"vat_nature": _l("A VAT nature is only for lines at 0 % VAT.")}
    return nature, {}


LINE_CLASS = {Invoice: InvoiceLine, Quote: QuoteLine, CreditNote: CreditNoteLine}


def _with_product(data: Mapping[str, object], prefix: str, values: dict[str, object],
                  errors: dict[str, object]) -> Mapping[str, object]:
    """A line naming `product_id` takes the product's description, price, rate and nature
    wherever it gives none of its own. An archived product can no longer fill a line, but a
    line that carries all its values keeps its link (old documents, converted quotes)."""
    raw = data.get("product_id")
    values["product_id"] = None
    if raw is None or raw == "":
        return data
    product = products.find_product(raw)
    if product is None:
        errors[prefix + "product_id"] = _l("There is no product with this id.")
        return data
    values["product_id"] = product.id
    own = {name: value for name, value in data.items() if value is not None and value != ""}
    if product.archived and any(name not in own for name in products.LINE_VALUES if name != "vat_nature"):
        errors[prefix + "product_id"] = _l("This product is archived: choose another one.")
    taken = products.line_values(product)
    if "tax_rate" in own:  # a nature explains the product's rate, not one the line chose
        taken.pop("vat_nature")
    return {**taken, **own}


def set_lines(document: Document, lines: Iterable[Mapping[str, object]]) -> None:
    """Replace a draft's lines and recompute its totals; nothing changes if any line is invalid."""
    assert_editable(document)
    line_class = LINE_CLASS[type(document)]
    cleaned, errors = [], {}
    for index, data in enumerate(lines):
        values, line_errors = clean_line(data, prefix=f"lines.{index}.")
        cleaned.append(values)
        errors.update(line_errors)
    if errors:
        raise BillingErrors(errors)
    new_lines = [line_class(position=i, **values) for i, values in enumerate(cleaned)]
    # Amounts are stored as Numeric(14, 2): refuse what would overflow rather than fail in the database.
    for index, new_line in enumerate(new_lines):
        if abs(line_amount(new_line.quantity, new_line.unit_price, new_line.discount)) > MAX_AMOUNT:
            errors[f"lines.{index}.quantity"] = _l("This line's amount is too large.")
    if errors:
        raise BillingErrors(errors)
    if abs(compute_totals(new_lines).total) > MAX_AMOUNT:
        raise BillingError(_l("The document's total is too large."), "lines")
    document.lines = new_lines
    if isinstance(document, Invoice):
        fix_tax_terms(document)  # a draft shows what it would ask if finalized now
    apply_totals(document)


def fix_tax_terms(invoice: Invoice, company: CompanySettings | None = None) -> None:
    """Copy onto an invoice the tax blocks it applies: the company's withholding (when the
    client is a withholding agent), pension fund and stamp duty, the client's split payment.
    Done again at finalization; an issued invoice keeps them whatever changes later."""
    company = company or get_company()
    client = invoice.client
    withholds = bool(client.withholding_agent) and to_decimal(company.withholding_rate) > ZERO
    invoice.withholding_rate = company.withholding_rate if withholds else ZERO
    invoice.withholding_type = company.withholding_type if withholds else ""
    invoice.withholding_reason = company.withholding_reason if withholds else ""
    fund = bool(company.pension_fund_type) and to_decimal(company.pension_fund_rate) > ZERO
    invoice.pension_fund_type = company.pension_fund_type if fund else ""
    invoice.pension_fund_rate = company.pension_fund_rate if fund else ZERO
    invoice.pension_fund_tax_rate = company.pension_fund_tax_rate if fund else ZERO
    invoice.stamp_duty_auto = company.stamp_duty == "auto"
    invoice.stamp_duty_charged = bool(company.stamp_duty_charged_to_client)
    invoice.split_payment = bool(client.split_payment)


def assert_editable(document: Document) -> None:
    if not states.allows(document, states.EDIT):
        raise BillingError(_l("A finalized document's amounts are locked."), "lines")


def finalize_invoice(invoice: Invoice) -> Invoice:
    """Fix the draft's tax blocks, give it its number and lock its amounts (status sent).

    A draft reopened after SdI rejected it (`reopen_for_correction`) keeps its number."""
    if not states.allows(invoice, states.FINALIZE):
        return invoice
    company = get_company()
    fix_tax_terms(invoice, company)
    _take_number(invoice, "invoice", company.invoice_number_format)
    invoice.status = InvoiceStatus.SENT.value
    refresh_invoice_status(invoice)
    activity.record("invoice_sent", invoice.client_id, invoice_id=invoice.id, number=invoice.number)
    document_finalized.send(invoice)  # the PDF module renders the final PDF; einvoice makes the XML
    return invoice


def finalize_quote(quote: Quote) -> Quote:
    if not states.allows(quote, states.FINALIZE):
        return quote
    _take_number(quote, "quote", get_company().quote_number_format)
    quote.status = QuoteStatus.SENT.value
    activity.record("quote_sent", quote.client_id, quote_id=quote.id, number=quote.number)
    document_finalized.send(quote)
    return quote


def _take_number(document: Document, kind: str, number_format: str) -> None:
    """Check a draft can be finalized, then give it the next number of its issue year
    (unless it already has one: a document reopened for correction keeps it)."""
    if not document.lines:
        raise BillingError(_l("Add at least one line before finalizing."), "lines")
    apply_totals(document)
    if document.total < ZERO:
        raise BillingError(_l("The total cannot be negative."), "lines")
    if isinstance(document, (Invoice, CreditNote)):
        _check_tax_blocks(document)
        document_finalizing.send(document)  # a receiver (SdI's checks) may refuse: nothing is numbered
    if document.number:
        if document.issue_date.year != document.year:
            raise BillingError(_l("A corrected document keeps its number, so its issue date must stay in %(year)s.",
                                  year=document.year), "issue_date")
        document.sent_at = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        return
    document.year = document.issue_date.year
    document.sequence = next_number(kind, document.year)
    document.number = format_number(number_format, document.year, document.sequence)
    document.sent_at = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def _check_tax_blocks(document: TaxedDocument) -> None:
    if document.pension_fund_amount and not to_decimal(document.pension_fund_tax_rate) \
            and not pension_fund_nature(document.lines, tax_terms(document)):
        raise BillingError(_l("The pension fund contribution bears no VAT: it takes the VAT nature of a zero-rate line, "
                              "and this document has none."), "lines")
    if document.net_to_pay < ZERO:
        raise BillingError(_l("The amount to pay cannot be negative."), "lines")


def refresh_invoice_status(invoice: Invoice) -> None:
    """Derive paid/partial/sent from the payments and credit notes (drafts and cancelled stay
    as they are): paid once nothing is left of the net to pay."""
    apply_totals(invoice)
    invoice.status = states.status_after_payments(invoice.status, invoice.net_to_pay, invoice.amount_paid,
                                                  invoice.balance)


def lock_invoice(invoice_id: int) -> Invoice | None:
    """Load an invoice with its row locked until the transaction ends (payments race here)."""
    return db.session.execute(
        select(Invoice).where(Invoice.id == invoice_id).with_for_update().execution_options(populate_existing=True)
    ).scalar_one_or_none()


def record_payment(invoice: Invoice, *, amount: object, date: dt.date | None = None,
                   method: str = PaymentMethod.BANK_TRANSFER.value, reference: str = "",
                   stripe_payment_intent: str | None = None) -> Payment:
    """Record a payment on a finalized invoice; refuse overpayment; move status and balance."""
    invoice = lock_invoice(invoice.id) or invoice
    try:
        value = to_decimal(amount)
        if not value.is_finite():
            raise ValueError
    except (ValueError, TypeError):
        raise BillingError(_l("The amount must be a number such as %(example)s.", example=example_number("120.50")), "amount") from None
    if value <= ZERO:
        raise BillingError(_l("The amount must be greater than zero."), "amount")
    if value != value.quantize(CENT):
        raise BillingError(_l("The amount cannot have more than two decimals."), "amount")
    if method not in {m.value for m in PaymentMethod}:
        raise BillingError(_l("Unknown payment method."), "method")
    if not states.allows(invoice, states.RECORD_PAYMENT):
        raise BillingError(_l("Only a finalized, unpaid invoice can receive payments."), "amount")
    if value > invoice.balance:
        raise BillingError(
            _l("This payment is more than the balance due (%(balance)s).",
               balance=format_money(invoice.balance, invoice.currency)), "amount"
        )
    date = date or dt.date.today()
    payment = Payment(
        invoice=invoice,
        client_id=invoice.client_id,
        amount=value,
        currency=invoice.currency,
        date=date,
        method=method,
        reference=(reference or "").strip(),
        stripe_payment_intent=stripe_payment_intent,
    )
    db.session.add(payment)
    refresh_invoice_status(invoice)
    db.session.flush()
    activity.record("payment_recorded", invoice.client_id, invoice_id=invoice.id, number=invoice.number,
                    amount=value)
    if invoice.status == InvoiceStatus.PAID.value:
        activity.record("invoice_paid", invoice.client_id, invoice_id=invoice.id, number=invoice.number)
    payment_recorded.send(payment)  # the mail module sends a receipt for every payment
    return payment


def record_refund(payment: Payment, *, amount: object, date: dt.date | None = None,
                  reference: str = "") -> Payment:
    """Give back (part of) a payment: a negative Payment row pointing at it, so paid, balance and
    status follow from the payments as always (a paid invoice goes back to partial or sent).
    No receipt is sent. The caller commits."""
    invoice = lock_invoice(payment.invoice_id) or payment.invoice
    try:
        value = to_decimal(amount)
        if not value.is_finite():
            raise ValueError
    except (ValueError, TypeError):
        raise BillingError(_l("The amount must be a number such as %(example)s.", example=example_number("120.50")), "amount") from None
    if value <= ZERO or value != value.quantize(CENT):
        raise BillingError(_l("The amount must be greater than zero, with at most two decimals."), "amount")
    if payment.refunded_payment_id is not None:
        raise BillingError(_l("A refund cannot be refunded."), "amount")
    already_refunded = -to_decimal(db.session.scalar(
        select(func.coalesce(func.sum(Payment.amount), 0)).where(Payment.refunded_payment_id == payment.id)
    ))
    if value > payment.amount - already_refunded:
        raise BillingError(_l("A refund cannot be more than what is left of the payment."), "amount")
    refund = Payment(
        invoice=invoice,
        client_id=invoice.client_id,
        amount=-value,
        currency=invoice.currency,
        date=date or dt.date.today(),
        method=payment.method,
        reference=(reference or "").strip(),
        refunded_payment_id=payment.id,
    )
    db.session.add(refund)
    refresh_invoice_status(invoice)
    db.session.flush()
    activity.record("payment_refunded", invoice.client_id, invoice_id=invoice.id, number=invoice.number,
                    amount=value)
    return refund


def cancel_invoice(invoice: Invoice) -> Invoice:
    if invoice.status == InvoiceStatus.CANCELLED.value:
        return invoice
    if invoice.payments:
        raise BillingError(_l("An invoice with payments cannot be cancelled."), "status")
    if not states.allows(invoice, states.CANCEL):
        raise BillingError(_l("This invoice can no longer be cancelled."), "status")
    invoice.status = InvoiceStatus.CANCELLED.value
    activity.record("invoice_cancelled", invoice.client_id, invoice_id=invoice.id, number=invoice.number or "")
    return invoice


def decide_quote(quote: Quote, accepted: bool, reason: str = "", actor: str | None = None) -> Quote:
    """The client (or staff on their behalf) accepts or rejects a sent quote."""
    if not states.allows(quote, states.ACCEPT if accepted else states.REJECT):
        raise BillingError(_l("Only a sent quote awaiting an answer can be accepted or rejected."), "status")
    if accepted and quote.valid_until < dt.date.today():
        raise BillingError(_l("This quote has expired."), "status")
    quote.status = QuoteStatus.ACCEPTED.value if accepted else QuoteStatus.REJECTED.value
    quote.decided_at = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    quote.decision_reason = (reason or "").strip()[:2000]
    activity.record("quote_accepted" if accepted else "quote_rejected", quote.client_id, quote_id=quote.id,
                    number=quote.number, actor=actor)
    return quote


def convert_quote(quote: Quote) -> Invoice:
    """Turn an accepted quote into a draft invoice with the same lines, keeping the link."""
    # Locked, so two clicks (or two staff members) at once cannot make two invoices.
    quote = db.session.execute(
        select(Quote).where(Quote.id == quote.id).with_for_update().execution_options(populate_existing=True)
    ).scalar_one()
    if not states.allows(quote, states.CONVERT):
        raise BillingError(_l("Only an accepted quote can be converted into an invoice."), "status")
    if db.session.scalar(select(func.count()).select_from(Invoice).where(Invoice.quote_id == quote.id)):
        raise BillingError(_l("This quote has already been converted into an invoice."), "status")
    invoice = new_invoice(
        quote.client,
        lines=[{name: getattr(line, name) for name in LINE_FIELDS} for line in quote.lines],
        notes=quote.notes,
        terms=quote.terms,
    )
    invoice.quote = quote
    activity.record("quote_converted", quote.client_id, quote_id=quote.id, invoice_id=invoice.id,
                    number=quote.number)
    return invoice


# ── Credit notes ───────────────────────────────────────────────────────────────────────────

# Finalized and not cancelled: the invoice statuses that allow a credit note (app.billing.states).
CREDITABLE_INVOICE_STATUSES = tuple(status for status, actions in states.TRANSITIONS[states.INVOICE].items()
                                    if states.NEW_CREDIT_NOTE in actions)


def credited_total(invoice: Invoice, *, exclude: CreditNote | None = None) -> Decimal:
    """What the invoice's sent credit notes have credited (their totals, VAT included)."""
    return sum((note.total for note in invoice.credit_notes
                if note.status == CreditNoteStatus.SENT.value and note is not exclude), ZERO)


def left_to_credit(invoice: Invoice) -> Decimal:
    return invoice.total - credited_total(invoice)


def _remaining_lines(invoice: Invoice) -> list[dict[str, object]]:
    """The invoice's lines less the quantities its sent credit notes already credited (a line
    of a credit note takes off the first invoice line with the same price, discount, rate
    and nature)."""
    def key(line) -> tuple:
        return tuple(getattr(line, name) for name in LINE_FIELDS if name not in ("description", "quantity"))

    credited: list[list] = [
        [key(line), line.quantity]
        for note in invoice.credit_notes if note.status == CreditNoteStatus.SENT.value for line in note.lines
    ]
    remaining = []
    for line in invoice.lines:
        values = {name: getattr(line, name) for name in LINE_FIELDS}
        quantity = line.quantity
        for entry in credited:
            if entry[0] == key(line) and entry[1] > 0 and quantity > 0:
                taken = min(entry[1], quantity)
                entry[1] -= taken
                quantity -= taken
        if quantity > 0:
            remaining.append({**values, "quantity": quantity})
    return remaining


def create_credit_note(invoice: Invoice, reason: str, lines: Iterable[Mapping[str, object]] | None = None,
                       *, issue_date: dt.date | None = None) -> CreditNote:
    """A draft credit note against a finalized invoice, with the invoice's tax blocks (it
    corrects that invoice) and by default every line not yet credited. The caller commits."""
    if invoice.status not in CREDITABLE_INVOICE_STATUSES:
        raise BillingError(_l("Only a finalized, not cancelled invoice can be credited."), "invoice_id")
    reason = (reason or "").strip()
    if not reason:
        raise BillingError(_l("Say why the invoice is credited."), "reason")
    issue_date = issue_date or dt.date.today()
    if issue_date < invoice.issue_date:
        raise BillingError(_l("A credit note cannot be dated before its invoice."), "issue_date")
    if lines is None:
        lines = _remaining_lines(invoice)
        if not lines:
            raise BillingError(_l("Nothing is left to credit on this invoice."), "lines")
    note = CreditNote(
        status=CreditNoteStatus.DRAFT.value,
        invoice_id=invoice.id,
        issue_date=issue_date,
        reason=reason[:2000],
        notes="",
        terms="",
    )
    db.session.add(note)
    note.invoice = invoice
    copy_billing_block(note, invoice.client)
    for name in ("bill_name", "bill_address", "bill_city", "bill_province", "bill_postal_code", "bill_country",
                 "bill_vat_number", "bill_tax_code", "bill_sdi_code", "bill_pec", "bill_kind", "currency",
                 "language"):
        setattr(note, name, getattr(invoice, name))  # the same buyer as the invoice it corrects
    _copy_invoice_terms(note, invoice)
    db.session.add(note)
    set_lines(note, lines)
    _check_credit_limit(note)
    db.session.flush()
    activity.record("credit_note_created", invoice.client_id, invoice_id=invoice.id, number=invoice.number)
    return note


def _copy_invoice_terms(note: CreditNote, invoice: Invoice) -> None:
    for name in ("withholding_rate", "withholding_type", "withholding_reason", "pension_fund_type",
                 "pension_fund_rate", "pension_fund_tax_rate", "stamp_duty_auto", "stamp_duty_charged",
                 "split_payment"):
        setattr(note, name, getattr(invoice, name))


def _check_credit_limit(note: CreditNote) -> None:
    left = left_to_credit(note.invoice)
    if note.total > left:
        raise BillingError(
            _l("This credit note is more than what is left to credit on the invoice (%(left)s).",
               left=format_money(left, note.currency)), "lines")


def set_credit_note_lines(note: CreditNote, lines: Iterable[Mapping[str, object]]) -> None:
    set_lines(note, lines)
    _check_credit_limit(note)


def finalize_credit_note(note: CreditNote) -> CreditNote:
    """Number the draft (its own gapless yearly sequence) and take it off the invoice's balance."""
    if not states.allows(note, states.FINALIZE):
        return note
    invoice = lock_invoice(note.invoice_id) or note.invoice
    if invoice.status not in CREDITABLE_INVOICE_STATUSES:
        raise BillingError(_l("Only a finalized, not cancelled invoice can be credited."), "invoice_id")
    _copy_invoice_terms(note, invoice)
    apply_totals(note)
    _check_credit_limit(note)
    _take_number(note, "credit_note", get_company().credit_note_number_format)
    note.status = CreditNoteStatus.SENT.value
    _refresh_credited(invoice)
    activity.record("credit_note_sent", note.client_id, invoice_id=invoice.id, number=note.number,
                    amount=note.net_to_pay)
    document_finalized.send(note)
    return note


def _refresh_credited(invoice: Invoice) -> None:
    invoice.amount_credited = sum((note.net_to_pay for note in invoice.credit_notes
                                   if note.status == CreditNoteStatus.SENT.value), ZERO)
    refresh_invoice_status(invoice)


# ── Corrections after SdI rejected a file ──────────────────────────────────────────────────

def reopen_for_correction(document: TaxedDocument) -> TaxedDocument:
    """Make a finalized invoice or credit note editable again, keeping its number: SdI
    rejected its file, so legally it was never issued and may be sent again under the same
    number. Finalizing it again sends document_finalizing and document_finalized again."""
    if document.status == "draft":
        return document
    if not states.allows(document, states.REOPEN):
        raise BillingError(_l("A cancelled invoice cannot be corrected."), "status")
    if isinstance(document, Invoice) and any(n.status == CreditNoteStatus.SENT.value for n in document.credit_notes):
        raise BillingError(_l("An invoice with credit notes cannot be corrected."), "status")
    document.status = "draft"
    if isinstance(document, CreditNote):
        _refresh_credited(lock_invoice(document.invoice_id) or document.invoice)
    db.session.flush()  # from here on the amounts are a draft's: editable
    kind = "invoice" if isinstance(document, Invoice) else "credit_note"
    activity.record(f"{kind}_reopened", document.client_id, invoice_id=getattr(document, "invoice_id", document.id),
                    number=document.number)
    return document


def expire_quotes(today: dt.date | None = None) -> int:
    """Mark sent quotes past their validity as expired; returns how many."""
    today = today or dt.date.today()
    quotes = db.session.scalars(
        select(Quote).where(Quote.status == QuoteStatus.SENT.value, Quote.valid_until < today)
    ).all()
    for quote in quotes:
        quote.status = QuoteStatus.EXPIRED.value
        activity.record("quote_expired", quote.client_id, quote_id=quote.id, number=quote.number, actor="")
    return len(quotes)


class LockedDocumentError(BillingError):
    """Raised at flush when something bypassed the services and touched a finalized document."""


# What "the amounts are locked" covers on the document itself; paid, credited and balance still move.
LOCKED_DOCUMENT_COLUMNS = ("subtotal", "tax_total", "total", "currency", "client_id")
LOCKED_TAX_COLUMNS = ("net_to_pay", "withholding_amount", "pension_fund_amount", "stamp_duty_amount",
                      "withholding_rate", "pension_fund_rate", "split_payment", "stamp_duty_charged")


def _was_finalized(document: Document) -> bool:
    """True if the document was already past draft before the changes now being flushed."""
    state = inspect(document)
    if not state.persistent:
        return False
    history = state.attrs.status.history
    status_before = history.deleted[0] if history.deleted else document.status
    return status_before not in (None, "draft")


@event.listens_for(Session, "before_flush")
def _refuse_changes_to_locked_documents(session: Session, _context, _instances) -> None:
    """Safety net under every view and API: a finalized document's lines and amounts never change."""
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, LINE_CLASSES):
            if obj in session.dirty and not session.is_modified(obj):
                continue
            document = line_document(session, obj)
            if document is not None and _was_finalized(document):
                raise LockedDocumentError(_l("A finalized document's amounts are locked."), "lines")
        elif isinstance(obj, DOCUMENT_CLASSES) and obj in session.dirty and _was_finalized(obj):
            state = inspect(obj)
            columns = LOCKED_DOCUMENT_COLUMNS + (LOCKED_TAX_COLUMNS if hasattr(obj, "net_to_pay") else ())
            if any(state.attrs[name].history.has_changes() for name in columns):
                raise LockedDocumentError(_l("A finalized document's amounts are locked."), "lines")
