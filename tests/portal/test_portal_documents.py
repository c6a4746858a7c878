"""Invoices and quotes in the portal: viewing, filtering, PDFs, the ZIP download, answering a quote."""
from __future__ import annotations

import datetime as dt
import io
import zipfile

from sqlalchemy import select

from app.activity.models import Activity
from app.billing import services as billing
from app.billing.models import Invoice, Quote
from app.company.services import get_company
from app.extensions import db
from app.mail.models import OutboxEmail
from app.pdf.service import pdf_for
from app.portal.tokens import issue_sign_in_link
from app.portal.zip import unique_member_names
from tests.support.portal import TODAY, link_token, make_client, make_invoice, make_quote, sign_in


def _timeline(kind: str) -> list[Activity]:
    return db.session.scalars(select(Activity).where(Activity.kind == kind)).all()


# ---------------------------------------------------------------- viewing

def test_the_first_view_marks_the_invoice_viewed_and_the_timeline_says_so_once(web):
    client, contact = make_client("Rossi S.r.l.", "giulia@rossi.it")
    invoice = make_invoice(client)
    raw = link_token(issue_sign_in_link(contact, target=f"/portal/invoices/{invoice.id}"))
    db.session.commit()

    web.get(f"/portal/auth/{raw}")
    db.session.expire_all()
    assert db.session.get(Invoice, invoice.id).viewed_at is None, "the sign-in page does not count"

    web.post(f"/portal/auth/{raw}")
    for _ in range(2):
        page = web.get(f"/portal/invoices/{invoice.id}")
        assert page.status_code == 200 and invoice.number in page.get_data(as_text=True)

    db.session.expire_all()
    assert db.session.get(Invoice, invoice.id).viewed_at is not None
    [viewed] = _timeline("invoice_viewed")
    assert viewed.invoice_id == invoice.id and "giulia@rossi.it" in viewed.actor


def test_the_first_view_of_a_quote_is_recorded_once(web):
    client, contact = make_client("Rossi S.r.l.", "giulia@rossi.it")
    quote = make_quote(client)
    sign_in(web, contact)
    web.get(f"/portal/quotes/{quote.id}")
    web.get(f"/portal/quotes/{quote.id}/pdf")
    assert len(_timeline("quote_viewed")) == 1


def test_the_invoice_page_shows_lines_totals_and_payments_and_a_pdf_link(web):
    client, contact = make_client("Rossi S.r.l.", "giulia@rossi.it", language="en")
    invoice = make_invoice(client, amount="1000.00")
    billing.record_payment(invoice, amount="220.00")
    get_company().iban = "IT60X0542811101000000123456"
    sign_in(web, contact)

    page = web.get(f"/portal/invoices/{invoice.id}").get_data(as_text=True)

    assert "Consulenza" in page and "€1,220.00" in page and "€220.00" in page
    assert 'data-testid="balance">€1,000.00<' in page
    assert f"/portal/invoices/{invoice.id}/pdf" in page
    assert "IT60X0542811101000000123456" in page
    assert "Partly paid" in page


def test_the_pdf_is_the_invoices_own(web):
    client, contact = make_client("Rossi S.r.l.", "giulia@rossi.it")
    invoice = make_invoice(client)
    sign_in(web, contact)

    response = web.get(f"/portal/invoices/{invoice.id}/pdf")

    assert response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")
    assert response.data == pdf_for(db.session.get(Invoice, invoice.id))
    assert "Fattura_" in response.headers["Content-Disposition"]


def test_the_invoice_list_filters_by_status(web):
    client, contact = make_client("Rossi S.r.l.", "giulia@rossi.it")
    open_one = make_invoice(client)
    late = make_invoice(client, days_overdue=10)
    paid = make_invoice(client)
    billing.record_payment(paid, amount=paid.balance)
    cancelled = billing.cancel_invoice(make_invoice(client))
    sign_in(web, contact)

    def listed(status: str) -> set[str]:
        page = web.get(f"/portal/invoices?status={status}").get_data(as_text=True)
        return {n.number for n in (open_one, late, paid, cancelled) if f">{n.number}<" in page}

    assert listed("all") == {open_one.number, late.number, paid.number, cancelled.number}
    assert listed("open") == {open_one.number, late.number}
    assert listed("overdue") == {late.number}
    assert listed("paid") == {paid.number}
    assert listed("cancelled") == {cancelled.number}
    page = web.get("/portal/invoices").get_data(as_text=True)
    assert page.count('type="checkbox" name="ids"') == 4


# ---------------------------------------------------------------- the ZIP download

def _download(web, ids):
    return web.post("/portal/invoices/download", data={"ids": [str(i) for i in ids]})


def test_selected_invoices_download_as_one_zip_of_their_own_pdfs(web):
    client, contact = make_client("Rossi S.r.l.", "giulia@rossi.it")
    first, second, _not_selected = (make_invoice(client, amount=a) for a in ("100.00", "250.00", "999.00"))
    sign_in(web, contact)

    response = _download(web, [first.id, second.id, first.id])

    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    assert archive.testzip() is None
    expected = {f"Fattura_{doc.number.replace('/', '-')}.pdf": doc.id for doc in (first, second)}
    assert sorted(archive.namelist()) == sorted(expected)
    for name, invoice_id in expected.items():
        assert archive.read(name) == pdf_for(db.session.get(Invoice, invoice_id))
    assert archive.read(archive.namelist()[0]) != archive.read(archive.namelist()[1])


def test_one_foreign_id_means_404_and_no_archive(web):
    client, contact = make_client("Rossi S.r.l.", "giulia@rossi.it")
    other, _ = make_client("Beta S.r.l.", "bruno@beta.it")
    mine, theirs = make_invoice(client), make_invoice(other)
    draft = make_invoice(client, finalize=False)
    sign_in(web, contact)

    for ids in ([mine.id, theirs.id], [mine.id, draft.id], [mine.id, 999999], [mine.id, "abc"]):
        response = _download(web, ids)
        assert response.status_code == 404
        assert response.mimetype == "text/html" and not response.data.startswith(b"PK")


def test_at_most_500_invoices_per_zip_and_at_least_one(web):
    client, contact = make_client("Rossi S.r.l.", "giulia@rossi.it")
    sign_in(web, contact)
    assert _download(web, range(1, 502)).status_code == 400
    assert _download(web, []).status_code == 400


def test_member_names_are_safe_and_unique():
    names = unique_member_names(["Fattura_1.pdf", "Fattura_1.pdf", "../../etc/passwd", "a b/c\\d.pdf",
                                 ".hidden.pdf", "FATTURA_1.PDF", ""])
    assert names == ["Fattura_1.pdf", "Fattura_1-2.pdf", "etc-passwd.pdf", "a-b-c-d.pdf",
                     "hidden.pdf", "FATTURA_1-3.pdf", "document.pdf"]
    assert len({name.lower() for name in names}) == len(names)


# ---------------------------------------------------------------- answering a quote

def _staff_notifications(kind: str) -> list[OutboxEmail]:
    return db.session.scalars(select(OutboxEmail).where(OutboxEmail.kind == kind)).all()


def test_accepting_a_quote_records_it_tells_staff_and_lets_staff_convert_it(web):
    get_company().support_email = "ufficio@azienda.it"
    client, contact = make_client("Rossi S.r.l.", "giulia@rossi.it")
    quote = make_quote(client)
    sign_in(web, contact)

    response = web.post(f"/portal/quotes/{quote.id}/accept", data={"reason": "Procediamo a gennaio"})

    assert response.status_code == 303 and response.headers["Location"] == f"/portal/quotes/{quote.id}"
    db.session.expire_all()
    quote = db.session.get(Quote, quote.id)
    assert quote.status == "accepted" and quote.decision_reason == "Procediamo a gennaio"
    [entry] = _timeline("quote_accepted")
    assert "giulia@rossi.it" in entry.actor
    [email] = _staff_notifications("quote_accepted")
    assert email.to_email == "ufficio@azienda.it" and "Procediamo a gennaio" in email.body_text
    assert billing.convert_quote(quote).status == "draft"


def test_rejecting_a_quote_with_a_reason(web):
    get_company().support_email = "ufficio@azienda.it"
    client, contact = make_client("Rossi S.r.l.", "giulia@rossi.it")
    quote = make_quote(client)
    sign_in(web, contact)

    web.post(f"/portal/quotes/{quote.id}/reject", data={"reason": "Troppo caro"})

    db.session.expire_all()
    assert db.session.get(Quote, quote.id).status == "rejected"
    assert len(_timeline("quote_rejected")) == 1
    assert len(_staff_notifications("quote_rejected")) == 1


def test_a_quote_is_answered_once_and_an_expired_one_cannot_be_accepted(web):
    client, contact = make_client("Rossi S.r.l.", "giulia@rossi.it")
    quote = make_quote(client)
    expired = make_quote(client, valid_until=TODAY - dt.timedelta(days=1))
    sign_in(web, contact)

    web.post(f"/portal/quotes/{quote.id}/accept")
    second = web.post(f"/portal/quotes/{quote.id}/reject", follow_redirects=True)
    late = web.post(f"/portal/quotes/{expired.id}/accept", follow_redirects=True)

    db.session.expire_all()
    assert db.session.get(Quote, quote.id).status == "accepted"
    assert db.session.get(Quote, expired.id).status == "sent"
    assert "notice-error" in second.get_data(as_text=True) and "notice-error" in late.get_data(as_text=True)
    assert len(_timeline("quote_accepted")) == 1 and not _timeline("quote_rejected")
