"""Rate limits per API token and per organisation, counted in the shared cache (Redis in
production, so every gunicorn worker and host sees the same counters).

A fixed-window counter: one ``INCR`` + ``EXPIRE`` pipeline per scope and request on Redis
(DRF's ``SimpleRateThrottle`` keeps a list of timestamps and costs a GET and a SET of the
whole list). The window may let up to twice the rate through across a boundary, which is
acceptable for abuse protection. ``wait()`` gives the seconds to the end of the (longest
exceeded) window; DRF turns it into ``Retry-After``. Both scopes are counted in one
pipelined round trip.

On Redis the counters go through a redis-py client of their own on the default cache's
``LOCATION`` and ``OPTIONS`` (its socket timeouts), with the cache's key prefix, so no
private attribute of Django's cache backend is needed for the pipeline.

A Redis outage fails open: the request is allowed (abuse protection is not worth refusing
every API call, reads included), counted in ``crewbuilder_degraded_operations_total``
and logged at most once a minute (``crewbuilder.outage``).

Rates come from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` (scopes ``api_token`` and
``api_org``), read on every request so tests and operators can change them.
"""

from __future__ import annotations

import time
from functools import lru_cache

import redis
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from accounts.models import ApiToken
from crewbuilder.outage import degraded

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str | None) -> tuple[int, int] | None:
    """``"120/min"`` → (120, 60); None or empty → no limit."""
    if not rate:
        return None
    count, period = rate.split("/")
    return int(count), _PERIODS[period.strip()[0].lower()]


@lru_cache(maxsize=4)
def _redis_client(location: str, options: tuple) -> redis.Redis:
    """One client (and connection pool) per process for the cache's Redis."""
    return redis.Redis.from_url(location, **dict(options))


def _redis_for_default_cache() -> redis.Redis:
    config = settings.CACHES["default"]
    location = config["LOCATION"]
    location = location[0] if isinstance(location, list | tuple) else location.split(",")[0]
    options = {
        name: value
        for name, value in (config.get("OPTIONS") or {}).items()
        if name.startswith("socket_")
    }
    return _redis_client(location, tuple(sorted(options.items())))


def _hit_all(counters: list[tuple[str, int]]) -> list[int]:
    """Increment each (key, window) counter and return the new counts: one pipelined round
    trip on Redis, whatever the number of scopes. Counts are 0 (allowed) when Redis is
    unreachable."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        try:
            pipe = _redis_for_default_cache().pipeline(transaction=False)
            for key, window in counters:
                full_key = backend.make_and_validate_key(key)
                pipe.incr(full_key)
                pipe.expire(full_key, window + 1, nx=True)
            results = pipe.execute()
        except redis.RedisError as exc:
            degraded("api_rate_limiter", exc)
            return [0] * len(counters)
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
