"""Content-Security-Policy with a fresh nonce per request.

Scripts run only from our own origin or from an inline ``<script nonce="{% csp_nonce %}">``;
there is no ``'unsafe-inline'`` for scripts and no inline event handlers (``static/js/app.js``
wires behaviour from ``data-`` attributes instead). Inline *styles* stay allowed: htmx
injects its indicator style and progress bars set a width, and a style cannot run code.
"""

from __future__ import annotations

import secrets

from django.http import HttpResponse
from django.utils.functional import SimpleLazyObject

from crewbuilder.http import WebRequest

HEADER = "Content-Security-Policy"
FORM_REDIRECT_TARGETS = ["https://checkout.stripe.com", "https://billing.stripe.com"]


def build_policy(nonce: str) -> str:
    directives = {
        "default-src": "'self'",
        "script-src": f"'self' 'nonce-{nonce}'",
        "style-src": "'self' 'unsafe-inline'",
        "img-src": "'self' data:",
        "font-src": "'self'",
        "connect-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'self'",
        # Chrome applies form-action to the redirect after a POST: Stripe Checkout/Portal.
        "form-action": "'self' " + " ".join(FORM_REDIRECT_TARGETS),
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: WebRequest) -> HttpResponse:
        # Lazy: the token is only generated when a template (or the header) asks for it.
        request.csp_nonce = SimpleLazyObject(lambda: secrets.token_urlsafe(18))
        response = self.get_response(request)
        if HEADER not in response and not getattr(response, "csp_exempt", False):
            response[HEADER] = build_policy(str(request.csp_nonce))
        return response
