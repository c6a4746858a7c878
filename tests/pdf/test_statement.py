"""The statement of account for a period: its figures on a real data set, the PDF in each
language (read back with pdftotext), the API, the 360 page, the portal and the email.

The data set: a client with an invoice issued before the period (partly paid before it and
in it), two invoices in it (one paid in part), one after it, a draft, a cancelled invoice,
and another client's invoice in the period. Period 1 April – 30 June 2026.
"""
from __future__ import annotations

import datetime as dt
import subprocess
import tempfile
from decimal import Decimal

import pytest
from sqlalchemy import func

from app.billing import services as billing
from app.billing.models import BILLED_INVOICE_STATUSES, Invoice
from app.extensions import db
from app.mail.models import OutboxEmail
from app.pdf.statement import Period, build_period_statement, parse_period
from app.errors import Refusal
from tests.support.factories import line, login, make_client, make_invoice, make_staff_user
from tests.support.api import api_headers
from tests.support.portal import sign_in

D = dt.date
PERIOD = Period(D(2026, 4, 1), D(2026, 6, 30))


def pdf_text(content: bytes) -> str:
    """The PDF's text as poppler's pdftotext reads it, with Babel's no-break spaces made plain."""
    assert content.startswith(b"%PDF-")
    with tempfile.NamedTemporaryFile(suffix=".pdf") as handle:
        handle.write(content)
        handle.flush()
        text = subprocess.run(["pdftotext", "-layout", handle.name, "-"], capture_output=True, check=True).stdout
    return text.decode().replace("\xa0", " ").replace("\u202f", " ")


def invoice(client, issued: dt.date, net: str, *, finalize: bool = True, due_days: int = 30):
    return make_invoice(client, lines=[line(unit_price=net)], finalize=finalize, issue_date=issued,
                        due_date=issued + dt.timedelta(days=due_days))


def pay(document, amount: str, on: dt.date) -> None:
    billing.record_payment(document, amount=amount, date=on)


@pytest.fixture
def data_set():
    client = make_client("Rossi Arredamenti S.r.l.", email="amministrazione@rossi.it")
    early = invoice(client, D(2026, 1, 15), "100.00")             # 122.00, due 14 Feb
    pay(early, "50.00", D(2026, 3, 1))                            # before the period
    pay(early, "30.00", D(2026, 4, 10))                           # in it
    big = invoice(client, D(2026, 5, 5), "1000.00")               # 1220.00, due 4 Jun
    pay(big, "220.00", D(2026, 6, 20))
    invoice(client, D(2026, 6, 30), "50.00")                      # 61.00, due 30 Jul
    late = invoice(client, D(2026, 7, 10), "100.00")              # after the period
    pay(early, "42.00", D(2026, 7, 15))                           # after the period
    invoice(client, D(2026, 5, 1), "999.00", finalize=False)      # a draft: never on a statement
    billing.cancel_invoice(invoice(client, D(2026, 5, 2), "777.00"))
    invoice(make_client("Altro Cliente S.r.l."), D(2026, 5, 3), "555.00")
    db.session.commit()
    return client, late


def test_opening_plus_the_periods_invoices_less_its_payments_is_the_closing_balance(data_set):
    client, _late = data_set
    statement = build_period_statement(client, PERIOD)

    assert statement.opening == Decimal("72.00")  # 122.00 invoiced − 50.00 paid before 1 April
    assert [(row.kind, row.date, row.debit, row.credit, row.balance) for row in statement.rows] == [
        ("payment", D(2026, 4, 10), Decimal("0.00"), Decimal("30.00"), Decimal("42.00")),
        ("invoice", D(2026, 5, 5), Decimal("1220.00"), Decimal("0.00"), Decimal("1262.00")),
        ("payment", D(2026, 6, 20), Decimal("0.00"), Decimal("220.00"), Decimal("1042.00")),
        ("invoice", D(2026, 6, 30), Decimal("61.00"), Decimal("0.00"), Decimal("1103.00")),
    ]
    assert statement.invoiced == Decimal("1281.00")
    assert statement.paid == Decimal("250.00")
    assert statement.closing == statement.opening + statement.invoiced - statement.paid == Decimal("1103.00")


def test_ageing_is_what_was_open_at_the_end_of_the_period_by_days_past_due_then(data_set):
    client, _late = data_set
    ageing = build_period_statement(client, PERIOD).ageing

    # January's invoice: 122 − 80 paid by 30 June, 136 days late; May's: 1000 open, 26 days late;
    # June's: 61, not yet due. The later payment and invoice are not in it.
    assert ageing == {"current": Decimal("61.00"), "1_30": Decimal("1000.00"), "31_60": Decimal("0.00"),
                      "61_90": Decimal("0.00"), "90_plus": Decimal("42.00")}
    assert sum(ageing.values()) == build_period_statement(client, PERIOD).closing


def test_a_period_before_any_document_is_all_zero(data_set):
    client, _late = data_set
    statement = build_period_statement(client, Period(D(2025, 1, 1), D(2025, 12, 31)))
    assert (statement.opening, statement.rows, statement.closing) == (Decimal("0.00"), [], Decimal("0.00"))


@pytest.mark.parametrize(("start", "end", "field"), [
    ("2026-13-01", "2026-12-31", "from"), ("ieri", None, "from"), ("2026-01-01", "31/12/2026", "to"),
    ("2026-06-30", "2026-04-01", "to"), ("0001-01-01", None, "from"),
])
def test_a_wrong_period_is_refused_at_its_field(start, end, field):
    with pytest.raises(Refusal) as refused:
        parse_period(start, end)
    assert refused.value.field == field


def test_the_default_period_is_the_current_year_up_to_today():
    assert parse_period(None, "", today=D(2026, 8, 14)) == Period(D(2026, 1, 1), D(2026, 8, 14))


def test_the_api_answers_the_pdf_in_the_clients_language(web, data_set):
    client, _late = data_set
    response = web.get(f"/api/v1/client/{client.id}/statement.pdf?from=2026-04-01&to=2026-06-30",
                       headers=api_headers(web, "Support"))
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert "Estratto-conto_Rossi-Arredamenti-S.r.l._2026-04-01_2026-06-30.pdf" in response.headers["Content-Disposition"]
    text = pdf_text(response.data)
    for expected in ("Estratto conto", "Dal 1 apr 2026 al 30 giu 2026", "Saldo iniziale", "72,00 €",
                     "Saldo finale", "1.103,00 €", "1.220,00 €", "Pagamento, fattura", "Bonifico bancario",
                     "Anzianità al 30 giu 2026", "1.000,00 €", "42,00 €"):
        assert expected.casefold() in text.casefold(), expected  # headings are set in capitals
    assert "999,00" not in text and "947,94" not in text and "677,10" not in text  # draft, cancelled, other client
    assert "Rossi Arredamenti S.r.l." in text


def test_an_english_client_reads_it_in_english(web, data_set):
    client, _late = data_set
    client.language = "en"
    db.session.commit()
    response = web.get(f"/api/v1/client/{client.id}/statement.pdf?from=2026-04-01&to=2026-06-30",
                       headers=api_headers(web))
    text = pdf_text(response.data)
    for expected in ("Statement of account", "From Apr 1, 2026 to Jun 30, 2026", "Opening balance", "€72.00",
                     "Closing balance", "€1,103.00", "Bank transfer", "Ageing at Jun 30, 2026", "€1,000.00"):
        assert expected.casefold() in text.casefold(), expected


def test_the_api_refuses_a_wrong_date_at_the_field_in_the_callers_language(web, data_set):
    client, _late = data_set
    response = web.get(f"/api/v1/client/{client.id}/statement.pdf?from=2026-02-30", headers=api_headers(web, language="it"))
    assert response.status_code == 400
    assert response.get_json() == {"message": {"from": ["Inserisci una data nel formato AAAA-MM-GG (per esempio 2026-01-31)."]}}


def test_the_api_needs_a_token_and_a_known_client(web, data_set):
    client, _late = data_set
    assert web.get(f"/api/v1/client/{client.id}/statement.pdf").status_code == 401
    assert web.get("/api/v1/client/999999/statement.pdf", headers=api_headers(web)).status_code == 404


def test_staff_download_it_from_the_360_page(web, data_set):
    client, _late = data_set
    login(web, make_staff_user("Billing").username)
    page = web.get(f"/clients/{client.id}/dashboard").get_data(as_text=True)
    assert f'action="/clients/{client.id}/statement.pdf"' in page
    response = web.get(f"/clients/{client.id}/statement.pdf?from=2026-04-01&to=2026-06-30")
    assert response.status_code == 200
    assert "1.103,00 €" in pdf_text(response.data)
    refused = web.get(f"/clients/{client.id}/statement.pdf?from=2026-06-30&to=2026-04-01")
    assert refused.status_code == 400 and refused.mimetype == "text/html"
    assert 'data-field="to"' in refused.get_data(as_text=True)


def test_the_portal_gives_a_contact_their_own_clients_statement_only(web, data_set):
    client, _late = data_set
    other = make_client("Bianchi S.r.l.", email="bruno@bianchi.it")
    invoice(other, D(2026, 5, 3), "4321.00")
    db.session.commit()
    sign_in(web, client.contacts[0])
    page = web.get("/portal/").get_data(as_text=True)
    assert 'action="/portal/statement.pdf"' in page and 'name="from"' in page and 'name="to"' in page

    text = pdf_text(web.get("/portal/statement.pdf?from=2026-04-01&to=2026-06-30").data)
    assert "Rossi Arredamenti" in text and "1.103,00 €" in text
    assert "Bianchi" not in text and "5.271,62" not in text

    sign_in(web, other.contacts[0])
    text = pdf_text(web.get("/portal/statement.pdf?from=2026-04-01&to=2026-06-30").data)
    assert "Bianchi S.r.l." in text and "5.271,62 €" in text and "Rossi" not in text


def test_the_portal_shows_a_wrong_date_at_its_field_and_renders_nothing(web, data_set):
    client, _late = data_set
    sign_in(web, client.contacts[0])
    response = web.get("/portal/statement.pdf?from=2026-01-01&to=domani")
    assert response.status_code == 400 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert 'id="to-error"' in page and "AAAA-MM-GG" in page


def test_the_statement_email_carries_the_pdf_of_the_current_year(web, data_set):
    client, _late = data_set
    from app.mail.notifications import send_statement

    send_statement(client)
    db.session.commit()
    email = db.session.query(OutboxEmail).filter_by(kind="statement").one()
    [attachment] = email.attachments
    assert attachment.mime_type == "application/pdf"
    year = dt.date.today().year
    assert attachment.filename.startswith(f"Estratto-conto_Rossi-Arredamenti-S.r.l._{year}-01-01_")
    assert "Estratto conto" in pdf_text(attachment.content)



# ── Credit notes and withholding: the statement ends where the invoices' balances do ────────

def issued_on(client, issued: dt.date) -> Invoice:
    return db.session.query(Invoice).filter(
        Invoice.client_id == client.id, Invoice.issue_date == issued, Invoice.number.is_not(None),
        Invoice.status != "cancelled").one()


def credit(document, net: str, on: dt.date, *, finalize: bool = True):
    note = billing.create_credit_note(document, "Sconto concordato", [line(unit_price=net)], issue_date=on)
    if finalize:
        billing.finalize_credit_note(note)
    db.session.commit()
    return note


def open_balances(client) -> Decimal:
    return db.session.query(func.sum(Invoice.balance)).filter(
        Invoice.client_id == client.id, Invoice.status.in_(BILLED_INVOICE_STATUSES)).scalar()


def test_a_credit_note_in_the_period_is_a_row_that_lowers_the_running_and_closing_balance(data_set):
    client, _late = data_set
    big = issued_on(client, D(2026, 5, 5))
    note = credit(big, "100.00", D(2026, 5, 20))                   # 122.00 off May's invoice
    credit(big, "50.00", D(2026, 5, 21), finalize=False)          # a draft credits nothing
    statement = build_period_statement(client, PERIOD)

    assert [(row.kind, row.date, row.debit, row.credit, row.balance) for row in statement.rows] == [
        ("payment", D(2026, 4, 10), Decimal("0.00"), Decimal("30.00"), Decimal("42.00")),
        ("invoice", D(2026, 5, 5), Decimal("1220.00"), Decimal("0.00"), Decimal("1262.00")),
        ("credit_note", D(2026, 5, 20), Decimal("0.00"), Decimal("122.00"), Decimal("1140.00")),
        ("payment", D(2026, 6, 20), Decimal("0.00"), Decimal("220.00"), Decimal("920.00")),
        ("invoice", D(2026, 6, 30), Decimal("61.00"), Decimal("0.00"), Decimal("981.00")),
    ]
    assert statement.rows[2].reference == note.number
    assert (statement.invoiced, statement.credited, statement.paid) == (
        Decimal("1281.00"), Decimal("122.00"), Decimal("250.00"))
    assert statement.closing == statement.opening + statement.invoiced - statement.credited - statement.paid
    assert statement.closing == Decimal("981.00")
    # May's invoice: 1220 − 122 credited − 220 paid by 30 June, 26 days late.
    assert statement.ageing["1_30"] == Decimal("878.00")
    assert sum(statement.ageing.values()) == statement.closing


def test_a_credit_note_before_the_period_lowers_the_opening_balance(data_set):
    client, _late = data_set
    credit(issued_on(client, D(2026, 1, 15)), "20.00", D(2026, 3, 10))   # 24.40 off January's invoice
    statement = build_period_statement(client, PERIOD)

    assert statement.opening == Decimal("47.60")  # 122.00 − 24.40 credited − 50.00 paid before 1 April
    assert [row.kind for row in statement.rows] == ["payment", "invoice", "payment", "invoice"]
    assert statement.credited == Decimal("0.00")
    assert statement.closing == Decimal("1078.60")
    assert statement.ageing["90_plus"] == Decimal("17.60")  # 122 − 24.40 − 80 paid by 30 June


def test_ageing_counts_the_credit_notes_issued_by_the_end_of_the_period_only(data_set):
    client, _late = data_set
    credit(issued_on(client, D(2026, 5, 5)), "100.00", D(2026, 7, 20))   # after the period
    june = build_period_statement(client, PERIOD)
    assert june.rows[-1].balance == june.closing == Decimal("1103.00")
    assert june.ageing["1_30"] == Decimal("1000.00")

    july = build_period_statement(client, Period(PERIOD.start, D(2026, 7, 31)))
    assert july.ageing["31_60"] == Decimal("878.00")  # 1220 − 122 − 220, 57 days late on 31 July
    assert sum(july.ageing.values()) == july.closing


def test_an_invoice_with_withholding_counts_what_the_client_pays(data_set):
    from app.company.services import get_company

    client, _late = data_set
    get_company().withholding_rate = Decimal("20")
    fee = invoice(client, D(2026, 6, 1), "1000.00")               # 1220.00, 200.00 withheld: 1020.00 to pay
    get_company().withholding_rate = Decimal("0")
    db.session.commit()
    assert (fee.total, fee.net_to_pay) == (Decimal("1220.00"), Decimal("1020.00"))

    statement = build_period_statement(client, PERIOD)
    [row] = [row for row in statement.rows if row.date == D(2026, 6, 1)]
    assert (row.kind, row.debit) == ("invoice", Decimal("1020.00"))
    assert statement.closing == Decimal("2123.00")  # 1103.00 + 1020.00
    assert statement.ageing["current"] == Decimal("1081.00")  # 61.00 + 1020.00, due in July


def test_the_closing_balance_today_is_what_the_open_invoices_balances_add_up_to(data_set):
    from app.company.services import get_company

    client, late = data_set
    get_company().withholding_rate = Decimal("20")
    fee = invoice(client, D(2026, 6, 1), "1000.00")
    get_company().withholding_rate = Decimal("0")
    db.session.commit()
    credit(fee, "250.00", D(2026, 6, 15))                          # withheld too: 255.00 off, not 305.00
    pay(fee, "300.00", D(2026, 6, 20))
    credit(issued_on(client, D(2026, 5, 5)), "100.00", D(2026, 5, 20))
    credit(late, "50.00", D(2026, 7, 12))

    today = dt.date.today()
    statement = build_period_statement(client, Period(D(2026, 1, 1), today))
    # January's 0 + May's 1220 − 122 − 220 + June's 61 + July's 122 − 61 + the fee's 1020 − 255 − 300
    assert statement.opening == Decimal("0.00")
    assert statement.closing == open_balances(client) == Decimal("1465.00")
    assert sum(statement.ageing.values()) == statement.closing
    later = build_period_statement(client, Period(D(2026, 6, 1), today))
    assert later.opening + later.invoiced - later.credited - later.paid == later.closing == statement.closing


def test_the_pdf_shows_the_credit_note_and_what_was_credited(web, data_set):
    client, _late = data_set
    note = credit(issued_on(client, D(2026, 5, 5)), "100.00", D(2026, 5, 20))
    response = web.get(f"/api/v1/client/{client.id}/statement.pdf?from=2026-04-01&to=2026-06-30",
                       headers=api_headers(web, "Support"))
    text = pdf_text(response.data)
    for expected in (f"Nota di credito {note.number}", "Stornato nel periodo", "122,00 €", "981,00 €"):
        assert expected.casefold() in text.casefold(), expected
