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
from app.billing.accounts import (
    ClientAccount,
    account_aggregates,
    client_summary,
    mark_overdue_invoices,
    rebuild_accounts,
)
from app.billing.models import Invoice, Quote
from app.extensions import db
from tests.support.factories import TODAY, line, make_client, make_invoice, run_concurrently
from tests.support.stories import DocumentStory

ZERO_ACCOUNT = {"total_invoiced": Decimal("0.00"), "total_paid": Decimal("0.00"), "balance_due": Decimal("0.00"),
                "overdue_balance": Decimal("0.00"), "total_credited": Decimal("0.00")}
# Not a figure: a cache key that only ever moves forward (tested on its own below).
NOT_AGGREGATED = {"client_id", "version"}


def stored_accounts() -> dict[int, dict[str, object]]:
    """The rollup rows as stored, without the all-zero ones (a client whose last document left)."""
    rows = {}
    for row in db.session.execute(select(ClientAccount.__table__)).mappings():
        figures = {key: value for key, value in row.items() if key not in NOT_AGGREGATED}
        figures.update({key: Decimal(str(figures[key])).quantize(Decimal("0.01")) for key in ZERO_ACCOUNT})
        if any(figures.values()):
            rows[row["client_id"]] = figures
    return rows


def recomputed_accounts() -> dict[int, dict[str, object]]:
    """The same figures aggregated from the documents, every column filled."""
    stored_columns = [column.key for column in ClientAccount.__table__.columns if column.key not in NOT_AGGREGATED]
    rows = {}
    for client_id, figures in account_aggregates().items():
        full = {column: figures.get(column, 0) for column in stored_columns}
        if any(full.values()):
            rows[client_id] = full
    return rows


def assert_rollups_match(step: str = "") -> None:
    db.session.flush()
    assert stored_accounts() == recomputed_accounts(), step


def summary_from_the_documents(client_id: int, today: dt.date) -> dict[str, object]:
    """What client_summary must answer, read the slow way: every document of the client."""
    invoices = db.session.scalars(select(Invoice).where(Invoice.client_id == client_id)).all()
    quotes = db.session.scalars(select(Quote).where(Quote.client_id == client_id)).all()
    counts: dict[str, int] = {}
    for invoice in invoices:
        # The summary counts stored statuses, overdue apart; "issued" (finalized, not yet
        # emailed) is how a sent invoice reads to people, not a status of its own.
        shown = invoice.display_status(today)
        shown = "sent" if shown == "issued" else shown
        counts[shown] = counts.get(shown, 0) + 1
    quote_counts: dict[str, int] = {}
    for quote in quotes:
        shown = "expired" if quote.status == "sent" and quote.valid_until < today else quote.status
        quote_counts[shown] = quote_counts.get(shown, 0) + 1
    billed = [invoice for invoice in invoices if invoice.status in ("sent", "partial", "paid")]
    return {
        "total_invoiced": sum((invoice.total for invoice in billed), Decimal("0.00")),
        "total_paid": sum((invoice.amount_paid for invoice in billed), Decimal("0.00")),
        "total_credited": sum((invoice.amount_credited for invoice in billed), Decimal("0.00")),
        "balance_due": sum((i.balance for i in invoices if i.status in ("sent", "partial")), Decimal("0.00")),
        "overdue": sum((i.balance for i in invoices if i.is_overdue(today)), Decimal("0.00")),
        "invoices": counts,
        "quotes": quote_counts,
    }


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

    story = DocumentStory(rng)
    some = story.some

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

    def cancel():
        if invoice := some(Invoice, Invoice.status.in_(("draft", "sent"))):
            if not invoice.payments:
                billing.cancel_invoice(invoice)

    def mark_overdue():
        mark_overdue_invoices(TODAY)

    def move_due_date():
        if invoice := some(Invoice, Invoice.status.in_(("sent", "partial"))):
            invoice.due_date = TODAY + dt.timedelta(days=rng.randint(-20, 20))

    def commit():
        db.session.commit()

    steps = [create_invoice] * 4 + [create_quote] * 2 + [
        finalize_invoice, finalize_invoice, edit_draft, move_draft_to_another_client, delete_draft, pay, pay, story.refund,
        cancel, story.send_quote, story.decide_quote, story.convert_quote, story.expire_quotes, mark_overdue,
        mark_overdue, move_due_date, commit,
    ]
    for number in range(160):
        step = rng.choice(steps)
        step()
        assert_rollups_match(f"step {number}: {step.__name__}")
        for client_id in client_ids:
            for today in (TODAY, TODAY + dt.timedelta(days=15)):
                assert client_summary(client_id, today) == summary_from_the_documents(client_id, today), (
                    f"step {number}: {step.__name__}, client {client_id}, {today}")
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


def account_row(client_id: int) -> dict[str, object]:
    return dict(db.session.execute(
        select(ClientAccount.__table__).where(ClientAccount.client_id == client_id)
    ).mappings().one())


def test_marking_overdue_moves_invoices_in_the_rollup_and_leaves_the_summary_as_it_was(app):
    client = make_client()
    late = make_invoice(client, finalize=True, issue_date=TODAY - dt.timedelta(days=40),
                        due_date=TODAY - dt.timedelta(days=10))
    billing.record_payment(late, amount="22.00")
    make_invoice(client, finalize=True, due_date=TODAY + dt.timedelta(days=10))
    db.session.commit()
    client_id, late_id = client.id, late.id
    before = client_summary(client_id, TODAY)

    result = app.test_cli_runner().invoke(args=["clientela", "mark-overdue"], catch_exceptions=False)

    assert "Marked 1 invoice(s) overdue." in result.output
    db.session.expire_all()
    account = account_row(client_id)
    assert (account["invoices_overdue"], account["invoices_partial"], account["invoices_sent"]) == (1, 0, 1)
    assert account["overdue_balance"] == Decimal("100.00")
    assert client_summary(client_id, TODAY) == before == {
        "total_invoiced": Decimal("244.00"), "total_paid": Decimal("22.00"), "total_credited": Decimal("0.00"),
        "balance_due": Decimal("222.00"), "overdue": Decimal("100.00"), "invoices": {"sent": 1, "overdue": 1},
        "quotes": {}}
    assert mark_overdue_invoices(TODAY) == 0  # nothing left to mark: the next run reads nothing

    # A new due date is judged afresh: the mark goes, and the invoice is no longer overdue.
    late = db.session.get(Invoice, late_id)
    late.due_date = TODAY + dt.timedelta(days=5)
    db.session.commit()
    assert late.overdue_marked is False
    assert client_summary(client_id, TODAY)["invoices"] == {"sent": 1, "partial": 1}
    assert client_summary(client_id, TODAY)["overdue"] == Decimal("0.00")
    assert stored_accounts() == recomputed_accounts()


def test_a_marked_invoice_paid_in_full_leaves_the_overdue_figures():
    client = make_client()
    late = make_invoice(client, finalize=True, issue_date=TODAY - dt.timedelta(days=40),
                        due_date=TODAY - dt.timedelta(days=1))
    db.session.commit()
    assert mark_overdue_invoices(TODAY) == 1

    billing.record_payment(late, amount=late.balance)
    db.session.flush()

    account = account_row(client.id)
    assert (account["invoices_overdue"], account["invoices_paid"], account["overdue_balance"]) == (
        0, 1, Decimal("0.00"))
    assert client_summary(client.id, TODAY)["invoices"] == {"paid": 1}


def test_the_version_moves_with_every_change_to_the_clients_documents_and_never_back():
    client, other = make_client(), make_client()
    invoice = make_invoice(client, finalize=True)
    make_invoice(other, finalize=True)
    db.session.commit()
    versions = [account_row(client.id)["version"]]
    other_version = account_row(other.id)["version"]

    def changed(step: str) -> None:
        db.session.commit()
        versions.append(account_row(client.id)["version"])
        assert versions[-1] > versions[-2], step

    invoice.notes = "A change no figure depends on"
    changed("notes")
    billing.record_payment(invoice, amount="10.00")
    changed("payment")
    invoice.due_date = invoice.due_date + dt.timedelta(days=3)
    changed("due date")
    make_invoice(client)
    changed("new draft")
    rebuild_accounts()
    changed("rebuild")
    assert account_row(other.id)["version"] == other_version + 1  # the rebuild only
