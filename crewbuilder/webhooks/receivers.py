"""Generation's and billing's signals → webhook events; webhook states → /metrics."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Count, Min
from django.dispatch import receiver
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

from billing.selectors import credits_balance
from billing.signals import usage_limit_reached
from crewbuilder.metrics_views import register_database_collector
from crewbuilder.webhooks.models import EventType, WebhookDelivery, WebhookEndpoint
from crewbuilder.webhooks.services import webhook_event_publish
from generation.signals import generation_failed, generation_needs_input, generation_succeeded


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def generation_payload(generation) -> dict:
    site = settings.SITE_URL.rstrip("/")
    return {
        "id": str(generation.pk),
        "status": generation.status,
        "stage": generation.stage,
        "provider": generation.provider,
        "model": generation.model,
        "key_source": generation.key_source,
        "charged_as": generation.charged_as,
        "created_at": _iso(generation.created_at),
        "finished_at": _iso(generation.finished_at),
        "error": (
            {"code": generation.error_code, "message": generation.error_message}
            if generation.error_code
            else None
        ),
        "questions": list(generation.questions or []) if generation.awaiting_answers else [],
        "api_url": f"{site}/api/v1/generations/{generation.pk}/",
        "page_url": f"{site}/generations/{generation.pk}/",
    }


def _publish_generation(event_type: str, generation) -> None:
    webhook_event_publish(
        organization_id=generation.organization_id,
        event_type=event_type,
        data={"generation": generation_payload(generation)},
        dedup_key=f"{event_type}:{generation.pk}",
    )


@receiver(generation_succeeded)
def _on_generation_succeeded(sender, generation, **kwargs) -> None:
    _publish_generation(EventType.GENERATION_SUCCEEDED, generation)


@receiver(generation_failed)
def _on_generation_failed(sender, generation, **kwargs) -> None:
    _publish_generation(EventType.GENERATION_FAILED, generation)


@receiver(generation_needs_input)
def _on_generation_needs_input(sender, generation, **kwargs) -> None:
    _publish_generation(EventType.GENERATION_NEEDS_INPUT, generation)


@receiver(usage_limit_reached)
def _on_usage_limit_reached(sender, organization_id, period_start, period_end, limit, **kwargs):
    webhook_event_publish(
        organization_id=organization_id,
        event_type=EventType.USAGE_LIMIT_REACHED,
        data={
            "usage": {
                "period_start": _iso(period_start),
                "period_end": _iso(period_end),
                "limit": limit,
                "used": limit,
                "credits": credits_balance(organization_id),
            }
        },
        # Once per period, even if the last generation is given back and taken again.
        dedup_key=f"{EventType.USAGE_LIMIT_REACHED}:{organization_id}:{_iso(period_start)}",
    )


def _webhook_states():
    pending = WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING).aggregate(
        n=Count("pk"), oldest=Min("created_at")
    )
    yield GaugeMetricFamily(
        "crewbuilder_webhook_deliveries_pending",
        "Outgoing webhook deliveries not yet delivered or given up (includes retries).",
        value=pending["n"],
    )
    age = (timezone.now() - pending["oldest"]).total_seconds() if pending["oldest"] else 0.0
    yield GaugeMetricFamily(
        "crewbuilder_webhook_oldest_pending_seconds",
        "Age of the oldest outgoing webhook delivery still pending.",
        value=max(age, 0.0),
    )
    yield GaugeMetricFamily(
        "crewbuilder_webhook_endpoints_disabled",
        "Webhook endpoints disabled (after failing for days, or by a member).",
        value=WebhookEndpoint.objects.filter(enabled=False).count(),
    )


register_database_collector(_webhook_states)
