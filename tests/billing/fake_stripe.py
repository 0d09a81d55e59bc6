"""A small fake of the Stripe endpoints localstripe lacks: Checkout Sessions, the Customer
Portal, Products and Prices (with lookup keys), plus customers so a Checkout test needs no
second server. Real HTTP on 127.0.0.1:<free port>; the SDK reaches it via STRIPE_API_BASE.

Like Stripe, a repeated Idempotency-Key returns the first response. ``fail_next`` makes
the next N requests answer 500 (to prove a retry reuses the stored key)."""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Recorded:
    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]


@dataclass
class FakeStripe:
    base_url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    prices: dict[str, dict] = field(default_factory=dict)  # by id
    subscriptions: dict[str, dict] = field(default_factory=dict)  # by id, set by tests
    payment_intents: dict[str, dict] = field(default_factory=dict)  # by id, set by tests
    failures: int = 0
    _idempotent: dict[str, tuple[int, dict]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(self, times: int = 1) -> None:
        self.failures = times

    def posts(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == "POST" and r.path == path]

    # --- endpoint logic -----------------------------------------------------------------

    def handle(self, method: str, path: str, params: dict[str, str]) -> tuple[int, dict]:
        if method == "POST" and path == "/v1/customers":
            return 200, {"id": f"cus_{secrets.token_hex(6)}", "object": "customer", **_meta(params)}
        if method == "POST" and path == "/v1/checkout/sessions":
            sid = f"cs_test_{secrets.token_hex(8)}"
            return 200, {
                "id": sid,
                "object": "checkout.session",
                "mode": params.get("mode"),
                "customer": params.get("customer"),
                "client_reference_id": params.get("client_reference_id"),
                "url": f"https://checkout.stripe.test/c/pay/{sid}",
            }
        if method == "POST" and path == "/v1/billing_portal/sessions":
            sid = f"bps_{secrets.token_hex(8)}"
            return 200, {
                "id": sid,
                "object": "billing_portal.session",
                "customer": params.get("customer"),
                "return_url": params.get("return_url"),
                "url": f"https://billing.stripe.test/p/session/{sid}",
            }
        if method == "POST" and path == "/v1/products":
            return 200, {
                "id": f"prod_{secrets.token_hex(6)}",
                "object": "product",
                "name": params.get("name"),
            }
        if method == "POST" and path == "/v1/prices":
            price = {
                "id": f"price_{secrets.token_hex(6)}",
                "object": "price",
                "active": True,
                "product": params["product"],
                "lookup_key": params.get("lookup_key"),
                "unit_amount": int(params["unit_amount"]),
                "currency": params["currency"],
                "recurring": {"interval": params["recurring[interval]"]}
                if "recurring[interval]" in params
                else None,
            }
            if params.get("transfer_lookup_key") == "true":
                for other in self.prices.values():
                    if other["lookup_key"] == price["lookup_key"]:
                        other["lookup_key"] = None
            self.prices[price["id"]] = price
            return 200, price
        if method == "GET" and path == "/v1/prices":
            wanted = {v for k, v in params.items() if k.startswith("lookup_keys[")}
            data = [p for p in self.prices.values() if p["lookup_key"] in wanted]
            return 200, {"object": "list", "data": data, "has_more": False, "url": "/v1/prices"}
        if method == "GET" and path.startswith("/v1/payment_intents/"):
            intent = self.payment_intents.get(path.rsplit("/", 1)[1])
            if intent is None:
                return 404, {
                    "error": {"type": "invalid_request_error", "message": "No such payment_intent"}
                }
            return 200, intent
        if path.startswith("/v1/subscriptions/"):
            sub = self.subscriptions.get(path.rsplit("/", 1)[1])
            if sub is None:
                return 404, {
                    "error": {"type": "invalid_request_error", "message": "No such subscription"}
                }
            if method == "DELETE" and sub["status"] == "canceled":
                # Stripe refuses to cancel a subscription that is already cancelled.
                return 400, {
                    "error": {"type": "invalid_request_error", "message": "already canceled"}
                }
            if method == "DELETE":
                sub["status"] = "canceled"
            return 200, sub
        return 404, {"error": {"type": "invalid_request_error", "message": f"No route {path}"}}


def _meta(params: dict[str, str]) -> dict:
    return {
        "email": params.get("email"),
        "name": params.get("name"),
        "metadata": {k[9:-1]: v for k, v in params.items() if k.startswith("metadata[")},
    }


def start_fake_stripe() -> tuple[FakeStripe, ThreadingHTTPServer]:
    fake = FakeStripe()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self, method: str) -> None:
            split = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            params = dict(parse_qsl(body or split.query, keep_blank_values=True))
            key = self.headers.get("Idempotency-Key")
            with fake._lock:
                fake.requests.append(Recorded(method, split.path, params, dict(self.headers)))
                if fake.failures:
                    fake.failures -= 1
                    status, payload = 500, {"error": {"type": "api_error", "message": "boom"}}
                elif key and key in fake._idempotent:
                    status, payload = fake._idempotent[key]
                else:
                    status, payload = fake.handle(method, split.path, params)
                    if key and status < 500:
                        fake._idempotent[key] = (status, payload)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802
            self._serve("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._serve("POST")

        def do_DELETE(self) -> None:  # noqa: N802
            self._serve("DELETE")

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    return fake, server
