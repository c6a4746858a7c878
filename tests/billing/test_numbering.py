"""Invoice and quote numbers: gapless, progressive per year, formatted by the company's format."""
from __future__ import annotations

import datetime as dt
import pytest
from sqlalchemy import select

from app.billing import services as billing
from app.billing.models import Invoice, NumberSequence
from app.billing.numbering import format_number, next_number
from app.company.services import get_company
from app.extensions import db
from tests.support.factories import make_client, make_invoice, make_quote, run_concurrently

MAY_2026 = dt.date(2026, 5, 4)


def test_the_default_format_is_year_slash_four_digit_sequence(app):
    numbers = [make_invoice(issue_date=MAY_2026, finalize=True).number for _ in range(3)]
    assert numbers == ["2026/0001", "2026/0002", "2026/0003"]


def test_the_company_numbering_format_is_applied(app):
    get_company().invoice_number_format = "FT-{yy}-{seq:03d}"
    assert make_invoice(issue_date=MAY_2026, finalize=True).number == "FT-26-001"


def test_format_number_understands_year_short_year_and_sequence():
    assert format_number("{year}/{seq:04d}", 2026, 7) == "2026/0007"
    assert format_number("{seq}/{yy}", 2026, 12) == "12/26"


def test_numbers_restart_every_year(app):
    last_of_2025 = make_invoice(issue_date=dt.date(2025, 12, 31), finalize=True)
    first_of_2026 = make_invoice(issue_date=dt.date(2026, 1, 1), finalize=True)
    second_of_2025 = make_invoice(issue_date=dt.date(2025, 12, 31), finalize=True)
    assert (last_of_2025.number, second_of_2025.number) == ("2025/0001", "2025/0002")
    assert first_of_2026.number == "2026/0001"
    assert (first_of_2026.year, first_of_2026.sequence) == (2026, 1)


def test_quotes_have_their_own_sequence(app):
    client = make_client()
    invoice = make_invoice(client, issue_date=MAY_2026, finalize=True)
    quote = make_quote(client, issue_date=MAY_2026, finalize=True)
    assert invoice.number == "2026/0001"
    assert quote.number == "P2026/0001"
    assert quote.status == "sent"


def test_drafts_take_no_number_so_deleting_one_leaves_no_gap(app):
    make_invoice(issue_date=MAY_2026, finalize=True)
    draft = make_invoice(issue_date=MAY_2026)
    db.session.delete(draft)
    assert make_invoice(issue_date=MAY_2026, finalize=True).number == "2026/0002"


def test_a_failure_after_the_number_was_taken_leaves_no_gap(app):
    client = make_client()
    make_invoice(client, issue_date=MAY_2026, finalize=True)
    db.session.commit()

    doomed = make_invoice(client, issue_date=MAY_2026)
    db.session.commit()
    billing.finalize_invoice(doomed)
    assert doomed.number == "2026/0002"
    db.session.rollback()  # e.g. the PDF job could not be queued: the whole request fails

    db.session.expire_all()
    assert db.session.get(Invoice, doomed.id).number is None
    assert make_invoice(client, issue_date=MAY_2026, finalize=True).number == "2026/0002"


def test_next_number_can_reserve_a_block(app):
    assert next_number("invoice", 2030) == 1
    assert next_number("invoice", 2030, count=10) == 2
    assert next_number("invoice", 2030) == 12


# --- real concurrency: only PostgreSQL has the row locks these rely on -----------------------


def drafts(count: int) -> list[int]:
    get_company()
    client = make_client()
    ids = [make_invoice(client, issue_date=MAY_2026).id for _ in range(count)]
    db.session.commit()
    return ids


@pytest.mark.postgres_only
def test_twenty_invoices_finalized_concurrently_get_contiguous_unique_numbers(app):
    ids = drafts(20)

    def finalize(index: int) -> str:
        billing.finalize_invoice(db.session.get(Invoice, ids[index]))
        db.session.commit()
        return "finalized"

    assert run_concurrently(app, 20, finalize) == ["finalized"] * 20
    db.session.expire_all()
    sequences = sorted(db.session.scalars(select(Invoice.sequence).where(Invoice.id.in_(ids))))
    numbers = set(db.session.scalars(select(Invoice.number).where(Invoice.id.in_(ids))))
    assert sequences == list(range(1, 21))
    assert numbers == {f"2026/{n:04d}" for n in range(1, 21)}


@pytest.mark.postgres_only
def test_concurrent_finalizations_that_fail_after_taking_a_number_leave_no_gap(app):
    ids = drafts(16)

    def finalize_or_fail(index: int) -> str:
        billing.finalize_invoice(db.session.get(Invoice, ids[index]))
        if index % 4 == 0:
            raise RuntimeError("failed after the number was taken")
        db.session.commit()
        return "finalized"

    outcomes = run_concurrently(app, 16, finalize_or_fail)
    assert [type(o).__name__ if isinstance(o, BaseException) else o for o in outcomes] == [
        "RuntimeError" if i % 4 == 0 else "finalized" for i in range(16)
    ]
    db.session.expire_all()
    sequences = sorted(s for s in db.session.scalars(select(Invoice.sequence).where(Invoice.id.in_(ids))) if s)
    assert sequences == list(range(1, 13))
    counter = db.session.scalars(select(NumberSequence.last_value).where(NumberSequence.kind == "invoice")).one()
    assert counter == 12
