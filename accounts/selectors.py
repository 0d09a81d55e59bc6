"""Reads for accounts: the current organisation and tenant-scoped lookups."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, time, timedelta

from django.core.exceptions import ImproperlyConfigured
from django.db.models import QuerySet
from django.http import Http404, HttpRequest

from accounts.branding import custom_domains, normalise_host
from accounts.models import (
    AuditEvent,
    Invitation,
    Membership,
    Organization,
    OrganizationBranding,
    User,
)
from accounts.signals import plan_entitlements_requested


def plan_entitlements(organization: Organization):
    """What the organisation's plan allows (billing's ``Entitlements``: ``max_members``,
    ``white_label``, …). Plans belong to billing, a floor above: billing answers
    ``plan_entitlements_requested``, so accounts never imports it."""
    for _receiver, answer in plan_entitlements_requested.send(
        sender=Organization, organization=organization
    ):
        if answer is not None:
            return answer
    raise ImproperlyConfigured("No installed app answers accounts' plan_entitlements_requested.")


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


def audit_events_for(
    *,
    organization: Organization,
    action: str = "",
    actor: str = "",
    since: date | None = None,
    until: date | None = None,
) -> QuerySet[AuditEvent]:
    """An organisation's audit trail, newest first. ``action`` matches a prefix
    (``invitation`` finds ``invitation.created``…), ``actor`` part of the actor's email,
    ``since``/``until`` are inclusive UTC dates."""
    qs = AuditEvent.objects.filter(organization=organization)
    if action:
        qs = qs.filter(action__startswith=action)
    if actor:
        qs = qs.filter(actor_label__icontains=actor)
    if since is not None:
        qs = qs.filter(created_at__gte=datetime.combine(since, time.min, tzinfo=UTC))
    if until is not None:
        end = datetime.combine(until + timedelta(days=1), time.min, tzinfo=UTC)
        qs = qs.filter(created_at__lt=end)
    return qs.order_by("-created_at", "-id")


def audit_actions_for(organization: Organization) -> list[str]:
    return list(
        AuditEvent.objects.filter(organization=organization)
        .order_by("action")
        .values_list("action", flat=True)
        .distinct()
    )


def branding_for_org(organization: Organization | None) -> OrganizationBranding | None:
    """The organisation's white-label settings, or None when it has none or its plan no
    longer includes white-label (a downgrade switches branding off without deleting it)."""
    if organization is None:
        return None
    # every page reads the brand: leave the logo's bytes to the logo view
    branding = (
        OrganizationBranding.objects.filter(organization=organization).defer("logo_png").first()
    )
    if branding is None:
        return None
    if not plan_entitlements(organization).white_label:
        return None
    return branding


def branding_for_host(host: str) -> OrganizationBranding | None:
    host = normalise_host(host)
    if not host or host not in custom_domains():
        return None
    branding = (
        OrganizationBranding.objects.select_related("organization")
        .defer("logo_png")
        .filter(custom_domain=host, domain_verified_at__isnull=False)
        .first()
    )
    return branding_for_org(branding.organization) if branding else None


def branding_logo_digest(org_uuid) -> str | None:
    """The SHA-256 of a white-label organisation's logo (its ETag), without reading the
    image; None when there is none in the row or the plan has no white-label."""
    branding = (
        OrganizationBranding.objects.select_related("organization")
        .defer("logo_png")
        .filter(organization__uuid=org_uuid)
        .exclude(logo_sha256="")
        .first()
    )
    if branding is None or branding_for_org(branding.organization) is None:
        return None
    return branding.logo_sha256


def branding_logo(org_uuid) -> tuple[bytes, str] | None:
    """(PNG bytes, SHA-256) of a white-label organisation's logo, or None (no branding, no
    logo, or a plan without white-label). A 0.1.0 file not yet copied into its row
    (``manage.py branding_logos_import``) is read from storage, if this process has it."""
    branding = (
        OrganizationBranding.objects.select_related("organization")
        .filter(organization__uuid=org_uuid)
        .first()
    )
    if branding is None or branding_for_org(branding.organization) is None:
        return None
    if branding.logo_png is not None:
        return bytes(branding.logo_png), branding.logo_sha256
    if branding.logo:
        try:
            with branding.logo.open("rb") as handle:
                data = handle.read()
        except OSError:
            return None
        return data, hashlib.sha256(data).hexdigest()
    return None
