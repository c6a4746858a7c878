"""Background jobs: one `enqueue()` for the whole app.

A job is dispatched only once the transaction that asked for it commits (a rolled-back
request leaves no job behind, and a worker never reads rows that are not committed yet).
With `REDIS_URL` set it goes to RQ with retries and backoff (run `clientela worker`);
without it (the embedded default) it runs in-process right after the commit, in a fresh
app context, tried again at once if it fails. See docs/jobs.md.

Job functions take plain ids, open their own transaction and must be idempotent: RQ may
run a job again after a worker dies. Work a job claims (an outbox row, a PDF render, a
periodic task) is held by a short lease that a `keep_alive` thread renews while the job's
process lives: when a worker is killed, the lease lapses within seconds and the work is
taken up again by whoever claims it next (see docs/jobs.md, "Recovery").
"""
from __future__ import annotations

import logging
import threading
import uuid
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.extensions import db

log = logging.getLogger(__name__)

QUEUE_NAME = "clientela"
RETRY_INTERVALS = [10, 30, 60, 300, 900]  # seconds between attempts
INLINE_ATTEMPTS = 3  # without a worker there is nobody to back off: retry at once, twice
# A claim lapses this long after its holder's last renewal; holders renew every third of it.
LEASE_SECONDS = 20
_PENDING = "clientela_pending_jobs"


def enqueue(func: Callable[..., Any], *args: Any, job_id: str | None = None, **kwargs: Any) -> None:
    """Run `func(*args, **kwargs)` in the background after the current transaction commits."""
    session = db.session()
    job = (func, args, kwargs, job_id)
    if session.in_transaction():
        pending = session.info.setdefault(_PENDING, [])
        if job not in pending:  # asking twice in one transaction (e.g. two edits) runs it once
            pending.append(job)
    else:
        _dispatch([job])


def discard(func: Callable[..., Any], *args: Any, job_id: str | None = None, **kwargs: Any) -> None:
    """Take back a job asked for earlier in the current transaction, because another job of
    the same transaction will do its work (two jobs would only race each other)."""
    pending = db.session().info.get(_PENDING)
    if pending and (func, args, kwargs, job_id) in pending:
        pending.remove((func, args, kwargs, job_id))


def redis_connection():
    from redis import Redis

    return Redis.from_url(current_app.config["REDIS_URL"])


def queue():
    from rq import Queue

    return Queue(queue_name(), connection=redis_connection())


def queue_name() -> str:
    """JOBS_QUEUE lets two Clientela instances (or two test runs) share one Redis."""
    return current_app.config.get("JOBS_QUEUE") or QUEUE_NAME


def retry_intervals() -> list[int]:
    return list(current_app.config.get("JOB_RETRY_INTERVALS") or RETRY_INTERVALS)


def lease_seconds() -> int:
    return int(current_app.config.get("JOB_LEASE_SECONDS") or LEASE_SECONDS)


@contextmanager
def keep_alive(renew: Callable[[], object], every: float) -> Iterator[None]:
    """Call `renew()` every `every` seconds in a daemon thread while the block runs.

    This is the heartbeat behind every lease: it dies with the process, so a killed worker's
    claims stop being renewed and lapse. A renewal that fails (a database or Redis hiccup) is
    logged and tried again at the next beat; the lease is sized to survive a missed beat.
    """
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(every):
            try:
                renew()
            except Exception:
                log.warning("lease renewal failed, trying again in %ss", every, exc_info=True)

    thread = threading.Thread(target=beat, name="clientela-lease", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


# Compare-and-act on a Redis key: only the holder's token may renew or release its lease.
_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('expire', KEYS[1], ARGV[2]) end return 0"
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


class RedisLease:
    """A named claim in Redis (`SET NX EX`) that lapses unless its holder renews it.

    Without Redis (the embedded default: one process runs every job inline) every acquire
    succeeds: the callers' own database constraints keep them correct, the lease only saves
    duplicate work between workers.
    """

    def __init__(self, name: str, seconds: int | None = None):
        self.seconds = seconds or lease_seconds()
        self.key = f"clientela:lease:{queue_name()}:{name}"
        self.token = uuid.uuid4().hex
        self._redis = redis_connection() if current_app.config.get("REDIS_URL") else None

    def acquire(self) -> bool:
        if self._redis is None:
            return True
        return bool(self._redis.set(self.key, self.token, nx=True, ex=self.seconds))

    def renew(self) -> bool:
        return self._redis is None or bool(self._redis.eval(_RENEW, 1, self.key, self.token, self.seconds))

    def release(self) -> None:
        if self._redis is not None:
            self._redis.eval(_RELEASE, 1, self.key, self.token)


def _dispatch(jobs: list[tuple]) -> None:
    if current_app.config.get("REDIS_URL"):
        from rq import Retry

        q = queue()
        intervals = retry_intervals()
        for func, args, kwargs, job_id in jobs:
            q.enqueue(func, args=args, kwargs=kwargs, job_id=job_id,
                      retry=Retry(max=len(intervals), interval=intervals))
        return
    app = current_app._get_current_object()
    for func, args, kwargs, _job_id in jobs:
        _run_inline(app, func, args, kwargs)


def _run_inline(app, func: Callable[..., Any], args: tuple, kwargs: dict) -> None:
    """Run a job now; on an error try again at once (a busy SQLite, a dropped connection),
    then log it: the request that asked for it has already succeeded."""
    for attempt in range(1, INLINE_ATTEMPTS + 1):
        # A fresh app context means a fresh session: the caller's is still finishing its commit.
        with app.app_context():
            try:
                func(*args, **kwargs)
                return
            except Exception:
                db.session.rollback()
                if attempt == INLINE_ATTEMPTS:
                    log.exception("inline job %s failed %d times", getattr(func, "__name__", func), attempt)
                else:
                    log.warning("inline job %s failed, trying again", getattr(func, "__name__", func), exc_info=True)


@event.listens_for(Session, "after_commit")
def _run_pending_jobs(session: Session) -> None:
    jobs = session.info.pop(_PENDING, None)
    if jobs:
        _dispatch(jobs)


@event.listens_for(Session, "after_rollback")
def _drop_pending_jobs(session: Session) -> None:
    session.info.pop(_PENDING, None)
