"""One error envelope for every API error: ``{"error": {"code", "message", "fields"?}}``.

``api_exception_handler`` (DRF's EXCEPTION_HANDLER) covers everything raised inside an API
view: an ``ApplicationError`` from any service (status, code, message and ``Retry-After``
come from the exception, so this module knows no app's exception classes), DRF's own
exceptions, and Django's ValidationError / PermissionDenied / Http404. A dependency that
is down (the database, Redis) answers 503 with ``Retry-After``, never a 500. Errors
produced by Django outside a view (unknown URL, 500, body too large) are rewrapped by
``crewbuilder.api.middleware.ApiErrorMiddleware`` through ``error_response``.

Every message goes through ``redact`` so a secret pasted into the wrong field can never be
echoed back.
"""

from __future__ import annotations

import math

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from crewbuilder.errors import ApplicationError, ServiceUnavailable, unavailable
from crewbuilder.outage import unavailable_response
from crewbuilder.redaction import redact

DEFAULT_CODES = {
    400: "invalid",
    401: "unauthenticated",
    402: "payment_required",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "throttled",
    500: "server_error",
    503: "service_unavailable",
}
DEFAULT_MESSAGES = {
    400: "The request is not valid.",
    401: "Authentication required: send Authorization: Bearer cb_… with an API token.",
    402: "No generations left on the plan and no credit: buy credits or upgrade.",
    403: "You are not allowed to do that.",
    404: "Not found.",
    405: "Method not allowed.",
    409: "Conflict.",
    413: "The request body is too large.",
    429: "Too many requests. Retry after the number of seconds in Retry-After.",
    500: "Something went wrong on our side. The error has been logged.",
    503: ServiceUnavailable.__doc__,
}


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = DEFAULT_MESSAGES[409]
    default_code = "conflict"


def envelope(*, status_code: int, code: str | None = None, message: str | None = None, fields=None):
    body: dict = {
        "code": code or DEFAULT_CODES.get(status_code, "error"),
        "message": redact(str(message or DEFAULT_MESSAGES.get(status_code, "Error."))),
    }
    if fields:
        body["fields"] = fields
    return {"error": body}


def error_response(
    *, status_code: int, code: str | None = None, message: str | None = None, fields=None
) -> JsonResponse:
    """A plain Django JSON response in the envelope (for errors raised outside DRF)."""
    return JsonResponse(
        envelope(status_code=status_code, code=code, message=message, fields=fields),
        status=status_code,
    )


def _flatten(detail, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail → {"field" or "parent.child": [messages]}."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            for k, v in _flatten(value, name).items():
                out.setdefault(k, []).extend(v)
    elif isinstance(detail, list):
        for index, item in enumerate(detail):
            if isinstance(item, dict | list):
                for k, v in _flatten(item, f"{prefix}.{index}" if prefix else str(index)).items():
                    out.setdefault(k, []).extend(v)
            else:
                out.setdefault(prefix or "non_field_errors", []).append(redact(str(item)))
    else:
        out.setdefault(prefix or "non_field_errors", []).append(redact(str(detail)))
    return out


def _validation_fields(exc: DjangoValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {
            ("non_field_errors" if name == "__all__" else name): [redact(m) for m in messages]
            for name, messages in exc.message_dict.items()
        }
    return {"non_field_errors": [redact(m) for m in exc.messages]}


def _message_for_fields(fields: dict[str, list[str]]) -> str:
    general = fields.get("non_field_errors")
    if general:
        return general[0]
    names = ", ".join(sorted(fields))
    return f"Invalid input: {names}."


def application_error_response(exc: ApplicationError) -> Response:
    headers = {}
    if exc.retry_after:
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
    message = str(exc) or DEFAULT_MESSAGES.get(exc.status)
    return Response(
        envelope(status_code=exc.status, code=exc.code, message=message),
        status=exc.status,
        headers=headers,
    )


def api_exception_handler(exc, context) -> Response | None:
    headers: dict[str, str] = {}
    if isinstance(exc, DjangoValidationError):
        fields = _validation_fields(exc)
        data = envelope(status_code=400, message=_message_for_fields(fields), fields=fields)
        set_rollback()
        return Response(data, status=400)
    if dependency := unavailable(exc):
        unavailable_response(dependency, exc)
        exc = ServiceUnavailable()
    if isinstance(exc, ApplicationError):
        set_rollback()
        return application_error_response(exc)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    if not isinstance(exc, exceptions.APIException):
        return None  # a real bug: Django logs it and the middleware answers a 500 envelope
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(max(1, math.ceil(exc.wait)))
    status_code = exc.status_code
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        data = envelope(status_code=400, message=_message_for_fields(fields), fields=fields)
    else:
        detail = exc.detail
        if isinstance(detail, dict | list):
            fields = _flatten(detail)
            message = _message_for_fields(fields)
        else:
            message = str(detail)
        code = getattr(detail, "code", None)
        if not code or code in ("error", "not_authenticated", "permission_denied"):
            code = DEFAULT_CODES.get(status_code, "error")
        if isinstance(exc, exceptions.NotAuthenticated):
            message = DEFAULT_MESSAGES[401]
        if isinstance(exc, exceptions.Throttled):
            code, message = "throttled", DEFAULT_MESSAGES[429]
        data = envelope(status_code=status_code, code=code, message=message)
    set_rollback()
    return Response(data, status=status_code, headers=headers)
