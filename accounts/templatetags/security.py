from __future__ import annotations

from django import template

register = template.Library()


@register.simple_tag(takes_context=True)
def csp_nonce(context) -> str:
    """The request's CSP nonce, for the rare inline ``<script nonce="…">``."""
    request = context.get("request")
    nonce = getattr(request, "csp_nonce", "")
    return str(nonce)
