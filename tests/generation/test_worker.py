"""A real Celery worker (thread pool) on Redis runs generations from the test database.

The worker is a subprocess pointed at pytest's test database (``test_<name>``), so the
data must be committed: these tests use a transactional database. The SIGKILL test runs
with every default and a real ``celery beat``: the recovery it waits for is the product's
(heartbeat → recovery scan → another worker), not a shortened broker redelivery.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis

from billing.models import GenerationCharge
from billing.selectors import usage_for
from generation import services
from generation.models import Generation
from tests.faults.conftest import test_database_url
from tests.generation.conftest import CANARY_OPENAI, assign_plan
from tests.processes import (
    celery_start,
    celery_wait_ready,
    celery_worker_args,
    stop_process,
    wait_for,
)

pytestmark = [
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

# Generous: a worker's start-up on a loaded 2-core machine; waited on the real signal.
STARTUP_TIMEOUT = 120
REQ = "Collect EV battery market news, group it by theme and write a report for our executives."


@pytest.fixture
def worker_env(redis_url, postgres, settings, tmp_path):
    settings.CREWBUILDER_GENERATION_RUNNER = "celery"
    client = redis.Redis.from_url(redis_url)
    # Leftover messages from earlier runs would be consumed by our worker.
    client.delete("celery", "unacked", "unacked_index")
    env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "REDIS_URL": redis_url,
        "CREWBUILDER_TESTING": "true",
        "DJANGO_SETTINGS_MODULE": "crewbuilder.settings",
        "CREWBUILDER_GENERATION_RUNNER": "celery",
        "OPENAI_API_KEY": "",
        "ANTHROPIC_API_KEY": "",
        "DATABASE_CONN_MAX_AGE": "0",
        "PYTHONUNBUFFERED": "1",
    }
    yield env
    client.delete("celery", "unacked", "unacked_index")


@contextmanager
def celery_workers(env: dict, logs: list[Path]):
    """Run one ``celery -A crewbuilder worker --pool threads`` per log file for the
    duration of the block, started together and yielded once every one is ready: Celery
    logs ``<name> ready.`` when it starts consuming (its worker_ready signal), so no test's
    timeout includes the start-up, however loaded the machine is."""
    names = [f"g2test-{uuid.uuid4().hex[:8]}" for _ in logs]
    procs = [
        celery_start(
            celery_worker_args(f"{name}@%h", concurrency=8, loglevel="info"), env=env, log=log
        )
        for name, log in zip(names, logs, strict=True)
    ]
    try:
        for proc, name, log in zip(procs, names, logs, strict=True):
            celery_wait_ready(
                proc,
                log,
                ready=rf"{name}@\S+ ready\.",
                what=f"worker {name} to be ready",
                timeout=STARTUP_TIMEOUT,
            )
        yield procs
    finally:
        for proc in procs:
            stop_process(proc)


@contextmanager
def celery_worker(env: dict, log: Path):
    with celery_workers(env, [log]) as (proc,):
        yield proc


@contextmanager
def celery_beat(env: dict, log: Path, tmp_path: Path):
    """``celery beat`` as docker-compose runs it, with its schedule file in tmp_path."""
    proc = celery_start(
        ["beat", "-l", "info", "--schedule", str(tmp_path / "celerybeat-schedule")],
        env=env,
        log=log,
    )
    try:
        celery_wait_ready(
            proc, log, ready="beat: Starting", what="beat to start", timeout=STARTUP_TIMEOUT
        )
        yield proc
    finally:
        stop_process(proc)


def test_real_worker_runs_a_generation_end_to_end(tenant, worker_env, tmp_path):
    log = tmp_path / "worker.log"
    with celery_worker(worker_env, log):
        g = services.generation_create(
            organization=tenant.org,
            user=tenant.owner,
            requirement=REQ,
            key_source="platform",
            provider="openai",
        )
        wait_for(
            lambda: Generation.objects.filter(pk=g.pk, status="succeeded").exists(),
            timeout=60,
            what="the generation to succeed",
            log=log,
        )
    g.refresh_from_db()
    assert (g.stage, g.progress, g.provider, g.runs) == ("done", 100, "fallback", 1)
    assert g.checks and all(c["passed"] for c in g.checks)
    assert g.zip_data and {f["path"] for f in g.files} >= {"pyproject.toml", "README.md"}


def test_sigkill_mid_generation_is_recovered_within_three_minutes_with_defaults(
    tenant, worker_env, tmp_path, fake_llm, settings
):
    """A worker SIGKILLed while its run waits on the provider: the heartbeat stops, beat's
    recovery scan queues the generation again, another worker finishes it — once, charged
    once — within 180 s, with every default (heartbeat, lost-after, scan interval, the
    broker's 1800 s visibility timeout). Meanwhile the API says ``worker_lost``."""
    assign_plan(tenant.org, "basic")
    env = {
        **worker_env,
        "OPENAI_API_KEY": CANARY_OPENAI,
        "OPENAI_BASE_URL": fake_llm.openai_base_url,
    }
    for name in (
        "CELERY_VISIBILITY_TIMEOUT",
        "CELERY_UNACKED_RESTORE_INTERVAL",
        "CREWBUILDER_GENERATION_HEARTBEAT_SECONDS",
        "CREWBUILDER_GENERATION_LOST_AFTER_SECONDS",
        "CREWBUILDER_GENERATION_RECOVER_EVERY_SECONDS",
    ):
        env.pop(name, None)  # the defaults, whatever the caller's environment says
    fake_llm.push_delay(55)  # the worker that takes it hangs on the provider (timeout 60 s)
    logs = [tmp_path / "worker-a.log", tmp_path / "worker-b.log"]
    with (
        celery_beat(env, tmp_path / "beat.log", tmp_path),
        celery_workers(env, logs) as workers,
    ):
        # the test process needs the platform key too, to create a CrewBuilder AI generation
        settings.OPENAI_API_KEY = CANARY_OPENAI
        g = services.generation_create(
            organization=tenant.org,
            user=tenant.owner,
            requirement=REQ,
            key_source="platform",
            provider="openai",
        )
        assert g.charged_as == "quota"
        log = logs[0]
        wait_for(lambda: len(fake_llm.requests) == 1, timeout=30, what="the provider call", log=log)
        assert Generation.objects.get(pk=g.pk).stage == "designing"
        # the worker that received the message dies mid-generation; the other one lives
        (victim,) = [
            proc
            for proc, worker_log in zip(workers, logs, strict=True)
            if "generation.run[" in worker_log.read_text()
        ]
        victim.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        victim.wait(timeout=5)
        seen = set()

        def done() -> bool:
            row = Generation.objects.get(pk=g.pk)
            seen.add((row.status, row.worker_lost))
            return row.status == "succeeded"

        wait_for(done, timeout=180, what="the lost generation to be recovered", log=log)
        recovery = time.monotonic() - killed
        time.sleep(0.5)  # room for a wrong second run to show up
    print(f"SIGKILL → succeeded in {recovery:.1f} s (defaults)")
    assert recovery <= 180
    assert ("running", True) in seen  # "worker lost — retrying" was shown meanwhile
    g.refresh_from_db()
    assert (g.runs, g.worker_lost, g.notice) == (2, False, "")
    assert len(fake_llm.requests) == 2
    assert len({f["path"] for f in g.files}) == len(g.files)
    charge = GenerationCharge.objects.get(generation_id=g.id)
    assert (charge.charged_as, charge.status) == ("quota", "committed")
    assert usage_for(tenant.org)["used"] == 1
