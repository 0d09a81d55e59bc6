"""Reporting a dependency outage without flooding the log.

During an outage every request meets the same error: each one is counted in the
Prometheus metrics, but a warning is logged at most once per ``WARN_INTERVAL_SECONDS``
per component and process (the count of those not logged goes with the next warning).
"""

from __future__ import annotations

import logging
import threading
import time

from crewbuilder.metrics import DEGRADED_OPERATIONS, UNAVAILABLE_RESPONSES

logger = logging.getLogger("crewbuilder.outage")

WARN_INTERVAL_SECONDS = 60.0

_lock = threading.Lock()
_last_warned: dict[str, float] = {}
_suppressed: dict[str, int] = {}


def _should_warn(name: str) -> int | None:
    """None when a warning for ``name`` was logged within the interval; otherwise the
    number of occurrences not logged since the last warning."""
    now = time.monotonic()
    with _lock:
        last = _last_warned.get(name)
        if last is not None and now - last < WARN_INTERVAL_SECONDS:
            _suppressed[name] = _suppressed.get(name, 0) + 1
            return None
        _last_warned[name] = now
        return _suppressed.pop(name, 0)


def degraded(component: str, exc: BaseException) -> None:
    """``component`` went on without Redis (fail open) after ``exc``."""
    DEGRADED_OPERATIONS.labels(component).inc()
    suppressed = _should_warn(f"degraded:{component}")
    if suppressed is not None:
        logger.warning(
            "%s: Redis unavailable (%s); going on without it (%d more since last warning)",
            component,
            type(exc).__name__,
            suppressed,
        )


def unavailable_response(dependency: str, exc: BaseException) -> None:
    """A request is answered 503 because ``dependency`` is down."""
    UNAVAILABLE_RESPONSES.labels(dependency).inc()
    suppressed = _should_warn(f"unavailable:{dependency}")
    if suppressed is not None:
        logger.warning(
            "%s unavailable (%s): answering 503 (%d more since last warning)",
            dependency,
            type(exc).__name__,
            suppressed,
        )
