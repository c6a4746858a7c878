"""RQ on the real Redis: a queue of the test's own (the `rq_queue` fixture) and a burst worker."""
from __future__ import annotations

import os
import uuid

import pytest

from app.jobs import queue
from app.worker import build_worker

TEST_REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/15"


@pytest.fixture
def rq_queue(app, monkeypatch):
    """The app switched to RQ on the real Redis, on a queue of this test's own."""
    monkeypatch.setitem(app.config, "REDIS_URL", TEST_REDIS_URL)
    monkeypatch.setitem(app.config, "JOBS_QUEUE", f"clientela-test-{uuid.uuid4().hex[:10]}")
    job_queue = queue()
    yield job_queue
    for registry in (job_queue.scheduled_job_registry, job_queue.failed_job_registry,
                     job_queue.finished_job_registry):
        for job_id in registry.get_job_ids():
            registry.remove(job_id, delete_job=True)
    job_queue.delete(delete_jobs=True)


def run_worker(app) -> None:
    """An RQ SimpleWorker in burst mode: runs every job waiting now (and requeued retries)."""
    build_worker(app, simple=True).work(burst=True)
