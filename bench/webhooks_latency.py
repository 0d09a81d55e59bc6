"""Outgoing webhook latency, from the commit of the event to the receiver, beside a bare
HTTP POST to the same receiver, in one run.

    DATABASE_URL=postgres://… REDIS_URL=redis://… .venv/bin/python bench/webhooks_latency.py

1. starts a local receiver (tests/webhooks/receiver.py: a real HTTP server) and one
   ``celery -A crewbuilder worker --pool threads`` subprocess on the given Redis;
2. baseline: N plain signed-size POSTs from this process to the receiver (what the HTTP
   round trip alone costs here);
3. CrewBuilder: N events published one after another (each in its own transaction, as
   generation/billing signals do after commit); latency = time the receiver got it minus
   the commit; the worker signs, checks the address (SSRF guard) and posts;
4. a second phase where the receiver answers every first attempt 503: the worker records
   the failure and schedules the retry (30 s out); the bench makes it due at once and
   sends ``webhooks.deliver_due`` (beat's job) to measure the retry path itself, and
   reports the retries observed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crewbuilder.settings")
os.environ.setdefault("CREWBUILDER_TESTING", "true")
os.environ["CREWBUILDER_WEBHOOK_RUNNER"] = "celery"
os.environ["CREWBUILDER_WEBHOOK_ALLOW_HTTP"] = "true"
os.environ["CREWBUILDER_WEBHOOK_ALLOW_LOOPBACK"] = "true"


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


def row(label: str, ms: list[float]) -> None:
    print(
        f"{label:<34}{pct(ms, 0.5):>9.1f}{pct(ms, 0.99):>9.1f}{statistics.mean(ms):>9.1f}{len(ms):>6}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=200)
    args = parser.parse_args()
    if not (
        os.environ.get("DATABASE_URL", "").startswith("postgres") and os.environ.get("REDIS_URL")
    ):
        print("needs DATABASE_URL=postgres://… and REDIS_URL=redis://…")
        return 2

    import django

    django.setup()
    import redis
    from django.core.management import call_command
    from django.db import transaction

    from accounts.models import User
    from accounts.services import organization_create
    from crewbuilder.webhooks import services
    from crewbuilder.webhooks.models import WebhookDelivery
    from crewbuilder.webhooks.tasks import webhook_deliveries_due_task
    from tests.factories import plan_assign
    from tests.processes import celery_start, celery_worker_args
    from tests.webhooks.receiver import Receiver

    call_command("migrate", verbosity=0)
    n = args.events
    tag = uuid.uuid4().hex[:8]
    owner = User.objects.create_user(email=f"bench-{tag}@example.com")
    org = organization_create(name=f"bench {tag}", owner=owner)
    plan_assign(org, "enterprise")
    queue = redis.Redis.from_url(os.environ["REDIS_URL"])
    queue.delete("celery", "unacked", "unacked_index")
    log = Path(tempfile.mkstemp(prefix="bench-webhooks-", suffix=".log")[1])
    worker = celery_start(
        celery_worker_args(f"hooks-{tag}@%h", concurrency=8),
        env={**os.environ, "LOG_LEVEL": "WARNING"},
        log=log,
    )
    try:
        with Receiver() as receiver:
            endpoint = services.webhook_endpoint_create(
                organization=org, actor=owner, url=receiver.url(), events=["generation.failed"]
            ).endpoint

            # Baseline: the bare round trip to the same receiver, same body size.
            body = b"x" * 400
            base_ms = []
            for _ in range(n):
                start = time.perf_counter()
                request = urllib.request.Request(receiver.url(), data=body, method="POST")  # noqa: S310
                with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                    response.read()
                base_ms.append((time.perf_counter() - start) * 1000)
            receiver.requests.clear()

            def publish(i: int, phase: str) -> float:
                with transaction.atomic():
                    transaction.on_commit(
                        lambda: services.webhook_event_publish(
                            organization_id=org.pk,
                            event_type="generation.failed",
                            data={"i": i, "phase": phase, "sent": time.time()},
                            dedup_key=f"bench:{tag}:{phase}:{i}",
                        )
                    )
                    committed = time.time()
                return committed

            # Warm-up: the worker is up and has delivered one.
            publish(-1, "warm")
            if len(receiver.wait_for(1, timeout=120)) < 1:
                print("worker did not deliver; see", log)
                return 1
            receiver.requests.clear()

            # Phase 1: healthy receiver, events one after another (each waits for the last).
            latencies = []
            for i in range(n):
                committed = publish(i, "ok")
                receiver.wait_for(i + 1, timeout=60)
                arrived = time.time()
                latencies.append((arrived - committed) * 1000)
            ordered = [json.loads(r.body)["data"]["i"] for r in receiver.requests]

            # Phase 2: every first attempt answered 503; retries picked up by deliver_due.
            m = max(10, n // 10)
            receiver.requests.clear()
            retry_ms = []
            for i in range(m):
                receiver.statuses = [503]
                committed = publish(i, "retry")
                receiver.wait_for(1 + 2 * i, timeout=60)  # the failed first attempt
                # The worker records the failure and schedules the retry ~30 s out; once
                # that is committed, make it due now (as beat's deliver_due would find it
                # later) to measure the retry path itself.
                failed = WebhookDelivery.objects.filter(
                    endpoint=endpoint, event__data__phase="retry", event__data__i=i, attempts=1
                )
                deadline = time.monotonic() + 60
                while not failed.exists() and time.monotonic() < deadline:
                    time.sleep(0.005)
                failed.update(next_attempt_at=django.utils.timezone.now())
                webhook_deliveries_due_task.delay()
                receiver.wait_for(2 + 2 * i, timeout=60)
                retry_ms.append((time.time() - committed) * 1000)
            retried = WebhookDelivery.objects.filter(
                endpoint=endpoint, event__data__phase="retry", status="succeeded"
            )
            attempts = sum(d.attempts for d in retried)
    finally:
        worker.terminate()
        worker.wait(timeout=30)

    print(f"{n} events, one Celery thread-pool worker; load average {os.getloadavg()[0]:.1f}")
    print(f"{'':34}{'p50 ms':>9}{'p99 ms':>9}{'mean':>9}{'n':>6}")
    row("bare HTTP POST (baseline)", base_ms)
    row("commit → receiver (CrewBuilder)", latencies)
    row("commit → receiver, 1 retry", retry_ms)
    print(f"in order: {ordered == list(range(n))}")
    print(
        f"retry phase: {retried.count()} events delivered with {attempts} attempts "
        f"({attempts - retried.count()} retries observed)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
