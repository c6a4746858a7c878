"""The portal's document pages: the statement, invoices and quotes (on the portal blueprint).

The figures come from `statement`, the archive from `zip`, billing decisions from the portal's
services. Every document is loaded through `security.scoped()`, so another client's id answers 404.
"""
from __future__ import annotations

import datetime as dt
from io import BytesIO

from flask import (
    Response,
    abort,
    current_app,
    flash,
    g,
    has_app_context,
    redirect,
    render_template,
    request,
    send_file,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import event, func, select
from sqlalchemy.orm import lazyload

from app.billing.aging import AGING_BUCKETS, AGING_LABELS
from app.billing.models import OPEN_INVOICE_STATUSES, Invoice, InvoiceStatus, Quote
from app.billing.services import BillingError
from app.clients.models import Client
from app.errors import Refusal
from app.extensions import db
from app.pdf.statement import default_period, parse_period, statement_filename
from app.pdf.statement import statement_pdf as period_statement_pdf
from app.portal import security
from app.portal.security import current_contact, portal_login_required, scoped
from app.portal.services import decide_quote_as_contact, mark_all_viewed, mark_viewed
from app.portal.statement import RenderedStatements, build_statement
from app.portal.views import bp
from app.portal.zip import MAX_INVOICES_PER_ZIP, invoices_zip


RENDERED_STATEMENTS = "portal_rendered_statements"  # the app.extensions key of each app's cache
INVOICES_PER_PAGE = 100
INVOICE_FILTERS = {
    "all": _l("All"),
    "open": _l("To pay"),
    "overdue": _l("Overdue"),
    "paid": _l("Paid"),
    "cancelled": _l("Cancelled"),
}


def _one(model: type[Invoice] | type[Quote], document_id: int) -> Invoice | Quote:
    document = db.session.scalar(scoped(model).where(model.id == document_id))
    if document is None:
        abort(404)
    return document


# ---------------------------------------------------------------- statement

@bp.record_once
def _keep_rendered_statements(state) -> None:
    state.app.extensions[RENDERED_STATEMENTS] = RenderedStatements()


@event.listens_for(Client, "after_insert")
def _new_client_starts_afresh(_mapper, _connection, client: Client) -> None:
    """SQLite may give a deleted client's id to a new client, whose documents version starts
    over: nothing rendered for that id may reach it (other processes: see the key's created_at)."""
    if has_app_context() and RENDERED_STATEMENTS in current_app.extensions:
        current_app.extensions[RENDERED_STATEMENTS].forget_client(client.id)


@bp.get("/")
@portal_login_required
def statement():
    client = current_contact().client
    today = dt.date.today()
    version = security.documents_version()  # read before the documents: see RenderedStatements
    # Everything the fragment shows besides the documents themselves.
    key = (client.id, client.created_at, version, today, g.language, client.currency, request.script_root)
    statements: RenderedStatements = current_app.extensions[RENDERED_STATEMENTS]
    body = statements.get(key) if version is not None else None
    if body is None:
        body = _statement_fragment(client, today)
        if version is not None:
            statements.put(key, body)
    return render_template("portal/statement.html", body=Markup(body), period=default_period(today), errors={})


def _statement_fragment(client: Client, today: dt.date) -> str:
    return render_template("portal/_statement.html", statement=build_statement(client.id, today),
                           aging_buckets=AGING_BUCKETS, aging_labels=AGING_LABELS, today=today,
                           currency=client.currency)


@bp.get("/statement.pdf")
@portal_login_required
def statement_pdf():
    """The signed-in client's statement of account for the period picked on the statement
    page (the current year by default); a wrong date shows the page again, the error at it."""
    client = current_contact().client
    try:
        period = parse_period(request.args.get("from"), request.args.get("to"))
    except Refusal as refusal:
        body = _statement_fragment(client, dt.date.today())
        asked = {"start": request.args.get("from", ""), "end": request.args.get("to", "")}
        return render_template("portal/statement.html", body=Markup(body), period=asked,
                               errors={refusal.field: str(refusal.message)}), 400
    return send_file(BytesIO(period_statement_pdf(client, period)), mimetype="application/pdf",
                     download_name=statement_filename(client, period), as_attachment=False)


# ---------------------------------------------------------------- invoices

def _invoice_filter(name: str, today: dt.date):
    return {
        "open": Invoice.status.in_(OPEN_INVOICE_STATUSES),
        "overdue": Invoice.status.in_(OPEN_INVOICE_STATUSES) & (Invoice.due_date < today),
        "paid": Invoice.status == InvoiceStatus.PAID.value,
        "cancelled": Invoice.status == InvoiceStatus.CANCELLED.value,
    }.get(name)


@bp.get("/invoices")
@portal_login_required
def invoices():
    today = dt.date.today()
    status = request.args.get("status", "all")
    if status not in INVOICE_FILTERS:
        status = "all"
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    query = scoped(Invoice)
    condition = _invoice_filter(status, today)
    if condition is not None:
        query = query.where(condition)
    count = db.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = db.session.scalars(
        query.options(lazyload(Invoice.lines), lazyload(Invoice.payments))
        .order_by(Invoice.issue_date.desc(), Invoice.id.desc())
        .limit(INVOICES_PER_PAGE)
        .offset((page - 1) * INVOICES_PER_PAGE)
    ).all()
    pages = max((count + INVOICES_PER_PAGE - 1) // INVOICES_PER_PAGE, 1)
    return render_template("portal/invoices.html", invoices=rows, status=status, filters=INVOICE_FILTERS,
                           page=page, pages=pages, count=count, today=today, max_zip=MAX_INVOICES_PER_ZIP)


@bp.get("/invoices/<int:invoice_id>")
@portal_login_required
def invoice(invoice_id: int):
    document = _one(Invoice, invoice_id)
    mark_viewed(document, current_contact())
    db.session.commit()
    return render_template("portal/invoice.html", invoice=document, today=dt.date.today())


@bp.get("/invoices/<int:invoice_id>/pdf")
@portal_login_required
def invoice_pdf(invoice_id: int):
    return _pdf_response(_one(Invoice, invoice_id))


@bp.get("/invoices/<int:invoice_id>/xml")
@portal_login_required
def invoice_xml(invoice_id: int):
    """The invoice's FatturaPA file, scoped exactly like its PDF (a draft is never listed)."""
    from app.einvoice.services import current_file

    file = current_file(_one(Invoice, invoice_id))
    if file is None:
        abort(404)
    return send_file(BytesIO(file.content), mimetype="application/xml", download_name=file.file_name,
                     as_attachment=True)


@bp.post("/invoices/download")
@portal_login_required
def download_invoices():
    """The selected invoices' PDFs in one streamed ZIP; one foreign id and nothing is sent."""
    raw_ids = request.form.getlist("ids")
    if not raw_ids:
        return render_template("portal/message.html", title=_("Nothing selected"),
                               message=_("Tick the invoices you want to download."),
                               back=url_for("portal.invoices")), 400
    if len(raw_ids) > MAX_INVOICES_PER_ZIP:
        return render_template(
            "portal/message.html", title=_("Too many invoices"),
            message=_("You can download at most %(count)d invoices at a time.", count=MAX_INVOICES_PER_ZIP),
            back=url_for("portal.invoices"),
        ), 400
    try:
        ids = list(dict.fromkeys(int(value) for value in raw_ids))
    except ValueError:
        abort(404)
    documents = db.session.scalars(
        scoped(Invoice).where(Invoice.id.in_(ids)).order_by(Invoice.issue_date, Invoice.id)
    ).all()
    if len(documents) != len(ids):
        abort(404)
    mark_all_viewed(documents, current_contact())
    archive = invoices_zip(list(documents))
    db.session.commit()
    filename = f"{_('Invoices')}_{dt.date.today().isoformat()}.zip"
    return Response(
        stream_with_context(archive),
        mimetype="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _pdf_response(document: Invoice | Quote):
    from app.pdf.service import pdf_filename, pdf_for

    mark_viewed(document, current_contact())
    content = pdf_for(document)
    filename = pdf_filename(document)
    db.session.commit()
    return send_file(BytesIO(content), mimetype="application/pdf", download_name=filename, as_attachment=False)


# ---------------------------------------------------------------- quotes

@bp.get("/quotes")
@portal_login_required
def quotes():
    rows = db.session.scalars(
        scoped(Quote).options(lazyload(Quote.lines)).order_by(Quote.issue_date.desc(), Quote.id.desc()).limit(200)
    ).all()
    return render_template("portal/quotes.html", quotes=rows, today=dt.date.today())


@bp.get("/quotes/<int:quote_id>")
@portal_login_required
def quote(quote_id: int):
    document = _one(Quote, quote_id)
    mark_viewed(document, current_contact())
    db.session.commit()
    return render_template("portal/quote.html", quote=document, today=dt.date.today())


@bp.get("/quotes/<int:quote_id>/pdf")
@portal_login_required
def quote_pdf(quote_id: int):
    return _pdf_response(_one(Quote, quote_id))


@bp.post("/quotes/<int:quote_id>/accept")
@portal_login_required
def accept_quote(quote_id: int):
    return _decide(quote_id, accepted=True)


@bp.post("/quotes/<int:quote_id>/reject")
@portal_login_required
def reject_quote(quote_id: int):
    return _decide(quote_id, accepted=False)


def _decide(quote_id: int, *, accepted: bool):
    reason = (request.form.get("reason") or "").strip()[:2000]
    try:
        decided = decide_quote_as_contact(current_contact(), quote_id, accepted, reason)
    except BillingError as error:
        db.session.rollback()
        flash(str(error.message), "error")
        return redirect(url_for("portal.quote", quote_id=quote_id), 303)
    if decided is None:
        abort(404)
    db.session.commit()
    flash(_("Thank you: the quote is accepted. We will be in touch shortly.") if accepted
          else _("The quote is declined. Thank you for letting us know."), "success")
    return redirect(url_for("portal.quote", quote_id=quote_id), 303)

