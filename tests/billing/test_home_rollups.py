"""The home dashboard's figures come from rollups (`app.billing.rollups`, the client balances
of `app.billing.accounts`) that stay equal to the documents they summarize.

After every kind of change (finalize, payment, refund, credit note, cancel, the overdue task,
quotes sent, decided and expired, a client deleted, a rolled-back savepoint) what the home
page shows equals a slow read of every document, and `clientela check-totals` agrees.
"""
from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update

from app.billing import services as billing
from app.billing.accounts import ClientBalance
from app.billing.aging import AGING_KEYS, bucket_of
from app.billing.models import CreditNote, Invoice, Payment, Quote
from app.billing.periodic import mark_overdue_job
from app.billing.rollups import ReceivableDay, fold_old_receivables, home_rollup_differences
from app.clients.models import Client
from app.dashboard import queries
from app.extensions import db
from tests.support.factories import TODAY, line, make_client, make_invoice, make_quote, run_concurrently
from tests.support.stories import DocumentStory

ZERO = Decimal("0.00")


def home_from_the_documents(today: dt.date) -> dict[str, object]:
    """The home page's figures read the slow way: every document, summed in Python."""
    invoices = db.session.scalars(select(Invoice)).all()
    receivables: dict[str, dict[str, object]] = {}
    balances: dict[tuple[str, int], tuple[Decimal, int]] = {}
    for invoice in invoices:
        if invoice.status not in ("sent", "partial"):
            continue
        entry = receivables.setdefault(invoice.currency, {"total": ZERO, "open": 0, "overdue": ZERO, "late": 0,
                                                          "aging": {key: ZERO for key in AGING_KEYS}})
        entry["total"] += invoice.balance
        entry["open"] += 1
        entry["aging"][bucket_of(today, invoice.due_date)] += invoice.balance
        if invoice.is_overdue(today):
            entry["overdue"] += invoice.balance
            entry["late"] += 1
        balance, count = balances.get((invoice.currency, invoice.client_id), (ZERO, 0))
        balances[(invoice.currency, invoice.client_id)] = (balance + invoice.balance, count + 1)
    revenue: dict[tuple[str, dt.date], Decimal] = {}
    for payment in db.session.scalars(select(Payment)):
        key = (payment.currency, payment.date.replace(day=1))
        revenue[key] = revenue.get(key, ZERO) + payment.amount
    names = dict(db.session.execute(select(Client.id, Client.name)).all())
    top = {currency: [(names[client_id], balance, count) for (cur, client_id), (balance, count) in
                      sorted(balances.items(), key=lambda item: (-item[1][0], item[0][1])) if cur == currency][:10]
           for currency in receivables}
    awaiting = sum(1 for quote in db.session.scalars(select(Quote))
                   if quote.status == "sent" and quote.valid_until >= today)
    return {"receivables": receivables, "revenue": revenue, "top": top, "quotes_awaiting": awaiting}


def home_from_the_rollups(today: dt.date) -> dict[str, object]:
    """The same figures as the home page reads them."""
    receivables = {
        currency: {"total": entry.total, "open": entry.open_count, "overdue": entry.overdue_total,
                   "late": entry.overdue_count, "aging": entry.aging}
        for currency, entry in queries.receivables(today).items()
    }
    currencies = set(receivables) | {"EUR", "USD"}
    revenue = {(currency, month): amount for currency in currencies
               for month, amount in queries.revenue_by_month(currency, today, months=24) if amount}
    top = {currency: [(row["name"], row["balance_due"], row["open_invoices"])
                      for row in queries.top_clients_by_balance(currency)] for currency in receivables}
    return {"receivables": receivables, "revenue": revenue, "top": top,
            "quotes_awaiting": queries.quotes_awaiting_answer(today=today)["count"]}


def assert_home_matches(step: str, today: dt.date = TODAY) -> None:
    db.session.expire_all()
    slow = home_from_the_documents(today)
    window = {month for month, _amount in queries.revenue_by_month("EUR", today, months=24)}
    slow["revenue"] = {key: amount for key, amount in slow["revenue"].items() if key[1] in window and amount}
    assert home_from_the_rollups(today) == slow, step
    assert home_rollup_differences(today) == [], step


def test_a_seeded_random_story_keeps_the_home_figures_equal_to_a_slow_read_of_the_documents():
    rng = random.Random(20261202)
    clients = [make_client(), make_client(), make_client(currency="USD")]
    db.session.commit()
    client_ids = [client.id for client in clients]

    story = DocumentStory(rng)
    some = story.some

    def a_client() -> Client:
        return db.session.get(Client, rng.choice(client_ids))

    def create_invoice():
        client = a_client()
        days = rng.choice((-200, -95, -70, -40, -10, -1, 0, 5, 30))
        invoice = billing.new_invoice(client, issue_date=min(TODAY, TODAY + dt.timedelta(days=days)),
                                      due_date=TODAY + dt.timedelta(days=days),
                                      lines=[line(unit_price=f"{rng.randint(1, 900)}.{rng.randint(0, 99):02d}")])
        invoice.currency = client.currency

    def create_quote():
        billing.new_quote(a_client(), issue_date=TODAY - dt.timedelta(days=40),
                          valid_until=TODAY + dt.timedelta(days=rng.choice((-5, 20))),
                          lines=[line(unit_price=str(rng.randint(1, 500)))])

    def finalize_invoice():
        if invoice := some(Invoice, Invoice.status == "draft"):
            billing.finalize_invoice(invoice)

    def pay():
        if invoice := some(Invoice, Invoice.status.in_(("sent", "partial"))):
            cents = int(invoice.balance * 100)
            amount = invoice.balance if rng.random() < 0.4 else Decimal(rng.randint(1, max(cents, 1))) / 100
            billing.record_payment(invoice, amount=amount, date=TODAY - dt.timedelta(days=rng.choice((0, 35, 70))))

    def credit_note():
        invoice = some(Invoice, Invoice.status.in_(("sent", "partial")))
        if invoice and billing.left_to_credit(invoice) > 0:
            note = billing.create_credit_note(invoice, "Sconto concordato",
                                              [line(unit_price=str(min(10, billing.left_to_credit(invoice))))])
            billing.finalize_credit_note(note)

    def cancel():
        invoice = some(Invoice, Invoice.status.in_(("draft", "sent")))
        if invoice and not invoice.payments and not db.session.scalar(
                select(func.count()).select_from(CreditNote).where(CreditNote.invoice_id == invoice.id)):
            billing.cancel_invoice(invoice)

    def overdue_task():
        mark_overdue_job()

    def move_due_date():
        if invoice := some(Invoice, Invoice.status.in_(("sent", "partial"))):
            invoice.due_date = TODAY + dt.timedelta(days=rng.randint(-120, 20))

    def delete_a_client_without_documents():
        client = make_client()
        db.session.commit()
        db.session.delete(client)

    def change_then_roll_back():
        if invoice := some(Invoice, Invoice.status.in_(("sent", "partial"))):
            billing.record_payment(invoice, amount="0.01")
            db.session.rollback()

    def payment_in_a_savepoint_rolled_back():
        if invoice := some(Invoice, Invoice.status.in_(("sent", "partial"))):
            savepoint = db.session.begin_nested()
            billing.record_payment(invoice, amount="0.01")
            db.session.flush()
            savepoint.rollback()

    steps = [create_invoice] * 4 + [create_quote] * 2 + [finalize_invoice] * 3 + [pay] * 2 + [
        story.refund, credit_note, cancel, story.send_quote, story.decide_quote, story.convert_quote,
        story.expire_quotes, overdue_task, move_due_date, delete_a_client_without_documents, change_then_roll_back,
        payment_in_a_savepoint_rolled_back,
    ]
    for number in range(120):
        step = rng.choice(steps)
        step()
        db.session.commit()
        assert_home_matches(f"step {number}: {step.__name__}")
    assert_home_matches("a month on", TODAY + dt.timedelta(days=31))
    figures = home_from_the_documents(TODAY)
    assert figures["receivables"] and figures["revenue"], "the story produced open invoices and payments"


def test_the_overdue_task_folds_old_days_into_one_row_and_the_figures_stay():
    client = make_client()
    for days in (-400, -300, -200, -150, -93, -60, 10):
        make_invoice(client, finalize=True, issue_date=TODAY + dt.timedelta(days=min(days, 0)),
                     due_date=TODAY + dt.timedelta(days=days))
    db.session.commit()
    before = home_from_the_rollups(TODAY)
    assert before["receivables"]["EUR"]["aging"]["90_plus"] == Decimal("610.00")

    mark_overdue_job()

    rows = db.session.scalars(select(ReceivableDay.due_date).order_by(ReceivableDay.due_date)).all()
    assert rows == [TODAY - dt.timedelta(days=92), TODAY - dt.timedelta(days=60), TODAY + dt.timedelta(days=10)]
    assert home_from_the_rollups(TODAY) == before
    assert fold_old_receivables() == 0  # nothing older left: the next run reads nothing
    # A payment on an invoice of a folded day still counts, on a row of its own.
    oldest = db.session.scalar(select(Invoice).order_by(Invoice.due_date))
    billing.record_payment(oldest, amount="122.00")
    db.session.commit()
    assert_home_matches("after paying a folded invoice")


def test_nothing_reaches_the_rollups_until_the_commit_and_a_rollback_leaves_them():
    client = make_client()
    make_invoice(client, finalize=True)
    db.session.flush()
    assert queries.receivables(TODAY) == {}  # applied just before the commit, in one lock order
    db.session.rollback()
    assert queries.receivables(TODAY) == {}
    make_invoice(make_client(), finalize=True)
    db.session.commit()
    assert queries.receivables(TODAY)["EUR"].total == Decimal("122.00")


def test_check_totals_names_a_drifted_row_and_rebuild_totals_repairs_it(app):
    client = make_client("Rossi")
    billing.record_payment(make_invoice(client, finalize=True), amount="22.00")
    make_quote(client, finalize=True)
    db.session.commit()
    runner = app.test_cli_runner()
    assert runner.invoke(args=["clientela", "check-totals"]).exit_code == 0

    db.session.execute(update(ReceivableDay).values(balance=ReceivableDay.balance + 5))
    db.session.execute(update(ClientBalance).values(balance_due=ClientBalance.balance_due + 5))
    db.session.commit()
    result = runner.invoke(args=["clientela", "check-totals"])
    assert result.exit_code == 1
    assert "receivables ('EUR', 'current'): rollup (1, Decimal('105.00')), documents (1, Decimal('100.00'))" \
        in result.output
    assert "client balance" in result.output

    result = runner.invoke(args=["clientela", "rebuild-totals"], catch_exceptions=False)
    assert "Rebuilt the totals of 1 clients" in result.output
    result = runner.invoke(args=["clientela", "check-totals"], catch_exceptions=False)
    assert result.exit_code == 0 and "Every rollup agrees with the documents." in result.output
    assert queries.top_clients_by_balance("EUR")[0]["balance_due"] == Decimal("100.00")


@pytest.mark.postgres_only
def test_concurrent_writers_of_one_currency_neither_deadlock_nor_lose_updates(app):
    """Twenty transactions finalize and pay invoices of several clients at once, all in EUR and
    due on the same day: they share the rollup rows, which are added to in SQL, last, in one
    order, so every one commits and every delta counts."""
    clients = [make_client() for _ in range(4)]
    invoice_ids = [make_invoice(clients[index % 4], finalize=index % 2 == 0,
                                due_date=TODAY + dt.timedelta(days=30)).id for index in range(20)]
    db.session.commit()

    def work(index: int) -> None:
        invoice = db.session.get(Invoice, invoice_ids[index])
        if invoice.status == "draft":
            billing.finalize_invoice(invoice)
        else:
            billing.record_payment(invoice, amount="100.00")
        other = db.session.get(Invoice, invoice_ids[(index + 7) % 20])
        if other.status != "draft":
            billing.record_payment(billing.lock_invoice(other.id), amount="1.00")
        db.session.commit()

    outcomes = run_concurrently(app, len(invoice_ids), work)

    assert [outcome for outcome in outcomes if outcome is not None] == []
    assert_home_matches("after the concurrent writers")


def test_the_demo_generators_bulk_documents_reach_the_home_rollups():
    """The generator inserts in bulk, behind the listener, and counts its new clients' documents."""
    from app.demo import create_demo_data

    make_invoice(make_client(), finalize=True)
    db.session.commit()
    create_demo_data(clients=6, invoices_per_client=5, seed=4, einvoices=False)
    db.session.commit()
    assert home_rollup_differences(TODAY) == []
    assert_home_matches("after the demo data")
    assert queries.receivables(TODAY)["EUR"].open_count > 1  # the demo's open invoices, not only ours
