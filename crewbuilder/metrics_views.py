"""``/metrics``: the Prometheus scrape endpoint (glue floor: it reads every app's state).

Protected by ``CREWBUILDER_METRICS_TOKEN`` (``Authorization: Bearer <token>``, compared in
constant time); unset → 404, so nothing is exposed by accident. Counters come from
``crewbuilder.metrics`` (summed over every process with ``PROMETHEUS_MULTIPROC_DIR``);
states are read from the database on each scrape (a handful of aggregate queries), so
they are right whichever process changed them and need no bookkeeping.
"""

from __future__ import annotations

import hmac
import logging

from django.conf import settings
from django.db.models import Count, Min, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from generation.models import Generation

logger = logging.getLogger("crewbuilder.metrics")


class _InProcess:
    """The process's own registry (counters, process and platform collectors)."""

    def collect(self):
        return REGISTRY.collect()


class DatabaseCollector:
    """States read at scrape time."""

    def collect(self):
        by_status = GaugeMetricFamily(
            "crewbuilder_generations",
            "Generations by status (all time).",
            labels=["status"],
        )
        counts = dict(Generation.objects.values_list("status").annotate(n=Count("pk")).order_by())
        for status in Generation.Status.values:
            by_status.add_metric([status], counts.get(status, 0))
        yield by_status

        # Waiting for a worker: queued and not waiting for the user's answers.
        waiting = Generation.objects.filter(status=Generation.Status.QUEUED).exclude(
            ~Q(questions=[]) & Q(answers__isnull=True)
        )
        queue = waiting.aggregate(n=Count("pk"), oldest=Min("updated_at"))
        yield GaugeMetricFamily(
            "crewbuilder_generation_queue_depth",
            "Generations queued for a worker (not those waiting for answers).",
            value=queue["n"],
        )
        age = (timezone.now() - queue["oldest"]).total_seconds() if queue["oldest"] else 0.0
        yield GaugeMetricFamily(
            "crewbuilder_generation_oldest_queued_seconds",
            "Age of the oldest generation waiting for a worker (since it was last queued).",
            value=max(age, 0.0),
        )
        yield from extra_collectors()


_EXTRA: list = []


def register_database_collector(collect) -> None:
    """Another glue module (webhooks) adds its own scrape-time states."""
    _EXTRA.append(collect)


def extra_collectors():
    for collect in _EXTRA:
        yield from collect()


def _authorized(request: HttpRequest, token: str) -> bool:
    header = request.headers.get("Authorization", "")
    return hmac.compare_digest(header.encode(), f"Bearer {token}".encode())


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    token = settings.CREWBUILDER_METRICS_TOKEN
    if not token:
        raise Http404
    if not _authorized(request, token):
        response = HttpResponse("Unauthorized.\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    registry = CollectorRegistry(auto_describe=False)
    if settings.PROMETHEUS_MULTIPROC_DIR:
        MultiProcessCollector(registry, path=settings.PROMETHEUS_MULTIPROC_DIR)
    else:
        registry.register(_InProcess())
    registry.register(DatabaseCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
