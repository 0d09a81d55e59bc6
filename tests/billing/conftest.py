"""Billing fixtures: plans, signed webhook deliveries, localstripe and the fake Stripe
server for the endpoints localstripe lacks."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.test import Client

from billing import services
from billing.models import Plan
from tests.factories import plan_assign

WEBHOOK_SECRET = "whsec_test_billing_0123456789abcdef"


@pytest.fixture
def plans(db) -> dict[str, Plan]:
    services.plans_seed()  # a transactional test elsewhere may have flushed the seed rows
    return {p.slug: p for p in Plan.objects.all()}


give_plan = plan_assign  # the shared helper, under the name the billing tests use


def sign(payload: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """Stripe-Signature header as Stripe computes it: t=<ts>,v1=HMAC-SHA256(secret, "t.payload")."""
    ts = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


def event(
    etype: str, obj: dict, *, created: int | None = None, event_id: str | None = None
) -> dict:
    return {
        "id": event_id or f"evt_{uuid.uuid4().hex[:20]}",
        "object": "event",
        "type": etype,
        "created": created if created is not None else int(time.time()),
        "livemode": False,
        "api_version": "2025-01-01",
        "data": {"object": obj},
    }


def deliver(
    evt: dict, *, client: Client | None = None, secret: str = WEBHOOK_SECRET, timestamp=None
):
    payload = json.dumps(evt).encode()
    return (client or Client()).post(
        "/billing/webhook/",
        data=payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=sign(payload, secret, timestamp),
    )


@pytest.fixture
def webhook_secret(settings) -> str:
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    return WEBHOOK_SECRET


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def localstripe_url() -> str:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("localstripe_server.py")), str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("localstripe did not start")
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=5)


@pytest.fixture
def localstripe(settings, localstripe_url, webhook_secret) -> str:
    settings.STRIPE_SECRET_KEY = "sk_test_localstripe"
    settings.STRIPE_API_BASE = localstripe_url
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    return localstripe_url


@pytest.fixture
def fake_stripe(settings, webhook_secret):
    from tests.billing.fake_stripe import start_fake_stripe

    fake, server = start_fake_stripe()
    settings.STRIPE_SECRET_KEY = "sk_test_fake"
    settings.STRIPE_API_BASE = fake.base_url
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    yield fake
    server.shutdown()
    server.server_close()
