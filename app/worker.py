"""RQ workers that run every job inside a Clientela app context.

`flask --app app clientela worker` builds the app once per worker process; each job then
gets a fresh app context (hence a fresh database session, removed when the job ends), so
jobs are written like any other app code: `db.session`, `current_app`, `get_company()`.
The forking `AppWorker` is for production; `AppSimpleWorker` runs jobs in-process (tests,
platforms without fork).
"""
from __future__ import annotations

from flask import Flask
from rq import SimpleWorker, Worker

from app.extensions import db
from app.jobs import queue

MAINTENANCE_SECONDS = 60


class _AppContextMixin:
    """Wraps `perform_job` (the call that runs one job, in the work horse) in an app context."""

    app: Flask

    def __init__(self, *args, app: Flask, **kwargs):
        self.app = app
        super().__init__(*args, **kwargs)

    def perform_job(self, job, queue, execution) -> bool:
        with self.app.app_context():
            return super().perform_job(job, queue, execution)


class AppWorker(_AppContextMixin, Worker):
    """Forks a work horse per job, as RQ does by default: a job that crashes the process
    (or is killed) takes only its horse down, and RQ retries it."""

    def main_work_horse(self, job, queue):
        # Database connections must not be shared with the parent across fork().
        with self.app.app_context():
            db.engine.dispose(close=False)
        super().main_work_horse(job, queue)


class AppSimpleWorker(_AppContextMixin, SimpleWorker):
    """Runs jobs in the worker's own process."""


def build_worker(app: Flask, *, simple: bool = False, name: str | None = None) -> Worker:
    """A worker listening on the app's queue (JOBS_QUEUE) with the app's Redis (REDIS_URL)."""
    with app.app_context():
        if not app.config.get("REDIS_URL"):
            raise RuntimeError("REDIS_URL is not set: without Redis, jobs run inline and no worker is needed.")
        job_queue = queue()
    worker_class = AppSimpleWorker if simple else AppWorker
    # RQ's scheduler (delayed jobs, the PDF job's retries) runs in one worker under a 61 s
    # lock that the others try to take only at maintenance: every minute rather than RQ's ten,
    # so a killed scheduler is replaced in about two. Emails do not depend on it at all: their
    # retries are the outbox sweep's (app.mail.outbox.requeue_stale_emails).
    return worker_class([job_queue], connection=job_queue.connection, name=name, app=app,
                        maintenance_interval=MAINTENANCE_SECONDS)
