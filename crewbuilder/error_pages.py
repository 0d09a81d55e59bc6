"""Pages' side of the one error layer (the API's is ``crewbuilder.api.exceptions``).

- ``ErrorPageMiddleware.process_exception``: an ``ApplicationError`` a view lets through
  becomes the page for its status (403, 404, 402 …) with its message; a dependency that
  is down (database, Redis) becomes the 503 page with ``Retry-After``.
- ``server_error`` (``handler500``): the same 503 for a dependency that failed outside a
  view (a middleware reading the session or the membership while PostgreSQL is down);
  anything else is a real bug and gets the plain 500 page.

The 503 page is rendered without the request's context processors (they read the
database), so it can always be shown.
"""

from __future__ import annotations

import sys

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template import loader
from django.views import defaults

from crewbuilder.api.exceptions import error_response
from crewbuilder.errors import ApplicationError, ServiceUnavailable, unavailable
from crewbuilder.outage import unavailable_response

API_PREFIX = "/api/"
# Pages that have a dedicated template for an application error's status.
_TEMPLATES = {
    402: "generation/payment_required.html",
    403: "403.html",
    404: "404.html",
}


def unavailable_page(exc: ApplicationError | None = None) -> HttpResponse:
    """The friendly 503 page, with ``Retry-After``."""
    exc = exc or ServiceUnavailable()
    body = loader.render_to_string("503.html", {"message": exc.message})
    response = HttpResponse(body, status=503)
    response["Retry-After"] = str(exc.retry_after or ServiceUnavailable.retry_after)
    return response


def application_error_page(request: HttpRequest, exc: ApplicationError) -> HttpResponse:
    if exc.status == 503:
        return unavailable_page(exc)
    template = _TEMPLATES.get(exc.status, "error.html")
    response = render(request, template, {"message": exc.message, "error": exc}, status=exc.status)
    if exc.retry_after:
        response["Retry-After"] = str(exc.retry_after)
    return response


def _api_error(exc: ApplicationError) -> HttpResponse:
    response = error_response(status_code=exc.status, code=exc.code, message=exc.message)
    if exc.retry_after:
        response["Retry-After"] = str(exc.retry_after)
    return response


def response_for(request: HttpRequest, exc: BaseException) -> HttpResponse | None:
    """The response for an application error or a dependency outage; None for anything
    else (a bug: Django's 500 path, logged and reported)."""
    if dependency := unavailable(exc):
        unavailable_response(dependency, exc)
        exc = ServiceUnavailable()
    if not isinstance(exc, ApplicationError):
        return None
    if request.path_info.startswith(API_PREFIX):
        return _api_error(exc)
    return application_error_page(request, exc)


class ErrorPageMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception):
        return response_for(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``: Django calls it while handling the exception, so it is still
    ``sys.exc_info()`` here."""
    exc = sys.exc_info()[1]
    if exc is not None and unavailable(exc):
        unavailable_response(unavailable(exc), exc)
        return unavailable_page()
    return defaults.server_error(request)
