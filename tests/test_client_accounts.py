"""Per-client rollups (`client_account`) stay equal to the documents they summarize.

Every change to invoices, quotes and payments moves the client's rollup row in the same
transaction; `rebuild_accounts` (and `clientela rebuild-totals`) recompute it from scratch.
A long seeded random story of creates, finalizes, payments, refunds, cancels, quote
decisions, conversions and expiry checks after every step that the row equals a fresh
aggregate over the documents.
"""
from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from app.billing import services as billing
from app.billing.accounts import ClientAccount, account_aggregates, rebuild_accounts
from app.billing.models import Invoice, Payment, Quote
from app.dashboard.queries import client_summary
from app.extensions import db
from tests.factories import TODAY, line, make_client, make_invoice, run_concurrently

ZERO_ACCOUNT = {"total_invoiced": Decimal("0.00"), "total_paid": Decimal("0.00"), "balance_due": Decimal("0.00")}


def stored_accounts() -> dict[int, dict[str, object]]:
    """The rollup rows as stored, without the all-zero ones (a client whose last document left)."""
    rows = {}
    for row in db.session.execute(select(ClientAccount.__table__)).mappings():
        figures = {key: value for key, value in row.items() if key != "client_id"}
        figures.update({key: Decimal(str(figures[key])).quantize(Decimal("0.01")) for key in ZERO_ACCOUNT})
        if any(figures.values()):
            rows[row["client_id"]] = figures
    return rows


def recomputed_accounts() -> dict[int, dict[str, object]]:
    """The same figures aggregated from the documents, every column filled."""
    stored_columns = [column.key for column in ClientAccount.__table__.columns if column.key != "client_id"]
    rows = {}
    for client_id, figures in account_aggregates().items():
        full = {column: figures.get(column, 0) for column in stored_columns}
        if any(full.values()):
            rows[client_id] = full
    return rows


def assert_rollups_match(step: str = "") -> None:
    db.session.flush()
    assert stored_accounts() == recomputed_accounts(), step


def test_a_finalized_invoice_and_its_payments_move_the_clients_rollup_in_the_same_transaction():
    client = make_client()
    invoice = make_invoice(client, lines=[line(unit_price="1000.00")])
    assert_rollups_match("draft")
    billing.finalize_invoice(invoice)
    billing.record_payment(invoice, amount="220.00")
    db.session.flush()

    account = db.session.execute(
        select(ClientAccount.__table__).where(ClientAccount.client_id == client.id)
    ).mappings().one()
    assert (account["total_invoiced"], account["total_paid"], account["balance_due"]) == (
        Decimal("1220.00"), Decimal("220.00"), Decimal("1000.00"))
    assert (account["invoices_draft"], account["invoices_partial"]) == (0, 1)

    db.session.rollback()  # the rollup goes with the transaction that changed the documents
    assert db.session.execute(select(ClientAccount.__table__)).first() is None


def test_a_seeded_random_story_keeps_every_rollup_equal_to_a_fresh_aggregate():
    rng = random.Random(20261127)
    clients = [make_client() for _ in range(3)]
    db.session.commit()
    client_ids = [client.id for client in clients]

    def some(model, *conditions):
        rows = db.session.scalars(select(model).where(*conditions).order_by(model.id)).all()
        return rng.choice(rows) if rows else None

    def create_invoice():
        client = db.session.get(type(clients[0]), rng.choice(client_ids))
        days = rng.randint(-60, 30)
        issue = TODAY + dt.timedelta(days=min(days, 0) - 5)
        billing.new_invoice(client, issue_date=issue, due_date=TODAY + dt.timedelta(days=days),
                            lines=[line(unit_price=f"{rng.randint(1, 900)}.{rng.randint(0, 99):02d}")])

    def create_quote():
        client = db.session.get(type(clients[0]), rng.choice(client_ids))
        billing.new_quote(client, issue_date=TODAY - dt.timedelta(days=40),
                          valid_until=TODAY + dt.timedelta(days=rng.choice((-5, 20))),
                          lines=[line(unit_price=str(rng.randint(1, 500)))])

    def finalize_invoice():
        if invoice := some(Invoice, Invoice.status == "draft"):
            billing.finalize_invoice(invoice)

    def edit_draft():
        if invoice := some(Invoice, Invoice.status == "draft"):
            billing.set_lines(invoice, [line(unit_price=str(rng.randint(1, 300))), line(quantity="2")])

    def move_draft_to_another_client():
        if invoice := some(Invoice, Invoice.status == "draft"):
            billing.copy_billing_block(invoice, db.session.get(type(clients[0]), rng.choice(client_ids)))

    def delete_draft():
        if invoice := some(Invoice, Invoice.status == "draft"):
            db.session.delete(invoice)

    def pay():
        if invoice := some(Invoice, Invoice.status.in_(("sent", "partial"))):
            cents = int(invoice.balance * 100)
            amount = invoice.balance if rng.random() < 0.4 else Decimal(rng.randint(1, max(cents, 1))) / 100
            billing.record_payment(invoice, amount=amount)

    def refund():
        if payment := some(Payment, Payment.refunded_payment_id.is_(None)):
            refunded = -sum((p.amount for p in db.session.scalars(
                select(Payment).where(Payment.refunded_payment_id == payment.id))), Decimal(0))
            left = payment.amount - refunded
            if left > 0:
                billing.record_refund(payment, amount=min(left, Decimal(rng.randint(1, 100))))

    def cancel():
        if invoice := some(Invoice, Invoice.status.in_(("draft", "sent"))):
            if not invoice.payments:
                billing.cancel_invoice(invoice)

    def send_quote():
        if quote := some(Quote, Quote.status == "draft"):
            billing.finalize_quote(quote)

    def decide_quote():
        if quote := some(Quote, Quote.status == "sent", Quote.valid_until >= TODAY):
            billing.decide_quote(quote, accepted=rng.random() < 0.5)

    def convert_quote():
        quote = some(Quote, Quote.status == "accepted")
        if quote and not quote.invoices:
            billing.convert_quote(quote)

    def expire_quotes():
        billing.expire_quotes()

    def commit():
        db.session.commit()

    steps = [create_invoice] * 4 + [create_quote] * 2 + [
        finalize_invoice, finalize_invoice, edit_draft, move_draft_to_another_client, delete_draft, pay, pay, refund,
        cancel, send_quote, decide_quote, convert_quote, expire_quotes, commit,
    ]
    for number in range(160):
        step = rng.choice(steps)
        step()
        assert_rollups_match(f"step {number}: {step.__name__}")
    db.session.commit()
    assert_rollups_match("after the last commit")
    assert stored_accounts(), "the story produced documents"


def test_the_summary_reads_the_rollup_and_adds_what_depends_on_today():
    client = make_client()
    make_invoice(client, finalize=True, issue_date=TODAY - dt.timedelta(days=40), due_date=TODAY - dt.timedelta(days=10))
    make_invoice(client, finalize=True, due_date=TODAY + dt.timedelta(days=10))
    db.session.commit()

    today = client_summary(client.id)
    in_a_month = client_summary(client.id, TODAY + dt.timedelta(days=30))

    assert today["invoices"] == {"sent": 1, "overdue": 1}
    assert today["overdue"] == Decimal("122.00")
    assert in_a_month["invoices"] == {"overdue": 2}
    assert in_a_month["overdue"] == Decimal("244.00")
    assert today["balance_due"] == in_a_month["balance_due"] == Decimal("244.00")


def test_rebuild_totals_repairs_rows_changed_behind_the_orms_back(app):
    client = make_client()
    invoice = make_invoice(client, finalize=True)
    billing.record_payment(invoice, amount="22.00")
    db.session.commit()
    client_id = client.id
    # A raw SQL import (or a bug) leaves the rollup behind the documents.
    db.session.execute(text("UPDATE invoice SET status = 'paid', amount_paid = total, balance = 0"))
    db.session.commit()
    assert stored_accounts() != recomputed_accounts()

    result = app.test_cli_runner().invoke(args=["clientela", "rebuild-totals"], catch_exceptions=False)

    assert result.exit_code == 0
    assert "1 clients" in result.output
    db.session.expire_all()
    assert stored_accounts() == recomputed_accounts()
    assert client_summary(client_id)["invoices"] == {"paid": 1}
    assert client_summary(client_id)["balance_due"] == Decimal("0.00")


def test_rebuilding_some_clients_leaves_the_others_alone():
    first, second = make_client(), make_client()
    make_invoice(first, finalize=True)
    make_invoice(second, finalize=True)
    db.session.commit()
    ids = first.id, second.id
    db.session.execute(text("UPDATE client_account SET balance_due = 1"))

    assert rebuild_accounts([ids[0]]) == 1

    balances = dict(db.session.execute(select(ClientAccount.client_id, ClientAccount.balance_due)).all())
    assert balances[ids[0]] == Decimal("122.00")
    assert balances[ids[1]] == Decimal("1.00")


@pytest.mark.postgres_only
def test_concurrent_payments_for_one_client_all_reach_its_rollup(app):
    """Twenty transactions pay twenty invoices of one client at the same moment: the rollup
    adds each delta in SQL, so none is lost (read, add in Python, write back would lose some)."""
    client = make_client()
    invoice_ids = [make_invoice(client, finalize=True).id for _ in range(20)]
    db.session.commit()
    client_id = client.id

    def pay(index: int) -> None:
        billing.record_payment(db.session.get(Invoice, invoice_ids[index]), amount="100.00")
        db.session.commit()

    outcomes = run_concurrently(app, len(invoice_ids), pay)

    assert [outcome for outcome in outcomes if outcome is not None] == []
    db.session.expire_all()
    assert stored_accounts() == recomputed_accounts()
    summary = client_summary(client_id)
    assert summary["total_paid"] == Decimal("2000.00")
    assert summary["invoices"] == {"partial": 20}
