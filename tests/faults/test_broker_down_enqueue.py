"""Enqueue never keeps a charge for work that was not queued (issue 10): a real process
(Django set up exactly as production reads its settings) whose broker URL points at a
port nothing listens on creates generations in pytest's test database.

- Someone waiting (the page, the API): the generation is failed with ``queue_unavailable``,
  its charge released exactly once, and ``ServiceUnavailable`` (503, Retry-After) raised
  within the bounded publish timeout.
- Nobody waiting (the paid guest's Stripe webhook): the generation stays queued with its
  charge, for the stale-work scan to queue again, and the broker error is raised (Stripe
  retries the webhook, which then finds the generation started)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from django.db import connection

from billing.models import GenerationCharge
from billing.selectors import usage_for
from generation.models import Generation
from tests.conftest import require_service
from tests.factories import plan_assign
from tests.faults.conftest import BASE_DIR, app_env, free_port, test_database_url

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True)]

REQ = "Collect EV battery market news, group it by theme and write a report for our executives."
SCRIPT = """
import json, sys, time, django
django.setup()
from accounts.models import Organization
from crewbuilder.errors import ServiceUnavailable
from generation.services import generation_create
org = Organization.objects.get(pk=int(sys.argv[1]))
out = {}
for name, refuse in (("waiting", True), ("webhook", False)):
    started = time.monotonic()
    try:
        g = generation_create(organization=org, user=None, requirement=sys.argv[2],
                              key_source="platform", provider="openai", refuse_unqueued=refuse)
        out[name] = {"raised": None}
    except Exception as exc:
        out[name] = {"raised": type(exc).__name__,
                     "status": getattr(exc, "status", None),
                     "retry_after": getattr(exc, "retry_after", None)}
    out[name]["seconds"] = time.monotonic() - started
print(json.dumps(out))
"""


def test_broker_down_enqueue_is_503_and_nothing_charged(tenant):
    require_service("PostgreSQL", connection.vendor == "postgresql")
    plan_assign(tenant.org, "professional")
    env = app_env(
        database_url=test_database_url(),
        redis_url=f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
        OPENAI_API_KEY="sk-canary0000SECRET0000openai0000key0000xyz",
    )
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tenant.org.pk), REQ],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    print("\nbroker down:", out)  # noqa: T201

    waiting = out["waiting"]
    assert (waiting["raised"], waiting["status"]) == ("ServiceUnavailable", 503)
    assert waiting["retry_after"] > 0 and waiting["seconds"] < 10
    refused = Generation.objects.get(organization=tenant.org, error_code="queue_unavailable")
    assert refused.status == "failed" and "queue" in refused.error_message
    assert refused.charged_as == "quota"
    charge = GenerationCharge.objects.get(generation_id=refused.pk)
    assert charge.status == "released"

    assert out["webhook"]["raised"] == "OperationalError"
    kept = Generation.objects.get(organization=tenant.org, status="queued")
    assert GenerationCharge.objects.get(generation_id=kept.pk).status == "reserved"
    # recorded, so the scan that queues it again says the queue was down, not a worker
    assert kept.queue_unavailable_at is not None and not kept.worker_lost
    # only the generation still queued holds a charge
    assert usage_for(tenant.org)["used"] == 1
