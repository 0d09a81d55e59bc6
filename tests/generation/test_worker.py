"""A real Celery worker (thread pool) on Redis runs generations from the test database.

The worker is a subprocess pointed at pytest's test database (``test_<name>``), so the
data must be committed: these tests use a transactional database. The SIGKILL test lowers
the broker's visibility timeout for its workers so the redelivery happens within seconds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
from django.conf import settings as django_settings
from django.db import connection

from billing.models import GenerationCharge
from billing.selectors import usage_for
from generation import services
from generation.models import Generation
from tests.generation.conftest import CANARY_OPENAI, assign_plan

pytestmark = [
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

BASE_DIR = Path(django_settings.BASE_DIR)
REQ = "Collect EV battery market news, group it by theme and write a report for our executives."


def _database_url() -> str:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def worker_env(redis_url, postgres, settings, tmp_path):
    settings.CREWBUILDER_GENERATION_RUNNER = "celery"
    client = redis.Redis.from_url(redis_url)
    # Leftover messages from earlier runs would be consumed by our worker.
    client.delete("celery", "unacked", "unacked_index")
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
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
def celery_worker(env: dict, log: Path):
    """Run ``celery -A crewbuilder worker --pool threads`` for the duration of the block."""
    name = f"g2test-{uuid.uuid4().hex[:8]}@%h"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "crewbuilder",
                "worker",
                "--pool",
                "threads",
                "--concurrency",
                "8",
                "--prefetch-multiplier",
                "1",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-l",
                "info",
                "-n",
                name,
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        # No readiness handshake: messages wait in Redis until the worker consumes them,
        # and every test waits for an outcome with a timeout that covers the start-up.
        time.sleep(0.2)
        if proc.poll() is not None:
            raise AssertionError("worker exited:\n" + log.read_text()[-3000:])
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_for(predicate, *, timeout: float, what: str, log: Path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}\n" + log.read_text()[-4000:])


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
            timeout=20,
            what="the generation to succeed",
            log=log,
        )
    g.refresh_from_db()
    assert (g.stage, g.progress, g.provider, g.runs) == ("done", 100, "fallback", 1)
    assert g.checks and all(c["passed"] for c in g.checks)
    assert g.zip_data and {f["path"] for f in g.files} >= {"pyproject.toml", "README.md"}


def test_sigkill_mid_generation_is_redelivered_and_finished_once(
    tenant, worker_env, tmp_path, fake_llm, settings
):
    assign_plan(tenant.org, "basic")
    env = {
        **worker_env,
        "OPENAI_API_KEY": CANARY_OPENAI,
        "OPENAI_BASE_URL": fake_llm.openai_base_url,
        # redeliver an unacked message 3 s after delivery, scanning every second
        "CELERY_VISIBILITY_TIMEOUT": "3",
        "CELERY_UNACKED_RESTORE_INTERVAL": "1",
    }
    fake_llm.push_delay(30)  # the first worker hangs on the provider…
    log = tmp_path / "worker.log"
    with celery_worker(env, log) as first:
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
        wait_for(lambda: len(fake_llm.requests) == 1, timeout=20, what="the provider call", log=log)
        assert Generation.objects.get(pk=g.pk).stage == "designing"
        # A second worker comes up (its start-up overlaps the visibility timeout)…
        with celery_worker(env, log):
            first.send_signal(signal.SIGKILL)  # …and the first dies mid-generation.
            first.wait(timeout=5)
            assert Generation.objects.get(pk=g.pk).status == "running"
            wait_for(
                lambda: Generation.objects.filter(pk=g.pk, status="succeeded").exists(),
                timeout=20,
                what="the redelivered generation to succeed",
                log=log,
            )
            time.sleep(0.5)  # room for a wrong second delivery to show up
    g.refresh_from_db()
    assert g.runs == 2  # claimed by the killed worker, then by the redelivery
    assert len(fake_llm.requests) == 2
    assert len({f["path"] for f in g.files}) == len(g.files)
    charge = GenerationCharge.objects.get(generation_id=g.id)
    assert (charge.charged_as, charge.status) == ("quota", "committed")
    assert usage_for(tenant.org)["used"] == 1
    client = redis.Redis.from_url(worker_env["REDIS_URL"])
    assert client.llen("celery") == 0 and client.hlen("unacked") == 0
