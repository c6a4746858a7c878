"""Recurring invoices: one invoice per period, exactly once, whatever runs it and however often."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.billing.models import Invoice
from app.errors import Refusal
from app.einvoice import services as einvoice
from app.einvoice.schema import schema_errors
from app.extensions import db
from app.products.services import create_product, update_product
from app.recurring import services as recurring
from app.recurring.models import RecurringInvoice, RecurringRun
from tests.support.factories import line, login, make_client, make_staff_user, run_concurrently
from tests.support.einvoice import italian_company
from tests.support.api import api_headers

JAN_5 = dt.date(2026, 1, 5)


def schedule(client=None, *, start=JAN_5, lines=None, **fields) -> RecurringInvoice:
    made = recurring.create_schedule(client or make_client(), {
        "start_date": start, "lines": lines or [line("Canone mensile", unit_price="300.00")], **fields})
    db.session.commit()
    return made


def invoices() -> list[Invoice]:
    db.session.expire_all()
    return db.session.scalars(select(Invoice).order_by(Invoice.id)).all()


# --- periods ------------------------------------------------------------------------------


def test_periods_count_from_the_start_date_and_keep_to_month_ends(app):
    monthly = RecurringInvoice(start_date=dt.date(2026, 1, 31), frequency="monthly")
    assert recurring.period_after(monthly, dt.date(2026, 1, 31)) == dt.date(2026, 2, 28)
    assert recurring.period_after(monthly, dt.date(2026, 2, 28)) == dt.date(2026, 3, 31)
    quarterly = RecurringInvoice(start_date=dt.date(2026, 11, 30), frequency="quarterly")
    assert recurring.period_after(quarterly, dt.date(2026, 11, 30)) == dt.date(2027, 2, 28)
    yearly = RecurringInvoice(start_date=dt.date(2028, 2, 29), frequency="yearly")
    assert recurring.period_after(yearly, dt.date(2028, 2, 29)) == dt.date(2029, 2, 28)


# --- generating -------------------------------------------------------------------------------


def test_a_due_period_makes_one_draft_however_often_the_task_runs(app):
    plan = schedule()
    first = recurring.generate_due(JAN_5)
    assert recurring.generate_due(JAN_5).invoice_ids == []
    assert recurring.generate_due(dt.date(2026, 1, 20)).invoice_ids == []

    [invoice] = invoices()
    assert first.invoice_ids == [invoice.id]
    assert (invoice.status, invoice.issue_date, invoice.total) == ("draft", JAN_5, Decimal("366.00"))
    db.session.refresh(plan)
    assert (plan.next_date, plan.last_invoice_id) == (dt.date(2026, 2, 5), invoice.id)


def test_a_period_already_invoiced_is_never_invoiced_again_even_if_next_date_goes_back(app):
    plan = schedule()
    recurring.generate_due(JAN_5)
    plan.next_date = JAN_5  # moved back by hand, or by a worker that missed the lock
    db.session.commit()
    assert recurring.generate_due(JAN_5).invoice_ids == []
    assert len(invoices()) == 1
    db.session.refresh(plan)
    assert plan.next_date == dt.date(2026, 2, 5)


def test_nothing_is_made_before_the_start_date(app):
    schedule()
    assert recurring.generate_due(JAN_5 - dt.timedelta(days=1)).invoice_ids == []
    assert invoices() == []


def test_two_months_with_the_server_off_make_two_invoices_dated_the_day_they_are_made(app):
    plan = schedule()
    recurring.generate_due(JAN_5)
    caught_up = recurring.generate_due(dt.date(2026, 3, 10))
    assert len(caught_up.invoice_ids) == 2
    runs = db.session.scalars(select(RecurringRun.period_start).order_by(RecurringRun.period_start)).all()
    assert runs == [JAN_5, dt.date(2026, 2, 5), dt.date(2026, 3, 5)]
    assert [invoice.issue_date for invoice in invoices()] == [JAN_5, dt.date(2026, 3, 10), dt.date(2026, 3, 10)]
    db.session.refresh(plan)
    assert plan.next_date == dt.date(2026, 4, 5)


def test_the_end_date_ends_the_schedule(app):
    plan = schedule(start=dt.date(2026, 1, 1), end_date=dt.date(2026, 2, 15))
    assert len(recurring.generate_due(dt.date(2026, 6, 1)).invoice_ids) == 2
    assert recurring.generate_due(dt.date(2026, 12, 1)).invoice_ids == []
    db.session.refresh(plan)
    assert plan.status == "ended"


def test_a_quarterly_schedule_invoices_every_three_months(app):
    schedule(start=dt.date(2026, 1, 1), frequency="quarterly")
    assert len(recurring.generate_due(dt.date(2026, 12, 31)).invoice_ids) == 4


def test_auto_send_finalizes_and_emails_each_invoice_once(app, smtp_server):
    client = make_client(email="amministrazione@rossi.it")
    schedule(client, auto_send=True)
    recurring.generate_due(JAN_5)
    recurring.generate_due(JAN_5)
    [invoice] = invoices()
    assert (invoice.status, invoice.number) == ("sent", "2026/0001")
    [message] = smtp_server.messages
    assert "amministrazione@rossi.it" in message["To"]
    assert [part.get_content_type() for part in message.iter_attachments()] == ["application/pdf"]


def test_a_zero_rate_line_keeps_its_vat_nature_and_is_sent_as_a_valid_e_invoice(app, smtp_server):
    italian_company()  # e-invoicing on: finalization runs SdI's checks and stores the file
    client = make_client(email="amministrazione@rossi.it")
    plan = schedule(client, auto_send=True, lines=[
        line("Canone di manutenzione", unit_price="200.00"),
        line("Cessione intracomunitaria", unit_price="100.00", tax_rate="0", vat_nature="n2.2 "),
        {**line("Esportazione", unit_price="50.00", tax_rate="0", vat_nature="N3.1"),
         "vat_nature_reference": "Art. 8 c.1 lett. a DPR 633/72"},
    ])
    assert [(t.vat_nature, t.vat_nature_reference) for t in plan.lines] == [
        ("", ""), ("N2.2", ""), ("N3.1", "Art. 8 c.1 lett. a DPR 633/72")]

    recurring.generate_due(JAN_5)
    [invoice] = invoices()
    assert (invoice.status, invoice.number) == ("sent", "2026/0001")
    assert [(item.tax_rate, item.vat_nature, item.vat_nature_reference) for item in invoice.lines] == [
        (Decimal("22.00"), "", ""), (Decimal("0.00"), "N2.2", ""),
        (Decimal("0.00"), "N3.1", "Art. 8 c.1 lett. a DPR 633/72")]
    file = einvoice.current_file(invoice)
    assert file is not None and schema_errors(file.content) == []
    assert b"<Natura>N2.2</Natura>" in file.content
    assert len(smtp_server.messages) == 1


def test_a_zero_rate_line_without_a_nature_is_refused_at_its_field(app, web):
    with pytest.raises(Refusal) as refused:
        recurring.create_schedule(make_client(), {"start_date": JAN_5, "lines": [
            line("Canone", unit_price="10.00"), line("Senza IVA", unit_price="10.00", tax_rate="0", vat_nature="")]})
    assert set(refused.value.as_dict()) == {"lines.1.vat_nature"}
    db.session.rollback()

    client = make_client()
    db.session.commit()
    response = web.post("/api/v1/recurring-invoice/", json={
        "client_id": client.id, "start_date": "2026-01-05",
        "lines": [{"description": "Senza IVA", "unit_price": "10.00", "tax_rate": "0"}]}, headers=api_headers(web))
    assert response.status_code == 422 and set(response.get_json()["message"]) == {"lines.0.vat_nature"}
    assert db.session.scalar(select(func.count(RecurringInvoice.id))) == 0


def test_lines_with_products_take_the_products_current_values(app):
    product = create_product({"name": "Hosting", "description": "Hosting gestito", "unit_price": "50.00",
                              "tax_rate": "22"})
    schedule(lines=[{"product_id": product.id, "quantity": "2"},
                    line("Supporto", unit_price="10.00", quantity="1")])
    recurring.generate_due(JAN_5)
    update_product(product, {"unit_price": "60.00"})
    db.session.commit()
    recurring.generate_due(dt.date(2026, 2, 5))
    january, february = invoices()
    assert [(item.product_id, item.description, item.amount) for item in january.lines] == [
        (product.id, "Hosting gestito", Decimal("100.00")), (None, "Supporto", Decimal("10.00"))]
    assert february.lines[0].amount == Decimal("120.00")


def test_a_paused_schedule_makes_nothing_and_resuming_skips_the_pause(app):
    plan = schedule()
    recurring.pause(plan)
    db.session.commit()
    assert recurring.generate_due(dt.date(2026, 4, 1)).invoice_ids == []
    recurring.resume(plan, today=dt.date(2026, 4, 1))
    db.session.commit()
    assert plan.next_date == dt.date(2026, 4, 5)
    assert len(recurring.generate_due(dt.date(2026, 4, 5)).invoice_ids) == 1


def test_ending_a_schedule_stops_it_after_the_periods_already_made(app):
    plan = schedule()
    recurring.generate_due(JAN_5)
    recurring.end(plan)
    db.session.commit()
    assert (plan.end_date, plan.status) == (dt.date(2026, 2, 4), "ended")
    assert recurring.generate_due(dt.date(2026, 9, 1)).invoice_ids == []
    with pytest.raises(Refusal):
        recurring.resume(plan)


def test_a_period_that_cannot_be_invoiced_is_reported_and_leaves_nothing_behind(app):
    client = make_client()
    plan = schedule(client)
    client.archived = True
    db.session.commit()
    result = recurring.generate_due(JAN_5)
    assert result.invoice_ids == [] and [schedule_id for schedule_id, _ in result.failures] == [plan.id]
    assert invoices() == [] and db.session.scalars(select(RecurringRun)).all() == []


def test_a_schedule_refuses_bad_lines_and_dates_by_field(app):
    with pytest.raises(Refusal) as refused:
        recurring.create_schedule(make_client(), {"start_date": JAN_5, "end_date": dt.date(2025, 1, 1),
                                                  "frequency": "weekly",
                                                  "lines": [{"quantity": "-1", "description": "x"}]})
    assert set(refused.value.as_dict()) == {"frequency", "end_date", "lines.0.quantity"}


def test_the_cli_generates_what_is_due(app):
    schedule()
    result = app.test_cli_runner().invoke(args=["clientela", "generate-recurring", "--date", "2026-02-05"])
    assert result.exit_code == 0, result.output
    assert "Made 2 recurring invoice(s)." in result.output
    assert len(invoices()) == 2


@pytest.mark.postgres_only
def test_the_same_period_from_eight_workers_at_once_makes_one_invoice(app):
    plan = schedule()

    def work(_index: int) -> int:
        return len(recurring.generate_due(JAN_5).invoice_ids)

    outcomes = run_concurrently(app, 8, work)
    assert sorted(outcomes) == [0] * 7 + [1]
    assert len(invoices()) == 1
    assert db.session.scalar(select(func.count()).select_from(RecurringRun)) == 1
    db.session.refresh(plan)
    assert plan.next_date == dt.date(2026, 2, 5)


@pytest.mark.postgres_only
def test_workers_catching_up_together_make_one_invoice_per_period(app):
    schedule()

    def work(_index: int) -> int:
        return len(recurring.generate_due(dt.date(2026, 6, 5)).invoice_ids)

    outcomes = run_concurrently(app, 6, work)
    assert sum(outcomes) == 6
    periods = db.session.scalars(select(RecurringRun.period_start).order_by(RecurringRun.period_start)).all()
    assert periods == [dt.date(2026, month, 5) for month in range(1, 7)]


# --- the API ------------------------------------------------------------------------------


def test_the_api_creates_a_schedule_and_keeps_next_date_read_only(web):
    client = make_client()
    db.session.commit()
    headers = api_headers(web)
    response = web.post("/api/v1/recurring-invoice/", json={
        "client_id": client.id, "frequency": "quarterly", "start_date": "2026-01-01", "auto_send": True,
        "lines": [{"description": "Canone", "unit_price": "120.00", "quantity": 1}]}, headers=headers)
    assert response.status_code == 201, response.get_json()
    result = response.get_json()["result"]
    assert {key: result[key] for key in ("client_id", "frequency", "start_date", "end_date", "auto_send",
                                         "next_date", "last_invoice_id", "active")} == {
        "client_id": client.id, "frequency": "quarterly", "start_date": "2026-01-01", "end_date": None,
        "auto_send": True, "next_date": "2026-01-01", "last_invoice_id": None, "active": True}
    assert result["lines"][0]["unit_price"] == "120.00" and result["lines"][0]["tax_rate"] is None

    response = web.put(f"/api/v1/recurring-invoice/{result['id']}", json={"next_date": "2030-01-01"},
                       headers=headers)
    assert response.status_code == 422 and set(response.get_json()["message"]) == {"next_date"}
    response = web.put(f"/api/v1/recurring-invoice/{result['id']}", json={"active": False}, headers=headers)
    assert response.status_code == 200 and response.get_json()["result"]["status"] == "paused"


def test_the_api_refuses_a_bad_schedule_per_field(web):
    client = make_client()
    db.session.commit()
    response = web.post("/api/v1/recurring-invoice/", json={
        "client_id": client.id, "frequency": "daily", "start_date": "2026-01-01",
        "lines": [{"product_id": 987654}]}, headers=api_headers(web))
    assert response.status_code == 422
    assert {"frequency", "lines.0.product_id"} <= set(response.get_json()["message"])
    assert db.session.scalars(select(RecurringInvoice)).all() == []


# --- the admin ----------------------------------------------------------------------------


@pytest.fixture
def staff(web):
    login(web, make_staff_user("Billing").username)
    web.get("/lang/en")
    return web


def test_a_schedule_is_made_from_the_client_page_and_shown_there(staff):
    client = make_client("Studio Bianchi")
    db.session.commit()
    page = staff.get(f"/clients/{client.id}/dashboard").get_data(as_text=True)
    assert f"/recurringinvoiceview/add?client_id={client.id}" in page
    response = staff.post(f"/recurringinvoiceview/add?client_id={client.id}", data={
        "frequency": "monthly", "start_date": "2026-01-05", "end_date": "", "notes": "",
        "lines-0-description": "Retainer", "lines-0-quantity": "1", "lines-0-unit_price": "500",
        "lines-0-discount": "0", "lines-0-tax_rate": "22", "lines-0-product_id": ""})
    assert response.status_code == 302, response.get_data(as_text=True)
    made = db.session.scalars(select(RecurringInvoice)).one()
    assert (made.client_id, made.next_date, made.lines[0].unit_price) == (client.id, JAN_5, Decimal("500.00"))
    page = staff.get(f"/clients/{client.id}/dashboard").get_data(as_text=True)
    assert f"/recurringinvoiceview/show/{made.id}" in page and "Monthly" in page


def test_the_form_keeps_a_zero_rate_lines_nature_and_refuses_one_without(staff):
    client = make_client()
    db.session.commit()
    form = {"frequency": "monthly", "start_date": "2026-01-05", "end_date": "", "notes": "",
            "lines-0-description": "Cessione UE", "lines-0-quantity": "1", "lines-0-unit_price": "100",
            "lines-0-discount": "0", "lines-0-tax_rate": "0", "lines-0-product_id": "", "lines-0-vat_nature": ""}
    response = staff.post(f"/recurringinvoiceview/add?client_id={client.id}", data=form)
    assert response.status_code == 200 and "needs a VAT nature" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(RecurringInvoice.id))) == 0

    response = staff.post(f"/recurringinvoiceview/add?client_id={client.id}",
                          data={**form, "lines-0-vat_nature": "N2.2"})
    assert response.status_code == 302, response.get_data(as_text=True)
    made = db.session.scalars(select(RecurringInvoice)).one()
    assert made.lines[0].vat_nature == "N2.2"
    page = staff.get(f"/recurringinvoiceview/edit/{made.id}").get_data(as_text=True)
    assert '<option selected value="N2.2">' in page or 'value="N2.2" selected' in page


def test_the_edit_form_moves_the_start_only_before_the_first_invoice(staff):
    plan = schedule()
    form = {"frequency": "monthly", "start_date": "2026-02-01", "end_date": "", "notes": "",
            "lines-0-description": "Canone mensile", "lines-0-quantity": "1", "lines-0-unit_price": "300",
            "lines-0-discount": "0", "lines-0-tax_rate": "22", "lines-0-product_id": ""}
    assert staff.post(f"/recurringinvoiceview/edit/{plan.id}", data=form).status_code == 302
    db.session.expire_all()
    assert db.session.get(RecurringInvoice, plan.id).next_date == dt.date(2026, 2, 1)

    recurring.generate_due(dt.date(2026, 2, 1))
    response = staff.post(f"/recurringinvoiceview/edit/{plan.id}", data={**form, "start_date": "2026-03-01"},
                          follow_redirects=True)
    assert "the start date can no longer change" in response.get_data(as_text=True), db.session.get(RecurringInvoice, plan.id).start_date
    db.session.expire_all()
    assert db.session.get(RecurringInvoice, plan.id).start_date == dt.date(2026, 2, 1)
    assert "Canone mensile" in staff.get(f"/recurringinvoiceview/show/{plan.id}").get_data(as_text=True)


def test_pause_resume_and_end_are_actions(staff):
    plan = schedule(start=dt.date.today())
    staff.post(f"/recurringinvoiceview/action/pause/{plan.id}")
    db.session.expire_all()
    assert db.session.get(RecurringInvoice, plan.id).status == "paused"
    staff.post(f"/recurringinvoiceview/action/resume/{plan.id}")
    db.session.expire_all()
    assert db.session.get(RecurringInvoice, plan.id).status == "active"
    staff.post(f"/recurringinvoiceview/action/end/{plan.id}")
    db.session.expire_all()
    assert db.session.get(RecurringInvoice, plan.id).status == "ended"
    response = staff.post(f"/recurringinvoiceview/action/resume/{plan.id}", follow_redirects=True)
    assert "This schedule has ended." in response.get_data(as_text=True)


def test_the_api_lists_and_reads_schedules_with_their_status(web):
    plan = schedule()
    recurring.generate_due(JAN_5)
    headers = api_headers(web)
    listed = web.get("/api/v1/recurring-invoice/", headers=headers)
    assert listed.status_code == 200, listed.get_json()
    [item] = listed.get_json()["result"]
    assert (item["id"], item["status"], item["next_date"]) == (plan.id, "active", "2026-02-05")
    one = web.get(f"/api/v1/recurring-invoice/{plan.id}", headers=headers).get_json()["result"]
    assert one["last_invoice_id"] == invoices()[0].id and one["lines"][0]["description"] == "Canone mensile"
