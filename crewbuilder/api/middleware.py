"""Errors Django produces outside an API view still answer in the API's envelope.

Under ``/api/``: a body larger than ``CREWBUILDER_API_MAX_BODY_BYTES`` is refused with 413
before anything parses it (DRF's JSON parser reads the stream directly, so Django's
``DATA_UPLOAD_MAX_MEMORY_SIZE`` would not stop it); any non-JSON error response (unknown
URL 404, 405 from a plain Django view, the 500 page, a 400 for a bad Host) is replaced by
``{"error": {...}}`` with the same status.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from crewbuilder.api.exceptions import error_response
from crewbuilder.connection import CLOSE_CONNECTION

API_PREFIX = "/api/"
_DRAIN_CHUNK = 64 * 1024


def _content_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except (TypeError, ValueError):
        return -1


def _discard_body(request: HttpRequest, length: int) -> None:
    """Read and drop a refused body up to ``CREWBUILDER_API_DRAIN_MAX_BYTES``, so the
    413 reaches a client still sending it and the keep-alive connection stays usable.
    A larger body is not read at all: the connection is closed after the 413 instead,
    announced with ``Connection: close``."""
    if length > settings.CREWBUILDER_API_DRAIN_MAX_BYTES:
        request.META[CLOSE_CONNECTION] = True
        return
    stream = request.META.get("wsgi.input")
    left = length
    try:
        while left > 0 and stream is not None:
            chunk = stream.read(min(_DRAIN_CHUNK, left))
            if not chunk:
                break
            left -= len(chunk)
    except OSError:
        left = 1
    if left > 0:  # the client stopped sending: do not reuse the connection
        request.META[CLOSE_CONNECTION] = True


class ApiErrorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith(API_PREFIX):
            return self.get_response(request)
        length = _content_length(request)
        if length < 0:
            return error_response(status_code=400, message="Invalid Content-Length header.")
        limit = settings.CREWBUILDER_API_MAX_BODY_BYTES
        if length > limit:
            _discard_body(request, length)
            return error_response(
                status_code=413,
                message=f"The request body is too large (at most {limit} bytes).",
            )
        response = self.get_response(request)
        if response.status_code >= 400 and not response.get("Content-Type", "").startswith(
            "application/json"
        ):
            wrapped = error_response(status_code=response.status_code)
            for header in ("Retry-After", "Allow", "WWW-Authenticate"):
                if header in response:
                    wrapped[header] = response[header]
            return wrapped
        return response
