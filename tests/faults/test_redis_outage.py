"""A Redis outage degrades, it does not break (issues 16 and 10), on a production-shaped
stack: gunicorn (the repo's config) and a Celery worker on a PRIVATE redis-server (broker
and cache) and pytest's PostgreSQL test database, a local fake LLM, and a few threads of
load. Redis is stopped for 15 s and started again (its append-only file kept, like
docker-compose's), with no mock anywhere:

- no request answers 500; reads (generation list and detail, usage, keys) answer 200 from
  PostgreSQL; web pages answer 200;
- creating a generation answers 503 in the envelope with Retry-After (the page: the form
  again with the requirement and a friendly message); each refused generation is failed
  with the reason ``queue_unavailable`` and its charge given back, so usage counts only
  the generations that ran;
- every accepted generation is terminal within 3 minutes of Redis coming back.
"""

from __future__ import annotations

import re
import time

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from accounts.models import ApiToken
from billing.models import GenerationCharge
from billing.selectors import usage_for
from crewbuilder.api.tokens import api_token_create
from generation.models import Generation
from tests.conftest import require_service
from tests.factories import plan_assign
from tests.faults.conftest import (
    app_env,
    celery_beat,
    celery_worker,
    gunicorn,
    test_database_url,
    wait_for,
)
from tests.faults.load import Load

pytestmark = [
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

CANARY_OPENAI = "sk-canary0000SECRET0000openai0000key0000xyz"
REQ = "Collect EV battery market news, group it by theme and write a report for our executives."
OUTAGE_SECONDS = 15
TERMINAL = ("succeeded", "failed")


def _create(client):
    return client.post(
        "/api/v1/generations/",
        json={"requirement": REQ, "key_source": "platform", "provider": "openai"},
    )


def _page_create(client):
    token = client.cookies.get("csrftoken")  # set by the GET /generate/ before
    return client.post(
        "/generate/",
        data={
            "requirement": REQ,
            "key_choice": "platform",
            "provider": "openai",
            "csrfmiddlewaretoken": token,
        },
    )


def _until_accepted(load: Load, phase: str) -> None:
    """Wait until an API create and a page create were accepted in ``phase``."""
    wait_for(
        lambda: (
            any(r.status == 202 for r in load.where(phase=phase, kind="create"))
            and any(r.status == 302 for r in load.where(phase=phase, kind="page_create"))
        ),
        timeout=60,
        what=f"creates accepted {phase} the outage",
    )


@pytest.fixture
def stack(tenant, private_redis, fake_llm, tmp_path):
    require_service("PostgreSQL", connection.vendor == "postgresql")
    plan_assign(tenant.org, "enterprise")
    _, raw = api_token_create(
        organization=tenant.org, actor=tenant.owner, name="load", scope=ApiToken.Scope.READ_WRITE
    )
    browser = Client()
    browser.force_login(tenant.owner)
    env = app_env(
        database_url=test_database_url(),
        redis_url=private_redis.url,
        OPENAI_API_KEY=CANARY_OPENAI,
        OPENAI_BASE_URL=fake_llm.openai_base_url,
        CREWBUILDER_API_RATE_TOKEN="100000/min",
        CREWBUILDER_API_RATE_ORG="100000/min",
        CREWBUILDER_METRICS_TOKEN="metrics-token",
        # kombu 5.7 makes the worker exit when it loses Redis with a message unacked (an
        # AttributeError in restore_unacked); it is restarted (docker-compose's restart
        # policy, SupervisedWorker here) and the unacked message is delivered again after
        # the visibility timeout, shortened here so the test takes seconds.
        CELERY_VISIBILITY_TIMEOUT="10",
        CELERY_UNACKED_RESTORE_INTERVAL="1",
    )
    with (
        gunicorn(env, tmp_path / "web.log") as web,
        celery_worker(env, tmp_path / "worker.log") as worker,
        # as in production: a generation whose message did not survive is found by beat's
        # generation.recover_lost (60 s without a sign of life) and queued again
        celery_beat(env, tmp_path / "beat.log", tmp_path / "beat-schedule"),
    ):
        yield {
            "worker": worker,
            "web": web,
            "token": raw,
            "session": {settings.SESSION_COOKIE_NAME: browser.cookies["sessionid"].value},
            "redis": private_redis,
            "log": tmp_path / "worker.log",
        }


def test_redis_outage_degrades_and_nothing_is_lost(stack, tenant):
    web, redis_server = stack["web"], stack["redis"]
    api = {"Authorization": f"Bearer {stack['token']}"}
    first = web.client.post(
        "/api/v1/generations/",
        json={"requirement": REQ, "key_source": "platform", "provider": "openai"},
        headers=api,
    )
    assert first.status_code == 202, first.text
    gid = first.json()["id"]
    wait_for(
        lambda: Generation.objects.filter(pk=gid, status="succeeded").exists(),
        timeout=60,
        what="the first generation",
        log=stack["log"],
    )

    load = Load(web.url)
    reads = [
        ("read", lambda c: c.get("/api/v1/generations/")),
        ("read", lambda c: c.get(f"/api/v1/generations/{gid}/")),
        ("read", lambda c: c.get("/api/v1/usage/")),
        ("read", lambda c: c.get("/api/v1/keys/")),
    ]
    load.worker(reads, headers=api)
    load.worker(reads, headers=api)
    load.worker([("create", _create)], headers=api)
    load.worker(
        [
            ("page", lambda c: c.get("/generations/")),
            ("page", lambda c: c.get(f"/generations/{gid}/")),
            ("page", lambda c: c.get("/generate/")),
            ("page_create", _page_create),
        ],
        cookies=stack["session"],
    )
    _until_accepted(load, "before")
    # Requests sent while Redis is stopping or starting may go either way: their own phase.
    load.phase = "stopping"
    redis_server.stop()
    load.phase = "outage"
    started = time.monotonic()
    retry = {**api, "Idempotency-Key": "outage-retry"}
    body = {"requirement": REQ, "key_source": "platform", "provider": "openai"}
    during = web.client.post("/api/v1/generations/", json=body, headers=retry)
    time.sleep(OUTAGE_SECONDS - (time.monotonic() - started))
    load.phase = "starting"
    redis_server.start()
    outage = time.monotonic() - started
    load.phase = "after"
    _until_accepted(load, "after")
    load.stop()
    back = time.monotonic()
    # The client's retry with the same Idempotency-Key gets a new generation that runs.
    assert during.status_code == 503, during.text
    again = web.client.post("/api/v1/generations/", json=body, headers=retry)
    assert again.status_code == 202, again.text
    assert Generation.objects.get(pk=again.json()["id"]).error_code == ""

    print("\nRedis outage", round(outage, 1), "s; statuses:", load.counts())  # noqa: T201
    results = load.results
    assert not [r for r in results if r.status >= 500 and r.status != 503], load.counts()
    assert not [r for r in results if r.status == 0], "requests without an answer"
    assert all(r.status == 503 for r in results if r.status >= 500)

    # Reads and pages keep answering from PostgreSQL in every phase.
    for kind in ("read", "page"):
        assert load.where(phase="outage", kind=kind), kind
        assert {r.status for r in load.where(kind=kind)} == {200}, load.counts()

    # Creates during the outage: 503 in the envelope, with Retry-After.
    refused = load.where(phase="outage", kind="create")
    assert refused and all(r.status == 503 for r in refused), load.counts()
    assert {r.code for r in refused} == {"service_unavailable"}
    assert all(r.retry_after and int(r.retry_after) > 0 for r in refused)
    # The page: the form again, with what was typed and a friendly message.
    page_refused = load.where(phase="outage", kind="page_create")
    assert page_refused and {r.status for r in page_refused} == {503}, load.counts()
    assert all(REQ in r.body and "job queue is unavailable" in r.body for r in page_refused)
    # Before and after, creates are accepted.
    for phase in ("before", "after"):
        assert any(r.status == 202 for r in load.where(phase=phase, kind="create")), phase
        assert any(r.status == 302 for r in load.where(phase=phase, kind="page_create")), phase

    # Nothing is charged for refused creates: each is failed with the reason and its
    # charge released; the usage counter counts exactly the generations that ran.
    accepted = {r.generation_id for r in results if r.status == 202} | {gid, again.json()["id"]}
    wait_for(
        lambda: (
            not Generation.objects.filter(organization=tenant.org)
            .exclude(status__in=TERMINAL)
            .exists()
        ),
        timeout=180,
        what="every accepted generation to be terminal",
        log=stack["log"],
    )
    terminal_after = time.monotonic() - back
    unqueued = Generation.objects.filter(organization=tenant.org, error_code="queue_unavailable")
    assert unqueued.count() >= len(refused) + len(page_refused) + 1
    assert not unqueued.filter(pk__in=accepted).exists()
    assert set(
        GenerationCharge.objects.filter(generation_id__in=unqueued.values("pk")).values_list(
            "status", flat=True
        )
    ) == {"released"}
    ran = Generation.objects.filter(organization=tenant.org, status="succeeded")
    assert set(ran.values_list("charged_as", flat=True)) == {"quota"}
    assert usage_for(tenant.org)["used"] == ran.count()
    assert set(map(str, ran.values_list("pk", flat=True))) >= {g for g in accepted if g}
    print(  # noqa: T201
        f"accepted {len(accepted)}, refused {unqueued.count()}, all terminal "
        f"{terminal_after:.1f} s after Redis returned; worker restarts: "
        f"{stack['worker'].restarts}"
    )
    # The rate limiter failed open, and said so in the metrics (one gunicorn worker).
    metrics = web.client.get("/metrics", headers={"Authorization": "Bearer metrics-token"})
    assert metrics.status_code == 200
    opened = re.search(
        r'crewbuilder_degraded_operations_total\{component="api_rate_limiter"\} (\S+)',
        metrics.text,
    )
    assert opened and float(opened.group(1)) >= len(load.where(phase="outage", kind="read"))
