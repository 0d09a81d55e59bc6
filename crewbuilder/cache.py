"""The default cache on Redis, where the keys of named prefixes go on without it.

Django's ``RedisCache`` raises when Redis cannot be reached, and most callers want that:
a one-time key that cannot be held answers 503 (``keys.services``), ``/healthz`` reports
the cache down, and the ``/try/`` limit and the custom-domain cache catch it themselves.
But allauth keeps its rate limits (sign-in, sign-up, password reset) in the default cache
with no way to go on without it, so while Redis was down signing in answered 503 — though
sessions are in PostgreSQL.

``FailOpenRedisCache`` is ``RedisCache`` plus one setting in its ``CACHES`` entry,
``FAIL_OPEN``: ``{key prefix: component}``. A key under one of those prefixes fails open
when Redis is unreachable: a read finds nothing, an ``add`` succeeds, an ``incr`` counts
from zero (``delta``), a write or delete is dropped. For allauth's ``allauth:rl:`` keys
that lets every attempt through — the trade-off the API's rate limiter makes: abuse
protection is not worth refusing every sign-in. Every other key behaves exactly as in
``RedisCache``.

Each operation that went on without Redis is counted in
``crewbuilder_degraded_operations_total{component}`` (a sign-in is about 20: for each of
its three limits allauth takes a lock, reads, writes and unlocks, and on success rolls two
of them back the same way). A warning is logged when an
outage starts and an info line when Redis answers again: once per outage and process,
not per request. After a failure the fail-open keys do not try Redis for
``FAIL_OPEN_RETRY_SECONDS``, so a Redis that hangs (1 s socket timeout) costs one timeout
per pause, not one per operation.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any, TypeVar

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache

from crewbuilder.errors import REDIS_UNAVAILABLE
from crewbuilder.metrics import DEGRADED_OPERATIONS

logger = logging.getLogger("crewbuilder.outage")

FAIL_OPEN_RETRY_SECONDS = 2.0

T = TypeVar("T")


class _Outage:
    """Whether one Redis location is down for the fail-open keys, in this process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.retry_at: float | None = None  # None: up; else do not try before this
        self.operations = 0  # fail-open operations in the current outage

    def skipping(self) -> bool:
        with self.lock:
            if self.retry_at is None or time.monotonic() >= self.retry_at:
                return False
            self.operations += 1
            return True

    def failed(self, component: str, exc: BaseException) -> None:
        with self.lock:
            started = self.retry_at is None
            self.retry_at = time.monotonic() + FAIL_OPEN_RETRY_SECONDS
            self.operations += 1
        if started:
            logger.warning(
                "%s: Redis unavailable (%s); going on without it until it answers again",
                component,
                type(exc).__name__,
            )

    def answered(self, component: str) -> None:
        if self.retry_at is None:  # the usual case: no lock taken
            return
        with self.lock:
            if self.retry_at is None:
                return
            self.retry_at, operations, self.operations = None, self.operations, 0
        logger.info("%s: Redis is back (%d operations went on without it)", component, operations)


_outages: dict[str, _Outage] = {}
_outages_lock = threading.Lock()


def _outage_for(location: str) -> _Outage:
    with _outages_lock:
        return _outages.setdefault(location, _Outage())


class FailOpenRedisCache(RedisCache):
    """``RedisCache`` whose ``FAIL_OPEN`` key prefixes go on without Redis (module doc)."""

    def __init__(self, server: str | list[str], params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self.fail_open: dict[str, str] = dict(params.get("FAIL_OPEN") or {})
        self.outage = _outage_for(server if isinstance(server, str) else ",".join(server))

    def _component(self, keys: Iterable[Any]) -> str | None:
        """The component when every key is under a fail-open prefix, else None."""
        components = {
            next((c for prefix, c in self.fail_open.items() if str(key).startswith(prefix)), None)
            for key in keys
        }
        return components.pop() if len(components) == 1 else None

    def _guarded(self, keys: Iterable[Any], operation: Callable[[], T], fallback: T) -> T:
        component = self._component(keys)
        if component is None:
            return operation()
        if self.outage.skipping():
            DEGRADED_OPERATIONS.labels(component).inc()
            return fallback
        try:
            result = operation()
        except REDIS_UNAVAILABLE as exc:
            DEGRADED_OPERATIONS.labels(component).inc()
            self.outage.failed(component, exc)
            return fallback
        self.outage.answered(component)
        return result

    # Every keyed operation of RedisCache (its async ones, get_or_set and decr call these).
    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._guarded([key], partial(super().add, key, value, timeout, version), True)

    def get(self, key, default=None, version=None):
        return self._guarded([key], partial(super().get, key, default, version), default)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        self._guarded([key], partial(super().set, key, value, timeout, version), None)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._guarded([key], partial(super().touch, key, timeout, version), False)

    def delete(self, key, version=None):
        return self._guarded([key], partial(super().delete, key, version), False)

    def has_key(self, key, version=None):
        return self._guarded([key], partial(super().has_key, key, version), False)

    def incr(self, key, delta=1, version=None):
        return self._guarded([key], partial(super().incr, key, delta, version), delta)

    def get_many(self, keys, version=None):
        keys = list(keys)
        return self._guarded(keys, partial(super().get_many, keys, version), {})

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return self._guarded(data, partial(super().set_many, data, timeout, version), list(data))

    def delete_many(self, keys, version=None):
        self._guarded(keys, partial(super().delete_many, keys, version), None)
