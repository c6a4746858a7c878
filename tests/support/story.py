"""Helpers for the end-to-end story (tests/test_story_browser.py): the app served the way
production serves it (gunicorn, an RQ worker), waits on real conditions, and screenshots.

No tests live here.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from email.message import EmailMessage
from pathlib import Path
from typing import Callable, TypeVar

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SCREENSHOT_DIR = ROOT / "docs" / "screenshots"
# Screenshots are tracked files shown in the README: only rewritten when asked for.
TAKE_SCREENSHOTS = os.environ.get("CLIENTELA_SCREENSHOTS", "").strip().lower() in {"1", "true", "yes", "on"}

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition: Callable[[], T], *, timeout: float, what: str, every: float = 0.1) -> T:
    """Poll `condition` until it returns something truthy; fail naming `what` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


def wait_for_email(smtp_server, to: str, subject_contains: str, *, timeout: float = 30) -> EmailMessage:
    """The first message to `to` whose subject contains `subject_contains`, as it arrives."""
    def arrived():
        with smtp_server.lock:
            return next((m for m in smtp_server.messages
                         if to in m["To"] and subject_contains in m["Subject"]), None)
    return wait_for(arrived, timeout=timeout, what=f"an email to {to} about {subject_contains!r}")


class AppProcess:
    """A command of the app's own (gunicorn, the RQ worker) in a process group of its own, with
    its output kept in a file so a failing test can show it."""

    def __init__(self, name: str, command: list[str], env: dict[str, str]):
        self.name = name
        self.log = tempfile.NamedTemporaryFile(prefix=f"clientela-{name}-", suffix=".log", delete=False)
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True)

    def output(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise AssertionError(f"{self.name} exited with {self.process.returncode}:\n{self.output()[-4000:]}")

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM (gunicorn and RQ shut down gracefully on it), then SIGKILL for the group
        (RQ's work horses, gunicorn's workers) if it lingers."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=timeout)
        # Captured by pytest, shown only when the test fails.
        print(f"--- {self.name} output (last lines) ---\n{self.output()[-6000:]}")
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)


def start_gunicorn(env: dict[str, str], port: int) -> AppProcess:
    server = AppProcess("gunicorn", [str(BIN / "gunicorn"), "app:app", "--bind", f"127.0.0.1:{port}",
                                     "--workers", "2", "--threads", "4", "--timeout", "60"], env)
    base_url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        server.check_alive()
        try:
            with urllib.request.urlopen(f"{base_url}/healthz", timeout=5) as response:
                return response.status == 200
        except OSError:  # refused while binding, or a slow first answer while a worker boots
            return False

    return _ready_or_stopped(server, healthy, "gunicorn to answer /healthz")


def start_worker(env: dict[str, str]) -> AppProcess:
    worker = AppProcess("worker", [str(BIN / "flask"), "--app", "app", "clientela", "worker"], env)
    return _ready_or_stopped(worker, lambda: worker.check_alive() or "listening on queue" in worker.output(),
                             "the RQ worker to listen")


def _ready_or_stopped(process: AppProcess, ready: Callable[[], bool], what: str) -> AppProcess:
    """The process once `ready()`; stopped (never left running) when it does not get there."""
    try:
        wait_for(ready, timeout=60, what=what, every=0.2)
    except BaseException:
        process.stop()
        raise
    return process


def screenshot(page, name: str, *, center_on: str | None = None) -> None:
    """docs/screenshots/<name>.png when CLIENTELA_SCREENSHOTS is set: the whole page, or the
    window around `center_on` (a selector) when the point of the step is one spot on a long page."""
    if not TAKE_SCREENSHOTS:
        return
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    if center_on:
        page.locator(center_on).evaluate("element => element.scrollIntoView({block: 'center'})")
    page.screenshot(path=str(SCREENSHOT_DIR / f"{name}.png"), full_page=center_on is None)
