"""Background jobs: dispatched only once the transaction that asked for them commits, retried
when they fail, idempotent; run by RQ workers on the real Redis, or inline without it."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from rq.job import Job, JobStatus

from app.billing.models import DocumentPdf
from app.clients.models import Client
from app.extensions import db
from app.jobs import enqueue
from app.pdf import render
from app.pdf.service import request_render
from tests.support.factories import make_client, make_invoice
from tests.support.jobs import TEST_REDIS_URL, run_worker

ROOT = Path(__file__).resolve().parents[2]

# What the jobs below did; RQ's SimpleWorker runs them in this process, so they can report here.
CALLS: list[tuple] = []


def note_client_name(client_id: int) -> None:
    """A job that reads a committed row in its own session."""
    CALLS.append(("client", db.session.get(Client, client_id).name))


def fail_once(tag: str) -> None:
    """Fails on its first attempt (a dropped connection), succeeds after."""
    CALLS.append(("attempt", tag))
    if len(CALLS) == 1:
        raise ConnectionError("the SMTP server went away")


def always_fail(tag: str) -> None:
    CALLS.append(("attempt", tag))
    raise ConnectionError("still down")


@pytest.fixture(autouse=True)
def _fresh_calls():
    CALLS.clear()
    yield
    CALLS.clear()


@pytest.fixture
def renders(monkeypatch) -> list[int]:
    """Counts real wkhtmltopdf runs, output untouched."""
    runs: list[int] = []
    real = render.html_to_pdf

    def counting(html: str) -> bytes:
        runs.append(1)
        return real(html)

    monkeypatch.setattr(render, "html_to_pdf", counting)
    return runs


# --- inline (no REDIS_URL, the embedded default) -----------------------------------------------

def test_inline_a_job_runs_after_the_commit_and_sees_the_committed_rows():
    client = make_client("Rossi S.p.A.")
    enqueue(note_client_name, client.id)

    assert CALLS == []  # not while the transaction is open
    db.session.commit()
    assert CALLS == [("client", "Rossi S.p.A.")]


def test_inline_a_rolled_back_transaction_runs_no_job():
    client = make_client()
    enqueue(note_client_name, client.id)
    db.session.rollback()
    db.session.commit()

    assert CALLS == []


def test_inline_a_job_that_raises_is_retried_and_the_request_still_succeeds():
    client = make_client("Bianchi S.r.l.")
    enqueue(fail_once, "receipt")
    db.session.commit()

    assert CALLS == [("attempt", "receipt"), ("attempt", "receipt")]
    assert db.session.get(Client, client.id).name == "Bianchi S.r.l."


def test_inline_a_job_that_keeps_failing_gives_up_after_three_attempts():
    make_client()
    enqueue(always_fail, "reminder")
    db.session.commit()

    assert len(CALLS) == 3


def test_inline_a_pdf_asked_for_twice_is_rendered_once(renders):
    invoice = make_invoice(finalize=True)
    request_render(invoice)
    request_render(invoice)  # e.g. finalized, then a note edited, in one request
    db.session.commit()
    request_render(invoice)  # a later request, nothing changed
    db.session.commit()

    assert len(renders) == 1
    assert db.session.query(DocumentPdf).filter_by(document_id=invoice.id).count() == 1


# --- RQ on the real Redis ----------------------------------------------------------------------

def test_with_redis_a_job_is_queued_only_when_the_transaction_commits(rq_queue):
    client = make_client()
    enqueue(note_client_name, client.id)
    assert rq_queue.count == 0

    db.session.rollback()
    db.session.commit()
    assert rq_queue.count == 0

    client = make_client("Verdi S.n.c.")
    enqueue(note_client_name, client.id)
    db.session.commit()
    assert rq_queue.count == 1


def test_with_redis_the_worker_runs_jobs_in_an_app_context_on_committed_rows(app, rq_queue):
    client = make_client("Neri S.r.l.")
    enqueue(note_client_name, client.id)
    db.session.commit()

    run_worker(app)

    assert CALLS == [("client", "Neri S.r.l.")]
    assert rq_queue.count == 0


def test_with_redis_a_job_that_raises_is_retried(app, rq_queue, monkeypatch):
    monkeypatch.setitem(app.config, "JOB_RETRY_INTERVALS", [0, 0])  # no waiting in a test
    make_client()
    enqueue(fail_once, "invoice-email")
    db.session.commit()
    job_id = rq_queue.job_ids[0]

    run_worker(app)

    assert CALLS == [("attempt", "invoice-email"), ("attempt", "invoice-email")]
    assert Job.fetch(job_id, connection=rq_queue.connection).get_status() == JobStatus.FINISHED


def test_with_redis_a_failed_job_waits_and_backs_off_before_its_next_attempt(app, rq_queue):
    make_client()
    enqueue(always_fail, "reminder")
    db.session.commit()
    job_id = rq_queue.job_ids[0]

    run_worker(app)

    job = Job.fetch(job_id, connection=rq_queue.connection)
    assert len(CALLS) == 1
    assert job.get_status() == JobStatus.SCHEDULED
    assert job_id in rq_queue.scheduled_job_registry.get_job_ids()
    assert job.retries_left == 4 and job.retry_intervals == [10, 30, 60, 300, 900]


def test_with_redis_the_pdf_job_run_twice_renders_once(app, rq_queue, renders):
    invoice = make_invoice(finalize=True)
    request_render(invoice)
    db.session.commit()
    request_render(invoice)  # a second request for the same, unchanged document
    db.session.commit()
    assert rq_queue.count == 2

    run_worker(app)

    assert len(renders) == 1
    db.session.expire_all()
    assert db.session.query(DocumentPdf).filter_by(document_kind="invoice", document_id=invoice.id).count() == 1


def test_the_worker_command_renders_a_pdf_in_a_forked_work_horse(app, rq_queue):
    invoice = make_invoice(finalize=True)
    request_render(invoice)
    db.session.commit()

    env = dict(os.environ, DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"], REDIS_URL=TEST_REDIS_URL,
               JOBS_QUEUE=app.config["JOBS_QUEUE"])
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "clientela", "worker", "--burst"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)

    assert result.returncode == 0, result.stderr[-2000:]
    assert rq_queue.count == 0 and rq_queue.failed_job_registry.count == 0, result.stderr[-2000:]
    db.session.expire_all()
    stored = db.session.query(DocumentPdf).filter_by(document_kind="invoice", document_id=invoice.id).one()
    assert stored.content.startswith(b"%PDF-")


def test_the_worker_command_refuses_to_start_without_redis(app):
    result = app.test_cli_runner().invoke(args=["clientela", "worker", "--burst"])

    assert result.exit_code != 0
    assert "REDIS_URL" in result.output
