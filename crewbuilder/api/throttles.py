"""Rate limits per API token and per organisation, counted in the shared cache (Redis in
production, so every gunicorn worker and host sees the same counters).

A fixed-window counter: one ``INCR`` + ``EXPIRE`` pipeline per scope and request on Redis
(DRF's ``SimpleRateThrottle`` keeps a list of timestamps and costs a GET and a SET of the
whole list). The window may let up to twice the rate through across a boundary, which is
acceptable for abuse protection. ``wait()`` gives the seconds to the end of the (longest
exceeded) window; DRF turns it into ``Retry-After``. Both scopes are counted in one
pipelined round trip.

Rates come from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` (scopes ``api_token`` and
``api_org``), read on every request so tests and operators can change them.
"""

from __future__ import annotations

import time

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from accounts.models import ApiToken

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str | None) -> tuple[int, int] | None:
    """``"120/min"`` → (120, 60); None or empty → no limit."""
    if not rate:
        return None
    count, period = rate.split("/")
    return int(count), _PERIODS[period.strip()[0].lower()]


def _hit_all(counters: list[tuple[str, int]]) -> list[int]:
    """Increment each (key, window) counter and return the new counts: one pipelined round
    trip on Redis, whatever the number of scopes."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        full_keys = [backend.make_and_validate_key(key) for key, _ in counters]
        client = backend._cache.get_client(full_keys[0], write=True)
        pipe = client.pipeline(transaction=False)
        for full_key, (_, window) in zip(full_keys, counters, strict=True):
            pipe.incr(full_key)
            pipe.expire(full_key, window + 1, nx=True)
        results = pipe.execute()
        return [int(count) for count in results[::2]]
    counts = []
    for key, window in counters:
        backend.add(key, 0, timeout=window + 1)
        try:
            counts.append(backend.incr(key))
        except ValueError:  # expired between add and incr
            backend.set(key, 1, timeout=window + 1)
            counts.append(1)
    return counts


class TokenAndOrganizationThrottle(BaseThrottle):
    """Both limits in one pass: ``api_token`` per token (its random prefix, so counters
    never carry over to another row) and ``api_org`` per organisation (its UUID)."""

    def allow_request(self, request, view) -> bool:
        token = request.auth
        if not isinstance(token, ApiToken):
            return True
        rates = api_settings.DEFAULT_THROTTLE_RATES
        now = time.time()
        checks = []  # (key, window, limit, seconds to the end of the window)
        for scope, ident in (
            ("api_token", token.prefix),
            ("api_org", str(token.organization.uuid)),
        ):
            rate = parse_rate(rates.get(scope))
            if rate is None:
                continue
            limit, window = rate
            bucket = int(now // window)
            key = f"api-throttle:{scope}:{ident}:{window}:{bucket}"
            checks.append((key, window, limit, (bucket + 1) * window - now))
        if not checks:
            return True
        counts = _hit_all([(key, window) for key, window, _, _ in checks])
        exceeded = [
            retry
            for (_, _, limit, retry), count in zip(checks, counts, strict=True)
            if count > limit
        ]
        self._retry_after = max(exceeded) if exceeded else None
        return not exceeded

    def wait(self) -> float | None:
        return self._retry_after
