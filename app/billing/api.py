"""REST API for invoices and quotes: /api/v1/invoice/ and /api/v1/quote/ (lines nested), and
the client summary: /api/v1/client/<id>/summary.

Reads (get, list, filters, paging) are FAB's own. Every write is a thin call into the
billing rules (`app.billing.services`): they validate lines and payments, name the field
of each error ("lines.0.quantity"), allocate numbers and keep totals in step. A request is
one transaction: on any error it rolls back, so nothing changes. JWT only, like every API.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from flask import make_response, request
from flask_appbuilder.api import expose, protect, safe
from flask_appbuilder.hooks import before_request
from flask_appbuilder.security.decorators import permission_name
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError
from sqlalchemy import select

from app.billing import accounts
from app.billing.models import CreditNote, Invoice, Quote
from app.billing.printing import document_pdf
from app.billing.schemas import (
    CreditNoteInputSchema,
    CreditNotePostSchema,
    CreditNoteSchema,
    InvoiceInputSchema,
    InvoicePostSchema,
    InvoiceSchema,
    PaymentInputSchema,
    PaymentSchema,
    QuoteInputSchema,
    QuotePostSchema,
    QuoteSchema,
)
from app.billing.services import (
    BillingError,
    BillingErrors,
    copy_billing_block,
    create_credit_note,
    new_invoice,
    new_quote,
    record_payment,
    set_credit_note_lines,
    set_lines,
)
from app.billing.signals import send_requested
from app.clients.models import Client
from app.extensions import db
from app.fab.base import ClientelaBaseApi, ClientelaInterface, ClientelaModelRestApi
from app.rest import (
    API_RESPONSES,
    ID_IN_PATH,
    binary,
    json_body,
    model_api_descriptions,
    operation,
    refused,
    result,
    use_accept_language,
)
from app.security.limits import MAX_ID
from app.security.roles import READ_WRITE

# The document actions beside FAB's CRUD, on the same two actions as everything else.
DOCUMENT_PERMISSIONS = {**READ_WRITE, "send": "write", "payment": "write", "pdf": "read", "credit_note": "write"}
# What the invoice and credit-note read shapes add: the tax blocks and SdI's state.
TAX_COLUMNS = [
    "document_type", "withholding_rate", "withholding_type", "withholding_reason", "withholding_amount",
    "pension_fund_type", "pension_fund_rate", "pension_fund_tax_rate", "pension_fund_amount",
    "stamp_duty_amount", "stamp_duty_charged", "split_payment", "net_to_pay",
    "sdi_status", "sdi_file_name", "sdi_errors",
]

UNKNOWN_CLIENT = _l("There is no client with this id.")
ARCHIVED_CLIENT = _l("This client is archived: restore it before billing it.")
DUE_BEFORE_ISSUE = _l("The due date cannot be before the issue date.")
LOCKED = _l("A finalized document is locked: only its notes and terms can change.")
# What may still change on a sent invoice or quote: text that moves no amount.
EDITABLE_WHEN_FINALIZED = {"notes", "terms"}


class BillingDocumentApi(ClientelaModelRestApi):
    """What the invoice and quote APIs share; each subclass names its model and its rules."""

    method_permission_name = DOCUMENT_PERMISSIONS
    # Documents are cancelled, never deleted: a deleted invoice would leave a gap in the numbers.
    include_route_methods = {"get", "get_list", "post", "put", "send", "pdf"}
    search_columns = ["client_id", "status", "number", "issue_date"]
    base_order = ("id", "desc")
    responses = API_RESPONSES
    # Each subclass adds FAB's corrected CRUD descriptions under its own name.
    openapi_spec_methods = {action: {method: {"parameters": [ID_IN_PATH]}}
                            for action, method in (("send", "post"), ("pdf", "get"), ("payment", "post"))}

    deadline_field: str  # "due_date" or "valid_until"

    def create(self, client: Client, **values: Any):
        raise NotImplementedError

    @before_request
    def _reader_language(self) -> None:
        use_accept_language()

    def post_headless(self):
        try:
            values = self.add_model_schema.load(json_body())
            client = _client(values.pop("client_id"))
            document = self.create(client, **values)
            db.session.flush()
        except (ValidationError, BillingError) as err:
            return refused(self, err)
        db.session.commit()
        return self.response(201, id=document.id, result=self.show_model_schema.dump(document))

    def put_headless(self, pk):
        document = self.datamodel.get(pk, self._base_filters)
        if document is None:
            return self.response_404()
        try:
            self._update(document, self.edit_model_schema.load(json_body()))
            db.session.flush()
        except (ValidationError, BillingError) as err:
            return refused(self, err)
        db.session.commit()
        return self.response(200, id=document.id, result=self.show_model_schema.dump(document))

    def _update(self, document, values: dict[str, Any]) -> None:
        if not document.is_draft:
            locked = sorted(set(values) - EDITABLE_WHEN_FINALIZED)
            if locked:
                raise BillingErrors({name: LOCKED for name in locked})
        if "client_id" in values:
            copy_billing_block(document, _client(values["client_id"]))
        for name in ("issue_date", self.deadline_field, "notes", "terms"):
            if name in values:
                setattr(document, name, values[name])
        if self.deadline_field == "due_date" and document.due_date < document.issue_date:
            raise BillingError(DUE_BEFORE_ISSUE, "due_date")
        if "lines" in values:
            set_lines(document, values["lines"])

    def _locked(self, pk: int):
        """The document with its row locked: two concurrent sends must not take two numbers."""
        model = self.datamodel.obj
        return db.session.execute(
            select(model).where(model.id == pk).with_for_update(of=model).execution_options(populate_existing=True)
        ).scalar_one_or_none()

    @expose("/<int:pk>/send", methods=["POST"])
    @protect()
    @safe
    @permission_name("send")
    @operation("post", description="""
        Finalizes a draft (the next gapless number of its year; amounts lock), then queues
        an email with the PDF and a portal sign-in link to each recipient, namely the
        contacts listed in the optional JSON body field contact_ids, else the primary
        contact of the client. Sending a finalized document again sends it again and
        keeps its number.""",
               ok=(200, "The finalized document", result("{{self.__class__.__name__}}.get", with_id=True)),
               refusals=("401", "404", "422_fields"))
    def send(self, pk: int):
        """Send the document by email (a draft is finalized first)"""
        document = self._locked(pk)
        if document is None:
            return self.response_404()
        body = request.get_json(silent=True) or {}
        contact_ids = body.get("contact_ids") if isinstance(body, dict) else None
        if contact_ids is not None and (
            not isinstance(contact_ids, list) or not all(isinstance(i, int) for i in contact_ids)
        ):
            return self.response_422(message={"contact_ids": [str(_l("A list of contact ids is expected."))]})
        try:
            send_requested.send(document, contact_ids=contact_ids)
            db.session.flush()
        except BillingError as err:
            return refused(self, err)
        db.session.commit()
        return self.response(200, id=document.id, result=self.show_model_schema.dump(document))

    @expose("/<int:pk>/pdf", methods=["GET"])
    @protect()
    @safe
    @permission_name("pdf")
    @operation("get", ok=(200, "The PDF (rendered once per version of the document, then cached)",
                          binary("application/pdf")))
    def pdf(self, pk: int):
        """The document as a PDF"""
        document = self.datamodel.get(pk, self._base_filters)
        if document is None:
            return self.response_404()
        content, filename = document_pdf(document)
        db.session.commit()  # keeps the rendered PDF in the cache
        response = make_response(content)
        response.mimetype = "application/pdf"
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


class InvoiceApi(BillingDocumentApi):
    resource_name = "invoice"
    datamodel = ClientelaInterface(Invoice)
    class_permission_name = "Invoice"
    include_route_methods = BillingDocumentApi.include_route_methods | {"payment"}
    openapi_spec_component_schemas = (PaymentInputSchema, PaymentSchema)
    search_columns = [*BillingDocumentApi.search_columns, "due_date"]

    include_route_methods = include_route_methods | {"credit_note"}
    openapi_spec_component_schemas = (*openapi_spec_component_schemas, CreditNotePostSchema)

    list_columns = show_columns = [
        "id", "number", "client_id", "status", "issue_date", "due_date", "currency", "lines",
        "subtotal", "tax_total", "total", "amount_paid", "amount_credited", "balance", "notes", "terms",
        *TAX_COLUMNS,
    ]
    add_columns = edit_columns = ["client_id", "issue_date", "due_date", "notes", "terms", "lines"]
    order_columns = ["id", "number", "issue_date", "due_date", "status", "total", "balance"]
    list_model_schema = show_model_schema = InvoiceSchema()
    add_model_schema = InvoicePostSchema()
    edit_model_schema = InvoiceInputSchema()
    openapi_spec_methods = {**BillingDocumentApi.openapi_spec_methods, **model_api_descriptions("InvoiceApi"),
                            "credit_note": {"post": {"parameters": [ID_IN_PATH]}}}
    deadline_field = "due_date"

    def create(self, client: Client, **values: Any) -> Invoice:
        return new_invoice(client, **values)

    @expose("/<int:pk>/credit-note", methods=["POST"])
    @protect()
    @safe
    @permission_name("credit_note")
    @operation("post", description="""
        reason is required; lines (the shape of the invoice's) default to every line of
        the invoice not yet credited. A credit note above what is left to credit is a 422.
        The draft takes the invoice's tax blocks; POST /api/v1/credit-note/{id}/send
        finalizes it and lowers the invoice's balance.""",
               body="CreditNotePostSchema",
               ok=(201, "The draft credit note", result("CreditNoteApi.get", with_id=True)),
               refusals=("400", "401", "404", "422_fields"))
    def credit_note(self, pk: int):
        """Make a draft credit note against a finalized invoice"""
        invoice = self.datamodel.get(pk, self._base_filters)
        if invoice is None:
            return self.response_404()
        try:
            values = CreditNotePostSchema().load(json_body())
            note = create_credit_note(invoice, values["reason"], values["lines"], issue_date=values["issue_date"])
            db.session.flush()
        except (ValidationError, BillingError) as err:
            return refused(self, err)
        db.session.commit()
        return self.response(201, id=note.id, result=CreditNoteSchema().dump(note))

    @expose("/<int:pk>/payment", methods=["POST"])
    @protect()
    @safe
    @permission_name("payment")
    @operation("post", description="""
        The amount is a decimal string ("120.50") greater than zero and at most the
        balance due; method is one of bank_transfer (default), cash, stripe, other; date
        defaults to today. Status and balance follow.""",
               body="PaymentInputSchema",
               ok=(201, "The payment recorded", result("PaymentSchema", with_id=True)),
               refusals=("400", "401", "404", "422_fields"))
    def payment(self, pk: int):
        """Record a payment (amount, method, date, reference) on a finalized invoice"""
        invoice = self.datamodel.get(pk, self._base_filters)
        if invoice is None:
            return self.response_404()
        try:
            values = PaymentInputSchema().load(json_body())
            payment = record_payment(invoice, **values)
            db.session.flush()
        except (ValidationError, BillingError) as err:
            return refused(self, err)
        db.session.commit()
        return self.response(201, id=payment.id, result=PaymentSchema().dump(payment))


class QuoteApi(BillingDocumentApi):
    resource_name = "quote"
    datamodel = ClientelaInterface(Quote)
    class_permission_name = "Quote"
    search_columns = [*BillingDocumentApi.search_columns, "valid_until"]

    list_columns = show_columns = [
        "id", "number", "client_id", "status", "issue_date", "valid_until", "currency", "lines",
        "subtotal", "tax_total", "total", "notes", "terms",
    ]
    add_columns = edit_columns = ["client_id", "issue_date", "valid_until", "notes", "terms", "lines"]
    order_columns = ["id", "number", "issue_date", "valid_until", "status", "total"]
    list_model_schema = show_model_schema = QuoteSchema()
    add_model_schema = QuotePostSchema()
    edit_model_schema = QuoteInputSchema()
    openapi_spec_methods = {**BillingDocumentApi.openapi_spec_methods, **model_api_descriptions("QuoteApi")}
    deadline_field = "valid_until"

    def create(self, client: Client, **values: Any) -> Quote:
        return new_quote(client, **values)


class CreditNoteApi(BillingDocumentApi):
    """Credit notes: made from an invoice (POST /api/v1/invoice/<id>/credit-note), read, a
    draft's lines and reason changed, sent (finalized and emailed), printed. Under the
    Invoice permissions: whoever may invoice may credit."""

    resource_name = "credit-note"
    datamodel = ClientelaInterface(CreditNote)
    class_permission_name = "Invoice"
    include_route_methods = {"get", "get_list", "put", "send", "pdf"}
    search_columns = [*BillingDocumentApi.search_columns, "invoice_id"]

    list_columns = show_columns = [
        "id", "number", "invoice_id", "client_id", "status", "issue_date", "currency", "reason", "lines",
        "subtotal", "tax_total", "total", "notes", *TAX_COLUMNS,
    ]
    edit_columns = ["issue_date", "reason", "notes", "lines"]
    order_columns = ["id", "number", "issue_date", "status", "total"]
    list_model_schema = show_model_schema = CreditNoteSchema()
    edit_model_schema = CreditNoteInputSchema()
    openapi_spec_methods = {**BillingDocumentApi.openapi_spec_methods, **model_api_descriptions("CreditNoteApi")}

    def _update(self, document: CreditNote, values: dict[str, Any]) -> None:
        if not document.is_draft:
            locked = sorted(set(values) - {"notes"})
            if locked:
                raise BillingErrors({name: LOCKED for name in locked})
        if "issue_date" in values:
            if values["issue_date"] < document.invoice.issue_date:
                raise BillingError(_l("A credit note cannot be dated before its invoice."), "issue_date")
            document.issue_date = values["issue_date"]
        if "reason" in values:
            if not values["reason"].strip():
                raise BillingError(_l("Say why the invoice is credited."), "reason")
            document.reason = values["reason"].strip()
        if "notes" in values:
            document.notes = values["notes"]
        if "lines" in values:
            set_credit_note_lines(document, values["lines"])


def _client(client_id: int) -> Client:
    """The client a document is for; an unknown or archived one is an error on `client_id`."""
    # An id beyond any row (MAX_ID) is unknown; asking the database would fail with a 500.
    client = db.session.get(Client, client_id) if 0 < client_id <= MAX_ID else None
    if client is None:
        raise BillingError(UNKNOWN_CLIENT, "client_id")
    if client.archived:
        raise BillingError(ARCHIVED_CLIENT, "client_id")
    return client


def summary_result(client_id: int, today: dt.date | None = None) -> dict[str, Any]:
    """The API's shape of the one summary rule (`app.billing.accounts.client_summary`, also
    behind the client 360 page): money as decimal strings, every status present (0 if none).

    Invoiced means finalized and not cancelled (sent, partial, paid); the balance due is what
    is still open on those. An open invoice past its due date counts as "overdue" (not as sent
    or partial); a sent quote past its validity counts as "expired".
    """
    figures = accounts.client_summary(client_id, today)
    return {
        "total_invoiced": str(figures["total_invoiced"]),
        "total_paid": str(figures["total_paid"]),
        "total_credited": str(figures["total_credited"]),
        "balance_due": str(figures["balance_due"]),
        "overdue": str(figures["overdue"]),
        "invoices": {status: 0 for status in accounts.INVOICE_STATUSES} | figures["invoices"],
        "quotes": {status: 0 for status in accounts.QUOTE_STATUSES} | figures["quotes"],
    }


class ClientSummaryApi(ClientelaBaseApi):
    """`GET /api/v1/client/<id>/summary`, beside the client API: the figures are billing's,
    and clients sit below billing. Same resource and permission as the client API."""

    resource_name = "client"
    class_permission_name = "Client"
    method_permission_name = {"summary": "read"}
    openapi_spec_tag = "ClientApi"
    openapi_spec_methods = {"summary": {"get": {"parameters": [ID_IN_PATH]}}}

    @expose("/<int:pk>/summary", methods=["GET"])
    @protect()
    @safe
    @permission_name("summary")
    @operation("get", description="""
        Total invoiced (finalized, not cancelled), total paid and balance due as decimal
        strings, and counts of invoices and quotes by status ("overdue" for open invoices
        past their due date, "expired" for sent quotes past their validity).""",
               ok=(200, "The summary", result({"type": "object"}, with_id=True)))
    def summary(self, pk: int):
        """The client's money and documents at a glance"""
        currency = db.session.scalar(select(Client.currency).where(Client.id == pk))
        if currency is None:
            return self.response_404()
        return self.response(200, id=pk, result={**summary_result(pk), "currency": currency})


def register(appbuilder) -> None:
    appbuilder.add_api(InvoiceApi)
    appbuilder.add_api(QuoteApi)
    appbuilder.add_api(CreditNoteApi)
    appbuilder.add_api(ClientSummaryApi)
