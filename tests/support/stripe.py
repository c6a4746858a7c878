"""A local stand-in for the parts of Stripe's HTTP API Clientela uses, for tests.

A small WSGI app served by werkzeug on 127.0.0.1 (random port) in a thread. The app under test
talks to it through the official SDK (`STRIPE_API_BASE` = `standin.api_base`), exactly as it
talks to Stripe: form-encoded POSTs with an Idempotency-Key, JSON answers, Stripe's error shape.

- `POST /v1/checkout/sessions` creates a session (the same Idempotency-Key with the same body
  answers the same session; with another body, Stripe's idempotency error);
  `GET /v1/checkout/sessions/<id>` and `GET /v1/checkout/sessions?payment_intent=` read them;
  `GET /v1/refunds?charge=` lists a charge's refunds.
- `GET /pay/<id>` is a tiny hosted checkout page; `POST /pay/<id>` pays (status complete,
  payment_status paid, a PaymentIntent and a charge), delivers `checkout.session.completed` to
  the webhook URL and redirects to the success URL, as Checkout does.
- Tests drive the rest from Python: `complete()`, `refund()`, `event()`, `deliver()`, `sign()`.
  Events are signed with `stripe.WebhookSignature.generate_signature_header` on the exact body.
"""
from __future__ import annotations

import itertools
import json
import re
import secrets
import threading
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import parse_qsl

import stripe
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

API_KEY = "sk_test_clientela_standin"
WEBHOOK_SECRET = "whsec_clientela_standin"


def _new_id(prefix: str) -> str:
    return f"{prefix}_test_{secrets.token_hex(8)}"


def decode_form(body: str) -> dict[str, Any]:
    """`a[b][0][c]=1` (how the SDK encodes nested params) back into nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = re.findall(r"[^\[\]]+", key)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _lists(root)


def _lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    if node and all(key.isdigit() for key in node):
        return [_lists(node[key]) for key in sorted(node, key=int)]
    return {key: _lists(value) for key, value in node.items()}


class StripeStandIn:
    def __init__(self, webhook_url: str | None = None, *, api_key: str = API_KEY,
                 webhook_secret: str = WEBHOOK_SECRET):
        self.webhook_url = webhook_url
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self.sessions: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []  # (method, path, headers) as received
        self.deliveries: list[tuple[str, int]] = []  # (event type, HTTP status) for each webhook sent
        self._idempotency: dict[str, tuple[str, str]] = {}  # key → (body, session id)
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.api_base = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> "StripeStandIn":
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    # ------------------------------------------------------------ HTTP

    @Request.application
    def _wsgi(self, request: Request) -> Response:
        self.requests.append((request.method, request.path, dict(request.headers)))
        if request.path.startswith("/pay/"):
            return self._checkout_page(request, request.path.removeprefix("/pay/"))
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return self._error(401, "authentication_error", "Invalid API Key provided.")
        if request.method == "POST" and request.path == "/v1/checkout/sessions":
            return self._create_session(request)
        match = re.fullmatch(r"/v1/checkout/sessions/([\w]+)", request.path)
        if request.method == "GET" and match:
            session = self.sessions.get(match.group(1))
            if session is None:
                return self._error(404, "invalid_request_error", "No such checkout.session", "resource_missing")
            return self._json(session)
        if request.method == "GET" and request.path == "/v1/checkout/sessions":
            intent = request.args.get("payment_intent")
            return self._list("/v1/checkout/sessions",
                              [s for s in self.sessions.values() if s["payment_intent"] == intent])
        if request.method == "GET" and request.path == "/v1/refunds":
            charge = request.args.get("charge")
            return self._list("/v1/refunds", [r for r in self.refunds.values() if r["charge"] == charge])
        return self._error(404, "invalid_request_error", f"Unrecognized request URL ({request.path}).")

    def _create_session(self, request: Request) -> Response:
        body = request.get_data(as_text=True)
        key = request.headers.get("Idempotency-Key")
        with self._lock:
            if key and key in self._idempotency:
                earlier_body, session_id = self._idempotency[key]
                if earlier_body != body:
                    return self._error(400, "idempotency_error",
                                       "Keys for idempotent requests can only be used with the same parameters "
                                       "they were first used with.")
                return self._json(self.sessions[session_id])
            params = decode_form(body)
            session = self.open_session(params)
            if key:
                self._idempotency[key] = (body, session["id"])
        return self._json(session)

    def open_session(self, params: dict[str, Any]) -> dict[str, Any]:
        """A new open session from create params (also for tests: a session the app never made)."""
        items = params.get("line_items") or []
        amount = sum(int(item["price_data"]["unit_amount"]) * int(item.get("quantity", 1)) for item in items)
        session_id = _new_id("cs")
        session = {
            "id": session_id,
            "object": "checkout.session",
            "mode": params.get("mode", "payment"),
            "amount_total": amount,
            "currency": (items[0]["price_data"]["currency"] if items else "eur"),
            "status": "open",
            "payment_status": "unpaid",
            "payment_intent": None,
            "metadata": params.get("metadata") or {},
            "client_reference_id": params.get("client_reference_id"),
            "customer_email": params.get("customer_email"),
            "locale": params.get("locale"),
            "line_items_sent": items,
            "payment_intent_data_sent": params.get("payment_intent_data") or {},
            "success_url": params.get("success_url"),
            "cancel_url": params.get("cancel_url"),
            "url": f"{self.api_base}/pay/{session_id}",
            "created": int(time.time()),
            "livemode": False,
        }
        self.sessions[session_id] = session
        return session

    def _checkout_page(self, request: Request, session_id: str) -> Response:
        session = self.sessions.get(session_id)
        if session is None:
            return Response("no such session", status=404)
        if request.method == "POST":
            self.complete(session_id)
            return Response(status=303, headers={
                "Location": session["success_url"].replace("{CHECKOUT_SESSION_ID}", session_id)})
        return Response(
            f"<h1>Checkout</h1><p>{session['amount_total']} {session['currency']}</p>"
            f"<form method=post><button>Pay</button></form>", mimetype="text/html")

    @staticmethod
    def _json(data: dict[str, Any], status: int = 200) -> Response:
        return Response(json.dumps(data), status=status, mimetype="application/json",
                        headers={"Request-Id": _new_id("req")})

    def _list(self, url: str, rows: list[dict[str, Any]]) -> Response:
        return self._json({"object": "list", "url": url, "has_more": False, "data": rows})

    def _error(self, status: int, kind: str, message: str, code: str | None = None) -> Response:
        return self._json({"error": {"type": kind, "message": message, "code": code}}, status)

    # ------------------------------------------------------------ what Stripe does on its side

    def complete(self, session_id: str, *, deliver: bool = True, paid: bool = True) -> dict[str, Any]:
        """The client pays on the checkout page: the session completes (paid, or still
        processing for an asynchronous method) and Stripe sends checkout.session.completed."""
        session = self.sessions[session_id]
        session["status"] = "complete"
        session["payment_status"] = "paid" if paid else "unpaid"
        session["payment_intent"] = session["payment_intent"] or _new_id("pi")
        session["charge_id"] = session.get("charge_id") or _new_id("ch")
        if deliver:
            self.deliver(self.event("checkout.session.completed", session))
        return session

    def settle_async(self, session_id: str, *, succeeded: bool = True, deliver: bool = True) -> dict[str, Any]:
        """An asynchronous payment method settles later (or fails)."""
        session = self.sessions[session_id]
        session["payment_status"] = "paid" if succeeded else "unpaid"
        kind = "checkout.session.async_payment_succeeded" if succeeded else "checkout.session.async_payment_failed"
        event = self.event(kind, session)
        if deliver:
            self.deliver(event)
        return event

    def refund(self, session_id: str, amount: int | None = None, *, deliver: bool = True) -> list[dict[str, Any]]:
        """Staff refund the payment (what is left of it by default) in Stripe's dashboard: a Refund,
        and the events Stripe sends (charge.refunded without the refunds list, as current API
        versions do, then refund.created)."""
        session = self.sessions[session_id]
        already = sum(r["amount"] for r in self.refunds.values() if r["charge"] == session["charge_id"])
        refund = {
            "id": _new_id("re"), "object": "refund",
            "amount": session["amount_total"] - already if amount is None else amount,
            "currency": session["currency"], "payment_intent": session["payment_intent"],
            "charge": session["charge_id"], "status": "succeeded", "created": int(time.time()),
        }
        self.refunds[refund["id"]] = refund
        refunded = sum(r["amount"] for r in self.refunds.values() if r["charge"] == session["charge_id"])
        charge = {
            "id": session["charge_id"], "object": "charge", "amount": session["amount_total"],
            "amount_refunded": refunded, "refunded": refunded >= session["amount_total"],
            "currency": session["currency"], "payment_intent": session["payment_intent"], "status": "succeeded",
        }
        events = [self.event("charge.refunded", charge), self.event("refund.created", refund)]
        if deliver:
            for event in events:
                self.deliver(event)
        return events

    # ------------------------------------------------------------ webhooks

    _event_numbers = itertools.count(1)

    def event(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        """An event as Stripe sends it, with a snapshot of `obj`."""
        return {
            "id": f"evt_test_{next(self._event_numbers):06d}{secrets.token_hex(4)}",
            "object": "event",
            "api_version": stripe.api_version,
            "created": int(time.time()),
            "type": kind,
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "data": {"object": json.loads(json.dumps(obj))},
        }

    def sign(self, body: str, *, timestamp: int | None = None, secret: str | None = None) -> str:
        """The Stripe-Signature header for `body`, exactly as Stripe computes it."""
        return stripe.WebhookSignature.generate_signature_header(
            body, secret or self.webhook_secret, timestamp=timestamp if timestamp is not None else int(time.time()))

    def deliver(self, event: dict[str, Any] | str, *, timestamp: int | None = None,
                signature: str | None = None) -> tuple[int, str]:
        """POST the event to the webhook URL, signed; returns (status, body)."""
        body = event if isinstance(event, str) else json.dumps(event)
        header = signature if signature is not None else self.sign(body, timestamp=timestamp)
        request = urllib.request.Request(
            self.webhook_url, data=body.encode("utf-8"), method="POST",
            headers={"Content-Type": "application/json; charset=utf-8", "Stripe-Signature": header,
                     "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, text = response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            status, text = error.code, error.read().decode()
        kind = "?" if isinstance(event, str) else event["type"]
        self.deliveries.append((kind, status))
        return status, text
