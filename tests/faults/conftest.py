"""Real faults for the edge: a private ``redis-server`` and a private PostgreSQL cluster
that a test may stop and start, and the production processes (gunicorn with the repo's
config, a Celery worker) as subprocesses pointed at them.

The shared PostgreSQL (5432) and Redis (6379) are never stopped: other suites use them.
Everything here runs on free ports under the test's temporary directory and is stopped
when the test ends.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import redis
from django.conf import settings as django_settings
from django.db import connection

from tests.conftest import require_service
from tests.processes import (
    BASE_DIR,
    celery_start,
    celery_worker_args,
    stop_process,
    wait_for,
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateRedis:
    """``redis-server`` on a free port, with an append-only file like docker-compose's
    (``--appendonly yes``), so queued messages survive a stop and start."""

    def __init__(self, directory: Path):
        self.port = free_port()
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        require_service("redis-server (the binary)", binary is not None)
        with (self.dir / "redis.log").open("ab") as out:
            self.proc = subprocess.Popen(
                [
                    binary,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--dir",
                    str(self.dir),
                    "--save",
                    "",
                    "--appendonly",
                    "yes",
                    "--appendfsync",
                    "always",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        wait_for(lambda: self._ping(client), timeout=10, what="redis-server to answer")

    @staticmethod
    def _ping(client) -> bool:
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)


@pytest.fixture
def private_redis(tmp_path):
    server = PrivateRedis(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


class PrivatePostgres:
    """A throw-away PostgreSQL cluster (initdb + pg_ctl) on a free port under a temp
    directory, trust auth on 127.0.0.1 only."""

    def __init__(self):
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
        require_service("PostgreSQL server binaries (pg_ctl)", bool(bins))
        self.bin = bins[-1].parent
        # The server refuses to run as root: then it runs as the "postgres" user, in a
        # directory of its own (pytest's tmp_path is private to root).
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.dir = Path(tempfile.mkdtemp(prefix="cb-faults-pg-"))
        if self.as_user:
            shutil.chown(self.dir, "postgres", "postgres")
        self.data = self.dir / "data"
        self.port = free_port()
        self.log = self.dir / "postgres.log"

    def _run(self, *args: str) -> None:
        subprocess.run(
            [*self.as_user, str(self.bin / args[0]), *args[1:]], check=True, capture_output=True
        )

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"port = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.dir}'\nfsync = off\n"
                "synchronous_commit = off\nfull_page_writes = off\nmax_connections = 50\n"
            )

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "30", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def url(self, name: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def createdb(self, name: str) -> None:
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)

    def copy_from(self, source_url: str, name: str) -> None:
        """Create ``name`` here as a copy (schema and data) of the database at
        ``source_url`` (pg_dump | pg_restore: nothing on the source is changed)."""
        self.createdb(name)
        dump = Path(tempfile.mkdtemp(prefix="cb-faults-dump-")) / "copy.dump"
        subprocess.run(
            [str(self.bin / "pg_dump"), "-Fc", "--no-owner", "-f", str(dump), source_url],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [
                str(self.bin / "pg_restore"),
                "--no-owner",
                "-d",
                self.url(name),
                str(dump),
            ],
            check=True,
            capture_output=True,
        )
        shutil.rmtree(dump.parent, ignore_errors=True)


@contextmanager
def running_private_postgres():
    """A ``PrivatePostgres`` started for the block, then stopped and removed."""
    server = PrivatePostgres()
    try:
        server.init()
        server.start()
        yield server
    finally:
        try:
            server.stop("immediate")
        except subprocess.CalledProcessError:
            pass  # not running (stopped by the test, or never started)
        server.remove()


@pytest.fixture
def private_postgres():
    with running_private_postgres() as server:
        yield server


def test_database_url() -> str:
    """pytest's test database (``test_<name>``), for a subprocess."""
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


test_database_url.__test__ = False  # a helper, not a test


def app_env(*, database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    """The environment of a production-shaped process (DEBUG off) for the tests."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "DJANGO_DEBUG": "false",
        "CREWBUILDER_TESTING": "true",
        "DJANGO_SETTINGS_MODULE": "crewbuilder.settings",
        "DJANGO_SECRET_KEY": django_settings.SECRET_KEY,  # sessions made by the test work
        "CREWBUILDER_GENERATION_RUNNER": "celery",
        "OPENAI_API_KEY": "",
        "ANTHROPIC_API_KEY": "",
        "PYTHONUNBUFFERED": "1",
        "LOG_LEVEL": "WARNING",
    }
    env.update(extra)
    return env


@dataclass
class Web:
    url: str
    proc: subprocess.Popen
    log: Path
    client: httpx.Client = field(repr=False)


@contextmanager
def gunicorn(env: dict, log: Path, *, threads: int = 8):
    """gunicorn with the repo's config (its worker class and limits), one worker."""
    port = free_port()
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                "crewbuilder/gunicorn.conf.py",
                "crewbuilder.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
                "--threads",
                str(threads),
                "--access-logfile",
                "/dev/null",
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    client = httpx.Client(base_url=url, timeout=30)
    try:

        def up() -> bool:
            if proc.poll() is not None:
                raise AssertionError("gunicorn exited:\n" + log.read_text()[-3000:])
            try:
                return client.get("/healthz").status_code in (200, 503)
            except httpx.TransportError:
                return False

        wait_for(up, timeout=60, what="gunicorn to answer", log=log)
        yield Web(url=url, proc=proc, log=log, client=client)
    finally:
        client.close()
        stop_process(proc, sig=signal.SIGQUIT, group=True)  # gunicorn's quick shutdown


def _start_worker(env: dict, log: Path, concurrency: int) -> subprocess.Popen:
    name = f"faults-{uuid.uuid4().hex[:8]}@%h"
    return celery_start(
        celery_worker_args(name, concurrency=concurrency), env=env, log=log, new_session=True
    )


@dataclass
class SupervisedWorker:
    """A Celery worker restarted whenever it exits, as docker-compose's
    ``restart: unless-stopped`` does (``restarts`` counts them)."""

    env: dict
    log: Path
    concurrency: int
    proc: subprocess.Popen | None = None
    restarts: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        self.proc = _start_worker(self.env, self.log, self.concurrency)
        while not self._stop.wait(0.5):
            if self.proc.poll() is not None:
                stop_process(self.proc, group=True)
                self.restarts += 1
                self.proc = _start_worker(self.env, self.log, self.concurrency)

    def stop(self) -> None:
        self._stop.set()
        if self.proc is not None:
            stop_process(self.proc, sig=signal.SIGQUIT, group=True)  # its work is done


@contextmanager
def celery_beat(env: dict, log: Path, schedule: Path):
    """``celery beat`` as the docker-compose ``beat`` service runs it: production notices
    lost work through it (``generation.recover_lost``), so a production-shaped stack has one."""
    proc = celery_start(
        ["beat", "-l", "warning", "--schedule", str(schedule)],
        env=env,
        log=log,
        new_session=True,
    )
    try:
        yield proc
    finally:
        stop_process(proc, group=True)


@contextmanager
def celery_worker(env: dict, log: Path, *, concurrency: int = 4):
    worker = SupervisedWorker(env, log, concurrency)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        yield worker
    finally:
        worker.stop()
        thread.join(timeout=30)
        worker.stop()  # a restart that raced with the stop
