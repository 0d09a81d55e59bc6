from __future__ import annotations

from celery import shared_task

from billing import services
from billing.guest_passes import guest_passes_expire


@shared_task(name="billing.scan_usage_anomalies", acks_late=True)
def usage_anomaly_scan_task() -> int:
    """Hourly (beat): flag organisations whose platform usage today is anomalous."""
    return len(services.usage_anomaly_scan())


@shared_task(name="billing.expire_guest_passes", acks_late=True)
def guest_passes_expire_task() -> int:
    """Daily (beat): remove guest generations nobody signed up to keep."""
    return guest_passes_expire()
