from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from accounts.http import OrgRequest
from accounts.models import Membership

SESSION_KEY = "current_organization_id"


def current_membership(request: HttpRequest) -> Membership | None:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    memberships = Membership.objects.filter(user=user).select_related("organization")
    wanted = request.session.get(SESSION_KEY)
    membership = memberships.filter(organization_id=wanted).first() if wanted is not None else None
    if membership is None:
        # Not a member any more (or never chose): fall back to the oldest membership.
        membership = memberships.order_by("created_at", "id").first()
        if membership is not None:
            request.session[SESSION_KEY] = membership.organization_id
    return membership


class CurrentOrganizationMiddleware:
    """Attach ``request.membership`` and ``request.organization`` for signed-in users.

    The role is read on every request (one query), so a demotion or removal takes effect
    on the very next request.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: OrgRequest):
        membership = current_membership(request)
        request.membership = membership
        request.organization = membership.organization if membership else None
        return self.get_response(request)


def _branding_for(request: OrgRequest):
    from accounts import selectors

    organization = getattr(request, "organization", None)
    if organization is not None:
        return selectors.branding_for_org(organization)
    return selectors.branding_for_host(request.get_host())


class BrandingMiddleware:
    """Attach ``request.branding``: the member's organisation's white-label settings, or, for
    anonymous visitors, those of the organisation whose custom domain was requested.
    Evaluated lazily, so pages that never render the brand pay nothing."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: OrgRequest):
        request.branding = SimpleLazyObject(lambda: _branding_for(request))
        return self.get_response(request)
