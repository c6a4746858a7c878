"""The load run's tool (`make load`, bench/load.py) in a tiny configuration: one node, one
worker, two users for five seconds, on a database of its own beside the test database."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from bench.loadmix import PORTAL_MIX, STAFF_MIX
from tests.support.database import TEST_DB
from tests.support.jobs import TEST_REDIS_URL

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.postgres_only  # production's configuration: PostgreSQL, Redis, gunicorn, an RQ worker
def test_a_tiny_load_run_reports_every_endpoint_without_errors_and_drains_its_queue(tmp_path):
    database = make_url(TEST_DB)
    env = {**os.environ,
           "LOAD_DATABASE_URL": database.set(database=f"{database.database}_load").render_as_string(hide_password=False),
           "LOAD_REDIS_URL": TEST_REDIS_URL, "LOAD_OUTPUT": str(tmp_path),
           "LOAD_USERS": "2", "LOAD_SECONDS": "5", "LOAD_NODES": "1", "LOAD_WEB_WORKERS": "1", "LOAD_WORKERS": "1",
           "LOAD_CLIENTS": "10", "LOAD_DRAIN_SECONDS": "20", "LOAD_TIMEOUT": "90"}
    # About 30 s on a quiet machine. LOAD_TIMEOUT is the tool's own hard limit (a hang, not a slow
    # machine); past it the tool still stops everything it started, within 10 s.
    run = subprocess.run([sys.executable, "-m", "bench.load"], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=110, check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    report = json.loads((tmp_path / "results.json").read_text())

    endpoints = {row["endpoint"]: row for row in report["endpoints"]}
    assert set(endpoints) == {name for name, _ in STAFF_MIX + PORTAL_MIX}
    for row in endpoints.values():
        assert row["requests"] >= 1 and row["errors"] == 0, row
        assert 0 < row["p50_ms"] <= row["p95_ms"] <= row["p99_ms"] <= row["max_ms"], row
    assert report["errors"] == 0 and report["server_log_errors"] == []

    emails = report["emails"]
    assert emails["sends"] >= 1
    assert emails["delivered"] == emails["queued"] == emails["sends"]
    assert emails["missing_at_sink"] == emails["delivered_twice"] == emails["failed_jobs"] == 0
    assert report["queue"]["drained_after_seconds"] is not None
    assert report["ok"]
    assert "| send invoice |" in run.stdout and "\nok\n" in run.stdout
