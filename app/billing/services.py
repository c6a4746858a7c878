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
from app.billing.models import (
    OPEN_INVOICE_STATUSES,
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
from app.billing.numbering import format_number, next_number
from app.billing.signals import document_finalized, payment_recorded
from app.billing import revisions  # noqa: F401  (registers the flush listener that bumps document revisions)
from app.billing import accounts  # noqa: F401  (registers the flush listener that keeps client rollups)
from app.billing.totals import apply_totals, compute_totals, line_amount
from app.clients.models import Client
from app.company.services import get_company
from app.errors import Refusal
from app.extensions import db
from app.i18n import format_money
from app.money import ZERO, to_decimal
from app.products import services as products

LINE_FIELDS = ("product_id", "description", "quantity", "unit_price", "discount", "tax_rate")
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


def copy_billing_block(document: Invoice | Quote, client: Client) -> None:
    """Fill the "Fatturato a" block from the client's profile (done once, on creation)."""
    document.client = client
    document.client_id = client.id
    document.bill_name = client.name
    document.bill_address = client.address or ""
    document.bill_city = client.city or ""
    document.bill_province = client.province or ""
    document.bill_postal_code = client.postal_code or ""
    document.bill_country = client.country or "IT"
    document.bill_vat_number = client.vat_number or ""
    document.bill_tax_code = client.tax_code or ""
    document.bill_sdi_code = client.sdi_code or ""
    document.bill_pec = client.pec or ""
    document.currency = client.currency or document.currency or "EUR"
    document.language = client.language or "it"


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
        "unit_price": _l("The unit price must be an amount such as 120.50."),
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
        values[name] = value
    return values, errors


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


def set_lines(document: Invoice | Quote, lines: Iterable[Mapping[str, object]]) -> None:
    """Replace a draft's lines and recompute its totals; nothing changes if any line is invalid."""
    assert_editable(document)
    line_class = InvoiceLine if isinstance(document, Invoice) else QuoteLine
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
    apply_totals(document)


def assert_editable(document: Invoice | Quote) -> None:
    if document.status != "draft":
        raise BillingError(_l("A finalized document's amounts are locked."), "lines")


def finalize_invoice(invoice: Invoice) -> Invoice:
    """Give the draft its number and lock its amounts (status sent)."""
    if invoice.status != InvoiceStatus.DRAFT.value:
        return invoice
    _take_number(invoice, "invoice", get_company().invoice_number_format)
    invoice.status = InvoiceStatus.SENT.value
    refresh_invoice_status(invoice)
    activity.record("invoice_sent", invoice.client_id, invoice_id=invoice.id, number=invoice.number)
    document_finalized.send(invoice)  # the PDF module renders the final PDF in a job
    return invoice


def finalize_quote(quote: Quote) -> Quote:
    if quote.status != QuoteStatus.DRAFT.value:
        return quote
    _take_number(quote, "quote", get_company().quote_number_format)
    quote.status = QuoteStatus.SENT.value
    activity.record("quote_sent", quote.client_id, quote_id=quote.id, number=quote.number)
    document_finalized.send(quote)
    return quote


def _take_number(document: Invoice | Quote, kind: str, number_format: str) -> None:
    """Check a draft can be finalized, then give it the next number of its issue year."""
    if not document.lines:
        raise BillingError(_l("Add at least one line before finalizing."), "lines")
    apply_totals(document)
    if document.total < ZERO:
        raise BillingError(_l("The total cannot be negative."), "lines")
    document.year = document.issue_date.year
    document.sequence = next_number(kind, document.year)
    document.number = format_number(number_format, document.year, document.sequence)
    document.sent_at = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def refresh_invoice_status(invoice: Invoice) -> None:
    """Derive paid/partial/sent from the payments (drafts and cancelled stay as they are)."""
    apply_totals(invoice)
    if invoice.status in (InvoiceStatus.DRAFT.value, InvoiceStatus.CANCELLED.value):
        return
    if invoice.total > ZERO and invoice.balance <= ZERO or invoice.total == ZERO:
        invoice.status = InvoiceStatus.PAID.value
    elif invoice.amount_paid > ZERO:
        invoice.status = InvoiceStatus.PARTIAL.value
    else:
        invoice.status = InvoiceStatus.SENT.value


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
        raise BillingError(_l("The amount must be a number such as 120.50."), "amount") from None
    if value <= ZERO:
        raise BillingError(_l("The amount must be greater than zero."), "amount")
    if value != value.quantize(Decimal("0.01")):
        raise BillingError(_l("The amount cannot have more than two decimals."), "amount")
    if method not in {m.value for m in PaymentMethod}:
        raise BillingError(_l("Unknown payment method."), "method")
    if invoice.status not in OPEN_INVOICE_STATUSES:
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
        raise BillingError(_l("The amount must be a number such as 120.50."), "amount") from None
    if value <= ZERO or value != value.quantize(Decimal("0.01")):
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
    invoice.status = InvoiceStatus.CANCELLED.value
    activity.record("invoice_cancelled", invoice.client_id, invoice_id=invoice.id, number=invoice.number or "")
    return invoice


def decide_quote(quote: Quote, accepted: bool, reason: str = "", actor: str | None = None) -> Quote:
    """The client (or staff on their behalf) accepts or rejects a sent quote."""
    if quote.status != QuoteStatus.SENT.value:
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
    if quote.status != QuoteStatus.ACCEPTED.value:
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


# What "the amounts are locked" covers on the document itself; paid and balance still move.
LOCKED_DOCUMENT_COLUMNS = ("subtotal", "tax_total", "total", "currency", "client_id")


def _was_finalized(document: Invoice | Quote) -> bool:
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
        if isinstance(obj, (InvoiceLine, QuoteLine)):
            if obj in session.dirty and not session.is_modified(obj):
                continue
            document = line_document(session, obj)
            if document is not None and _was_finalized(document):
                raise LockedDocumentError(_l("A finalized document's amounts are locked."), "lines")
        elif isinstance(obj, (Invoice, Quote)) and obj in session.dirty and _was_finalized(obj):
            state = inspect(obj)
            if any(state.attrs[name].history.has_changes() for name in LOCKED_DOCUMENT_COLUMNS):
                raise LockedDocumentError(_l("A finalized document's amounts are locked."), "lines")
