from __future__ import annotations

from celery import shared_task

from billing import services


@shared_task(acks_late=True)
def usage_anomaly_scan_task() -> int:
    """Hourly (beat): flag organisations whose platform usage today is anomalous."""
    return len(services.usage_anomaly_scan())
