"""Optional error reporting to Sentry, switched on by ``SENTRY_DSN``.

Nothing secret leaves the process: local variables are never captured, request bodies and
cookies are not sent, and every event passes through ``before_send``, which runs the same
redaction as our logs (``crewbuilder.redaction``) over the whole event.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crewbuilder.redaction import REDACTED, redact_mapping

if TYPE_CHECKING:
    from sentry_sdk.types import Event, Hint

_DROP_HEADERS = {"cookie", "authorization", "x-csrftoken", "proxy-authorization"}


def before_send(event: Event, hint: Hint | None = None) -> Event:
    """Scrub an event: drop cookies, bodies and auth headers, redact secret-looking text."""
    request = event.get("request")
    if isinstance(request, dict):
        request.pop("cookies", None)
        request.pop("data", None)
        headers = request.get("headers")
        if isinstance(headers, dict):
            request["headers"] = {
                name: (REDACTED if name.lower() in _DROP_HEADERS else value)
                for name, value in headers.items()
            }
    # Belt and braces: local variables are off at init, but never forward any frame vars.
    for exc in (event.get("exception") or {}).get("values") or []:
        for frame in (exc.get("stacktrace") or {}).get("frames") or []:
            frame.pop("vars", None)
    return redact_mapping(event)


def init_sentry(
    *,
    dsn: str,
    environment: str,
    release: str | None = None,
    traces_sample_rate: float = 0.0,
    **extra: Any,
) -> None:
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release,
        # No user identity, bodies, frame variables or SQL parameters (send_default_pii is
        # deprecated in favour of this structured option).
        data_collection={
            "user_info": False,
            "http_bodies": [],
            "stack_frame_variables": False,
            "database_query_data": False,
        },
        include_local_variables=False,
        max_request_body_size="never",
        before_send=before_send,
        before_send_transaction=before_send,
        traces_sample_rate=traces_sample_rate,
        # Only what we name: no automatic LLM-SDK integrations recording prompts.
        integrations=[DjangoIntegration(), CeleryIntegration()],
        auto_enabling_integrations=False,
        **extra,
    )
