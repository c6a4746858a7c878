"""The load run's users (bench/load.py): staff and portal contacts at a fixed concurrency.

Each user is a thread that sends one request at a time, with no pause, for the run's length,
to the web nodes in turn (round robin): a closed loop, so the concurrency is the number of
users. Each request is timed from connect to the last byte of the body (gunicorn's sync
workers close the connection after each answer, as they do behind a proxy) and checked: the
status, and for a PDF its first bytes; anything else (a 5xx, a refused send, a timeout, a
reset connection) is an error of its endpoint. Percentiles are taken over every sample, not
from buckets.

Staff sign in through the admin's form (with its CSRF token) and use their signed cookie on
every node; portal contacts sign in with a magic link (POST /portal/auth/<token>).
"""
from __future__ import annotations

import http.client
import itertools
import random
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import urlencode, urlsplit

TIMEOUT_SECONDS = 60
CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
CHECKED_CONTACT = re.compile(r'name="contact_ids" value="(\d+)" checked')

# (endpoint, weight): how often a user picks each, per pick. Each user asks for every endpoint
# once first, in this order: the send first, so that even a short run sends and drains.
STAFF_MIX = [("send invoice", 1), ("home", 3), ("client list", 3), ("invoice list", 3), ("invoice page", 3),
             ("client 360 page", 3), ("invoice PDF (staff)", 2)]
# /healthz (one database round trip) is the floor: on a shared machine it shows what the moment cost.
PORTAL_MIX = [("portal statement", 3), ("invoice PDF (portal)", 1), ("/healthz (floor)", 1)]


class RequestFailed(Exception):
    """An answer the user would see as broken: its endpoint counts an error."""


@dataclass
class Endpoint:
    samples: list[float] = field(default_factory=list)  # seconds, successful requests only
    errors: list[str] = field(default_factory=list)


class Recorder:
    """Per-endpoint latencies and errors, shared by every user thread."""

    def __init__(self, max_requests: int) -> None:
        self.endpoints: dict[str, Endpoint] = {}
        self.max_requests = max_requests
        self.requests = 0
        self.lock = threading.Lock()

    def take_turn(self) -> bool:
        """Count one more request, unless the run's request budget is spent."""
        with self.lock:
            if self.requests >= self.max_requests:
                return False
            self.requests += 1
            return True

    def add(self, name: str, seconds: float, error: str | None = None) -> None:
        with self.lock:
            endpoint = self.endpoints.setdefault(name, Endpoint())
            if error is None:
                endpoint.samples.append(seconds)
            else:
                endpoint.errors.append(error)

    def table(self, seconds: float) -> list[dict[str, object]]:
        rows = []
        for name, endpoint in sorted(self.endpoints.items()):
            ordered = sorted(endpoint.samples)
            rows.append({
                "endpoint": name, "requests": len(ordered) + len(endpoint.errors), "errors": len(endpoint.errors),
                "per_second": round(len(ordered) / seconds, 2),
                **{f"p{p}_ms": round(percentile(ordered, p) * 1000, 1) for p in (50, 95, 99)},
                "max_ms": round(ordered[-1] * 1000, 1) if ordered else None,
                "first_errors": sorted(set(endpoint.errors))[:3],
            })
        return rows


def percentile(ordered: list[float], p: int) -> float:
    """Nearest rank: the smallest sample with at least p % of the samples at or below it."""
    if not ordered:
        return float("nan")
    return ordered[max(0, -(-len(ordered) * p // 100) - 1)]


class Nodes:
    """The web nodes' ports, handed out in turn to every request of every user."""

    def __init__(self, ports: list[int]) -> None:
        self._ports = itertools.cycle(ports)
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            return next(self._ports)


class Browser:
    """One user's cookies, sent to whichever node answers next (cookies ignore the port)."""

    def __init__(self, nodes: Nodes) -> None:
        self.nodes = nodes
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict | list | None = None) -> tuple[int, dict, bytes]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection = http.client.HTTPConnection("127.0.0.1", self.nodes.next(), timeout=TIMEOUT_SECONDS)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            content = response.read()
        finally:
            connection.close()
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        return response.status, {k.lower(): v for k, v in response.getheaders()}, content

    def expect(self, method: str, path: str, status: int, form: dict | list | None = None) -> tuple[dict, bytes]:
        code, headers, content = self.request(method, path, form)
        if code != status:
            raise RequestFailed(f"{method} {urlsplit(path).path}: HTTP {code} (expected {status})")
        return headers, content


def sign_in_staff(browser: Browser, username: str, password: str) -> None:
    _, page = browser.expect("GET", "/login/", 200)
    token = CSRF_FIELD.search(page.decode())
    if token is None:
        raise RequestFailed("GET /login/: no CSRF token in the form")
    browser.expect("POST", "/login/", 302, {"csrf_token": token.group(1), "username": username, "password": password})


def sign_in_portal(browser: Browser, sign_in_path: str) -> None:
    browser.expect("POST", sign_in_path, 303)


@dataclass
class Dataset:
    """What the seeding left for the users to ask for (ids), see bench/load.py: seed()."""

    client_ids: list[int]
    invoice_ids: list[int]  # every invoice (the staff invoice page)
    issued_invoice_ids: list[int]  # not drafts (PDF downloads)
    to_send: deque[int]  # each popped once: drafts first (sending finalizes them), then issued ones
    portal: list[tuple[str, list[int]]]  # (sign-in path, that client's issued invoice ids)
    sends: int = 0  # successful sends, counted by the staff users
    lock: threading.Lock = field(default_factory=threading.Lock)


def staff_request(browser: Browser, data: Dataset, name: str, rng: random.Random) -> None:
    if name == "home":
        browser.expect("GET", "/", 200)
    elif name == "client list":
        browser.expect("GET", "/clientview/list/", 200)
    elif name == "invoice list":
        browser.expect("GET", "/invoiceview/list/", 200)
    elif name == "invoice page":
        browser.expect("GET", f"/invoiceview/show/{rng.choice(data.invoice_ids)}", 200)
    elif name == "client 360 page":
        browser.expect("GET", f"/clients/{rng.choice(data.client_ids)}/dashboard", 200)
    elif name == "invoice PDF (staff)":
        pdf(browser, f"/invoiceview/pdf/{rng.choice(data.issued_invoice_ids)}")
    elif name == "send invoice":
        send(browser, data)
    else:
        raise ValueError(name)


def pdf(browser: Browser, path: str) -> None:
    headers, content = browser.expect("GET", path, 200)
    if headers.get("content-type") != "application/pdf" or not content.startswith(b"%PDF"):
        raise RequestFailed(f"GET {path}: not a PDF ({headers.get('content-type')})")


def send(browser: Browser, data: Dataset) -> None:
    """The "Send by email" form (its CSRF token, the primary contact ticked), then its POST,
    whose success is the redirect to the invoice's page."""
    with data.lock:
        invoice_id = data.to_send.popleft()
    path = f"/invoiceview/send/{invoice_id}"
    _, page = browser.expect("GET", path, 200)
    token, contact = CSRF_FIELD.search(page.decode()), CHECKED_CONTACT.search(page.decode())
    if token is None or contact is None:
        raise RequestFailed(f"GET {path}: no CSRF token or no ticked contact in the form")
    headers, _ = browser.expect("POST", path, 302, {"csrf_token": token.group(1), "contact_ids": contact.group(1)})
    if urlsplit(headers.get("location", "")).path != f"/invoiceview/show/{invoice_id}":
        raise RequestFailed(f"POST {path}: refused (redirected to {headers.get('location')})")
    with data.lock:
        data.sends += 1


def run_users(nodes: list[int], data: Dataset, staff: tuple[str, str], users: int, seconds: float,
              recorder: Recorder, seed: int = 17) -> float:
    """Sign `users` users in (even ones staff, odd ones portal contacts), then run the mix for
    `seconds` (and at least one round of every endpoint) or until the recorder's request budget
    is spent; returns the measured seconds."""
    ring = Nodes(nodes)
    browsers: list[tuple[Browser, list[tuple[str, int]], tuple[str, list[int]] | None]] = []
    for index in range(users):
        browser = Browser(ring)
        if index % 2 == 0:
            sign_in_staff(browser, *staff)
            browsers.append((browser, STAFF_MIX, None))
        else:
            portal = data.portal[(index // 2) % len(data.portal)]
            sign_in_portal(browser, portal[0])
            browsers.append((browser, PORTAL_MIX, portal))
    deadline = time.perf_counter() + seconds

    def loop(index: int, browser: Browser, mix: list[tuple[str, int]], portal) -> None:
        rng = random.Random(seed + index)
        names, weights = [name for name, _ in mix], [weight for _, weight in mix]
        # Each endpoint once first, even past the deadline (a short run on a busy machine still
        # reports every one), then by weight until the deadline.
        picks = itertools.chain(names, (rng.choices(names, weights)[0] for _ in itertools.count()))
        for turn, name in enumerate(picks):
            if (turn >= len(names) and time.perf_counter() >= deadline) or not recorder.take_turn():
                break
            start = time.perf_counter()
            try:
                if portal is None:
                    staff_request(browser, data, name, rng)
                elif name == "portal statement":
                    browser.expect("GET", "/portal/", 200)
                elif name == "/healthz (floor)":
                    browser.expect("GET", "/healthz", 200)
                else:
                    pdf(browser, f"/portal/invoices/{rng.choice(portal[1])}/pdf")
            except (RequestFailed, OSError, http.client.HTTPException, IndexError) as error:
                recorder.add(name, time.perf_counter() - start, f"{type(error).__name__}: {error}")
            else:
                recorder.add(name, time.perf_counter() - start)

    threads = [threading.Thread(target=loop, args=(i, *b), name=f"load-user-{i}", daemon=True)
               for i, b in enumerate(browsers)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()  # each request is bounded by TIMEOUT_SECONDS, the whole run by bench/load.py's hard limit
    return time.perf_counter() - start
