"""The request our ground-floor middleware builds, for annotations only (django-stubs'
documented way: an ``HttpRequest`` subclass that no code instantiates). Django still
passes a plain ``HttpRequest``; this class only tells mypy which attributes
``crewbuilder.csp`` and django-htmx put on it. The attributes ``accounts``' middleware
adds (organisation, membership, branding) and a signed-in ``user`` are declared one floor
up, in ``accounts.http``, next to the models they name."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest

if TYPE_CHECKING:
    from django.utils.functional import SimpleLazyObject
    from django_htmx.middleware import HtmxDetails


class WebRequest(HttpRequest):
    # a lazy str, made on first use (crewbuilder.csp.ContentSecurityPolicyMiddleware)
    csp_nonce: SimpleLazyObject
    # django_htmx.middleware.HtmxMiddleware
    htmx: HtmxDetails
