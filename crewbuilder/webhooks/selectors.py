"""Outgoing webhook reads, always scoped to one organisation."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import QuerySet

from crewbuilder.webhooks.models import WebhookDelivery, WebhookEndpoint

if TYPE_CHECKING:
    from accounts.models import Organization


def webhook_endpoints_of(*, organization: Organization | None) -> QuerySet[WebhookEndpoint]:
    if organization is None:
        return WebhookEndpoint.objects.none()
    return WebhookEndpoint.objects.filter(organization=organization).select_related("organization")


def deliveries_of(*, endpoint: WebhookEndpoint) -> QuerySet[WebhookDelivery]:
    return WebhookDelivery.objects.filter(endpoint=endpoint).select_related("event")


def recent_deliveries(*, endpoint: WebhookEndpoint, limit: int = 50) -> list[WebhookDelivery]:
    return list(deliveries_of(endpoint=endpoint).order_by("-created_at", "-pk")[:limit])
