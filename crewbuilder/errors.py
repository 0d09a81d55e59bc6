"""The application's one error type, and which failures mean "a dependency is down".

A service raises an ``ApplicationError`` (or an app's subclass of it: billing's
``PaymentRequired``, keys' ``ProviderKeyExists``, generation's ``IdempotencyConflict`` …)
for an outcome the caller should show as it is: it carries the HTTP ``status``, a stable
machine ``code`` for the API envelope, a ``message`` that is safe to show, and optionally
``retry_after`` seconds. Two places turn it into a response, and nothing else has to know
the app's exception classes:

- the API: ``crewbuilder.api.exceptions.api_exception_handler`` → the error envelope;
- pages: ``crewbuilder.error_pages.ErrorPageMiddleware`` → the error page for its status.

``unavailable(exc)`` says whether an exception means a dependency (PostgreSQL, Redis as
cache or broker) could not be reached; both places answer those with 503 and
``Retry-After`` instead of a 500.

The bottom floor: this module imports nothing from our apps, so every app may raise it.
"""

from __future__ import annotations

from django.db import InterfaceError as DatabaseInterfaceError
from django.db import OperationalError as DatabaseOperationalError
from kombu.exceptions import OperationalError as BrokerOperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

# Seconds a client is told to wait after a 503 for a dependency that is down.
RETRY_AFTER_UNAVAILABLE = 30


class ApplicationError(Exception):
    """An outcome with an HTTP status and a code, whose message is safe to show."""

    status: int = 400
    code: str = "invalid"
    retry_after: int | None = None

    def __init__(
        self,
        message: str = "",
        *,
        code: str | None = None,
        status: int | None = None,
        retry_after: int | None = None,
    ):
        super().__init__(message or self.__doc__ or self.code)
        self.message = str(self.args[0])
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        if retry_after is not None:
            self.retry_after = retry_after


class ServiceUnavailable(ApplicationError):
    """The service is briefly unavailable. Nothing was charged; please try again shortly."""

    status = 503
    code = "service_unavailable"
    retry_after = RETRY_AFTER_UNAVAILABLE


# What a dependency being down looks like from here: the database (connection refused or
# lost, server shutting down), Redis as cache (redis-py) or as Celery broker (kombu wraps
# the transport's errors in its OperationalError when publishing gives up).
DATABASE_UNAVAILABLE = (DatabaseOperationalError, DatabaseInterfaceError)
REDIS_UNAVAILABLE = (RedisConnectionError, RedisTimeoutError)
BROKER_UNAVAILABLE = (BrokerOperationalError, *REDIS_UNAVAILABLE, ConnectionError, TimeoutError)
UNAVAILABLE = (*DATABASE_UNAVAILABLE, *REDIS_UNAVAILABLE, BrokerOperationalError)


def unavailable(exc: BaseException) -> str | None:
    """Which dependency ``exc`` says is down (``"database"``, ``"redis"``, ``"broker"``),
    or None when it is something else (a bug: a 500)."""
    if isinstance(exc, DATABASE_UNAVAILABLE):
        return "database"
    if isinstance(exc, REDIS_UNAVAILABLE):
        return "redis"
    if isinstance(exc, BrokerOperationalError):
        return "broker"
    return None
