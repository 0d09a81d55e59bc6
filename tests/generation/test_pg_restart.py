"""A PostgreSQL restart while generations run: none is left ``running``, each finishes
once and is charged once (issue 16, "During a PostgreSQL restart").

The restart is real and of a private cluster: ``initdb``/``pg_ctl`` on a free port under a
temporary directory (the shared server is never touched). The test database's schema and
data (plans, the catalogue, this test's organisation) are copied into it with
``pg_dump``; a real Celery worker runs against it and a subprocess creates the
generations there with the same service the API uses. ``pg_ctl restart -m fast`` then
terminates every backend — the worker's idle connections, the ones mid-query, the
heartbeat's — while the runs wait on a slow provider or write a stage.
"""

from __future__ import annotations

import dataclasses
import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from tests.generation.conftest import CANARY_OPENAI, assign_plan
from tests.generation.test_worker import BASE_DIR, REQ, celery_workers, wait_for

pytestmark = [
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

GENERATIONS = 8  # within the Basic plan's 10 a month
TERMINAL = ("succeeded", "failed")


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        pytest.skip(f"PostgreSQL server binaries ({name}) are not installed")
    return found[-1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivatePostgres:
    """A throw-away cluster owned by the ``postgres`` user (initdb refuses root)."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="cb-pg-"))
        self.port = _free_port()
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        as_postgres = os.geteuid() == 0
        if as_postgres:
            shutil.chown(self.dir, user="postgres")
        self._prefix = ["runuser", "-u", "postgres", "--"] if as_postgres else []
        self._options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c full_page_writes=off"
        )

    def _run(self, *args: str) -> None:
        subprocess.run([*self._prefix, *args], check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        self._run(
            _pg_bin("initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        self._run(
            _pg_bin("pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            self._options,
            "-l",
            str(self.log),
            "-w",
            "start",
        )

    def pg_ctl(self, action: str) -> None:
        self._run(
            _pg_bin("pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            self._options,
            "-l",
            str(self.log),
            "-m",
            "fast",
            "-w",
            action,
        )

    def stop(self) -> None:
        subprocess.run(
            [
                *self._prefix,
                _pg_bin("pg_ctl"),
                "-D",
                str(self.data),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
            capture_output=True,
            timeout=60,
            check=False,
        )
        shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, db: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{db}"


@pytest.fixture
def private_postgres(postgres):
    if not shutil.which("runuser") and os.geteuid() == 0:
        pytest.skip("runuser is needed to run initdb as the postgres user")
    cluster = PrivatePostgres()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def _copy_test_database(cluster: PrivatePostgres) -> str:
    s = connection.settings_dict
    subprocess.run(
        [
            _pg_bin("createdb"),
            "-h",
            "127.0.0.1",
            "-p",
            str(cluster.port),
            "-U",
            "postgres",
            "crewbuilder",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    dump = subprocess.run(
        [
            _pg_bin("pg_dump"),
            "--no-owner",
            "-h",
            s["HOST"] or "127.0.0.1",
            "-p",
            str(s["PORT"] or 5432),
            "-U",
            s["USER"],
            s["NAME"],
        ],
        check=True,
        capture_output=True,
        timeout=120,
        env={**os.environ, "PGPASSWORD": s["PASSWORD"] or ""},
    )
    subprocess.run(
        [
            _pg_bin("psql"),
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            "127.0.0.1",
            "-p",
            str(cluster.port),
            "-U",
            "postgres",
            "-d",
            "crewbuilder",
        ],
        input=dump.stdout,
        check=True,
        capture_output=True,
        timeout=120,
    )
    return cluster.url("crewbuilder")


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
    url = _copy_test_database(private_postgres)
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
            private_postgres.pg_ctl("stop")
            stopped = time.monotonic()
            wait_for(
                lambda: "database unavailable in" in log.read_text(),
                timeout=30,
                what="a run to meet the outage",
                log=log,
            )
            private_postgres.pg_ctl("start")
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
