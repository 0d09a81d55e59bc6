"""A receiver's signature check written from docs/webhooks.md ("Verifying the signature")
alone — no CrewBuilder import — to prove the documentation is enough."""

from __future__ import annotations

import hashlib
import hmac
import time


def verify(
    secret: str, body: bytes, header: str, tolerance: int = 300, now: float | None = None
) -> bool:
    items = [part.split("=", 1) for part in header.split(",") if "=" in part]
    timestamps = [int(v) for k, v in items if k == "t"]
    signatures = [v for k, v in items if k == "v1"]
    current = time.time() if now is None else now
    if len(timestamps) != 1 or not signatures or abs(current - timestamps[0]) > tolerance:
        return False
    expected = hmac.new(
        secret.encode(), f"{timestamps[0]}.".encode() + body, hashlib.sha256
    ).hexdigest()
    return any(hmac.compare_digest(expected, s) for s in signatures)
