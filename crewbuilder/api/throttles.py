"""Rate limits per API token and per organisation, counted in the shared cache (Redis in
production, so every gunicorn worker and host sees the same counters).

A fixed-window counter: one ``INCR`` + ``EXPIRE`` pipeline per scope and request on Redis
(DRF's ``SimpleRateThrottle`` keeps a list of timestamps and costs a GET and a SET of the
whole list). The window may let up to twice the rate through across a boundary, which is
acceptable for abuse protection. ``wait()`` gives the seconds to the end of the window;
DRF turns it into ``Retry-After``.

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


def _hit(key: str, window: int) -> int:
    """Increment the window counter and return the new count."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        full_key = backend.make_and_validate_key(key)
        client = backend._cache.get_client(full_key, write=True)
        pipe = client.pipeline(transaction=False)
        pipe.incr(full_key)
        pipe.expire(full_key, window + 1, nx=True)
        count, _ = pipe.execute()
        return int(count)
    backend.add(key, 0, timeout=window + 1)
    try:
        return backend.incr(key)
    except ValueError:  # expired between add and incr
        backend.set(key, 1, timeout=window + 1)
        return 1


class _WindowThrottle(BaseThrottle):
    scope = ""

    def ident(self, token: ApiToken) -> str:
        raise NotImplementedError

    def allow_request(self, request, view) -> bool:
        token = request.auth
        rate = parse_rate(api_settings.DEFAULT_THROTTLE_RATES.get(self.scope))
        if not isinstance(token, ApiToken) or rate is None:
            return True
        limit, window = rate
        now = time.time()
        bucket = int(now // window)
        self._retry_after = (bucket + 1) * window - now
        count = _hit(f"api-throttle:{self.scope}:{self.ident(token)}:{window}:{bucket}", window)
        return count <= limit

    def wait(self) -> float | None:
        return getattr(self, "_retry_after", None)


class TokenRateThrottle(_WindowThrottle):
    scope = "api_token"

    def ident(self, token: ApiToken) -> str:
        return token.prefix  # random per token, so counters never carry over to a new row


class OrganizationRateThrottle(_WindowThrottle):
    scope = "api_org"

    def ident(self, token: ApiToken) -> str:
        return str(token.organization.uuid)
