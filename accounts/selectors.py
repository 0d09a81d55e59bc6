"""Reads for accounts: the current organisation and tenant-scoped lookups."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404, HttpRequest

from accounts.models import Invitation, Membership, Organization, User


def memberships_for(user: User) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(user=user)
        .select_related("organization")
        .order_by("organization__name")
    )


def organization_members(organization: Organization) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(organization=organization)
        .select_related("user")
        .order_by("created_at")
    )


def pending_invitations(organization: Organization) -> QuerySet[Invitation]:
    return Invitation.objects.filter(organization=organization, status=Invitation.Status.PENDING)


def scope_to_org(queryset: QuerySet, request: HttpRequest, field: str = "organization") -> QuerySet:
    """Limit any queryset to the caller's current organisation (nothing when there is none)."""
    org = getattr(request, "organization", None)
    if org is None:
        return queryset.none()
    return queryset.filter(**{field: org})


def get_for_org_or_404(
    queryset: QuerySet, request: HttpRequest, field: str = "organization", **lookup
):
    """Fetch one object of the caller's organisation; another organisation's object is a 404."""
    obj = scope_to_org(queryset, request, field).filter(**lookup).first()
    if obj is None:
        raise Http404("Not found.")
    return obj
