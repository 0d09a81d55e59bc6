from __future__ import annotations

import logging

from celery import shared_task

from crewbuilder.webhooks import services

logger = logging.getLogger("crewbuilder.webhooks")


@shared_task(name=services.FLUSH_TASK, ignore_result=True, acks_late=True)
def webhook_endpoint_flush_task(endpoint_id: int) -> int:
    """Send what is due for one endpoint (queued after an event commits, a resend, or by
    the beat job below for retries)."""
    return services.webhook_endpoint_flush(endpoint_id=endpoint_id)


@shared_task(name="webhooks.deliver_due", ignore_result=True)
def webhook_deliveries_due_task() -> int:
    """Every 30 s on beat: queue a flush for each endpoint with a retry due."""
    due = services.webhook_endpoints_due()
    for endpoint_id in due:
        webhook_endpoint_flush_task.delay(endpoint_id)
    return len(due)
