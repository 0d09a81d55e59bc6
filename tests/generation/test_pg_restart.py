"""A PostgreSQL restart while generations run: none is left ``running``, each finishes
once and is charged once (issue 16, "During a PostgreSQL restart").

The restart is real and of a private cluster: ``initdb``/``pg_ctl`` on a free port under a
temporary directory (the fault suite's ``PrivatePostgres``; the shared server is never
touched). The test database's schema and data (plans, the catalogue, this test's
organisation) are copied into it with ``pg_dump``; a real Celery worker runs against it
and a subprocess creates the generations there with the same service the API uses. ``pg_ctl stop -m fast`` then
terminates every backend — the worker's idle connections, the ones mid-query, the
heartbeat's — while the runs wait on a slow provider or write a stage.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time

import psycopg
import pytest

from tests.faults.conftest import running_private_postgres, test_database_url
from tests.generation.conftest import CANARY_OPENAI, assign_plan
from tests.generation.test_worker import REQ, celery_workers
from tests.processes import BASE_DIR, wait_for

pytestmark = [
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

GENERATIONS = 8  # within the Basic plan's 10 a month
TERMINAL = ("succeeded", "failed")


@pytest.fixture
def private_postgres(postgres):
    """The fault suite's private cluster (tests/faults/conftest.py), started."""
    with running_private_postgres() as server:
        yield server


CREATE = """
import json, django
django.setup()
from accounts.models import Organization, User
from generation import services
org = Organization.objects.get(pk={org})
user = User.objects.get(pk={user})
ids = [
    str(services.generation_create(organization=org, user=user, requirement={req!r},
                                   key_source="platform", provider="openai").id)
    for _ in range({n})
]
print(json.dumps(ids))
"""


class Observer:
    """Reads the private database from outside the application, reconnecting across the
    restart."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.conn: psycopg.Connection | None = None

    def query(self, sql: str, params=()) -> list[tuple] | None:
        try:
            if self.conn is None or self.conn.closed:
                self.conn = psycopg.connect(self.url, autocommit=True, connect_timeout=2)
            with self.conn.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall()
        except psycopg.OperationalError:
            self.conn = None
            return None  # the server is restarting

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


def test_postgres_restart_mid_generation_leaves_nothing_running(
    tenant, private_postgres, fake_llm, redis_url, settings, tmp_path
):
    import redis

    assign_plan(tenant.org, "basic")
    private_postgres.copy_from(test_database_url(), "crewbuilder")
    url = private_postgres.url("crewbuilder")
    client = redis.Redis.from_url(redis_url)
    client.delete("celery", "unacked", "unacked_index")
    # every design call takes 2 s: runs are in flight when the server goes
    fake_llm.default = dataclasses.replace(fake_llm.default, delay=2.0)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": redis_url,
        "CREWBUILDER_TESTING": "true",
        "DJANGO_SETTINGS_MODULE": "crewbuilder.settings",
        "CREWBUILDER_GENERATION_RUNNER": "celery",
        "OPENAI_API_KEY": CANARY_OPENAI,
        "OPENAI_BASE_URL": fake_llm.openai_base_url,
        "ANTHROPIC_API_KEY": "",
        "PYTHONUNBUFFERED": "1",
    }
    observer = Observer(url)
    log = tmp_path / "worker.log"
    try:
        with celery_workers(env, [log]):
            created = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    CREATE.format(org=tenant.org.pk, user=tenant.owner.pk, req=REQ, n=GENERATIONS),
                ],
                cwd=BASE_DIR,
                env=env,
                check=True,
                capture_output=True,
                timeout=120,
            )
            ids = json.loads(created.stdout.decode().strip().splitlines()[-1])
            assert len(ids) == GENERATIONS

            def statuses() -> dict[str, str]:
                rows = observer.query(
                    "SELECT id::text, status FROM generation_generation WHERE id::text = ANY(%s)",
                    (ids,),
                )
                return dict(rows) if rows is not None else {}

            wait_for(
                lambda: list(statuses().values()).count("running") >= 3,
                timeout=60,
                what="runs in flight",
                log=log,
            )
            before = statuses()
            # The restart, held down until the outage has been met: stop (every backend
            # is terminated), wait until a run's write finds the server gone (its
            # provider call ended meanwhile), then start again.
            private_postgres.stop("fast")
            stopped = time.monotonic()
            wait_for(
                lambda: "database unavailable in" in log.read_text(),
                timeout=30,
                what="a run to meet the outage",
                log=log,
            )
            private_postgres.start()
            restarted = time.monotonic()
            wait_for(
                lambda: (s := statuses()) and all(v in TERMINAL for v in s.values()),
                timeout=180,
                what="every generation to finish after the restart",
                log=log,
            )
            settled = time.monotonic() - restarted
        final = statuses()
        charges = observer.query(
            "SELECT generation_id::text, status, charged_as FROM billing_generationcharge "
            "WHERE generation_id::text = ANY(%s)",
            (ids,),
        )
        used = observer.query(
            "SELECT coalesce(sum(used), 0) FROM billing_usagecounter WHERE organization_id = %s",
            (tenant.org.pk,),
        )[0][0]
        runs = observer.query(
            "SELECT runs FROM generation_generation WHERE id::text = ANY(%s)", (ids,)
        )
    finally:
        observer.close()
        client.delete("celery", "unacked", "unacked_index")
    met = log.read_text().count("database unavailable in")
    print(
        f"PostgreSQL down {restarted - stopped:.1f} s with "
        f"{list(before.values()).count('running')} running; {met} writes met the outage "
        f"and were retried; all terminal {settled:.1f} s after the start; runs per "
        f"generation {sorted(r for (r,) in runs)}"
    )
    assert set(final.values()) == {"succeeded"}
    assert sorted(charges) == sorted((i, "committed", "quota") for i in ids)
    assert used == GENERATIONS
