"""API latency: ``POST /api/v1/generations/`` (enqueue) and ``GET /api/v1/generations/<id>/``
against a bare Django JSON view served by the same gunicorn process, 8 client threads.

    .venv/bin/python bench/api_latency.py            # defaults below
    DATABASE_URL=postgres://… REDIS_URL=redis://… .venv/bin/python bench/api_latency.py

Postgres and Redis are required (the production shape: Redis cache for the throttles,
Redis broker for the enqueue). Defaults: database ``crewbuilder_bench`` on the local
Postgres (created and migrated), Redis DB 15 (its ``celery`` queue is emptied before and
after — no worker runs, so generations stay queued). gunicorn binds 127.0.0.1 on a free
port (one gthread worker per core, 4 threads). Each client thread is its own
organisation on Enterprise with a high daily cap and the throttles raised, so every
request does the full work of a paid CrewBuilder-AI enqueue (token auth, plan check, the
throttle counters, validation, model lookup, daily cap, quota reserve, charge row, insert,
audit row, Celery publish on commit). A third baseline, the bare view plus one
``SELECT 1``, shows what a single database round trip costs on the machine at that moment.

Besides latency and throughput, each scenario reports the CPU milliseconds per request
spent by the gunicorn workers and by the database's Postgres backends (from /proc): on a
machine shared with other work, latency swings with the load, the CPU cost much less.

Targets (issue #6): enqueue p50 ≤ 8 × the bare view's p50; ≥ 500 req/s at 8 clients.

When gunicorn imports this module (``bench.api_latency:application``) it serves the
product's URLs plus ``/bench/bare/`` — a bare view that exists only here.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/crewbuilder_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "8"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "6"))
WARMUP_SECONDS = float(os.environ.get("BENCH_WARMUP_SECONDS", "1.5"))
# One gthread worker per core with 4 threads each (keep-alive, I/O-bound requests); set
# BENCH_THREADS=1 for classic sync workers (then BENCH_WORKERS=2×cores+1 is usual).
WORKERS = int(os.environ.get("BENCH_WORKERS", str(os.cpu_count() or 2)))
THREADS = int(os.environ.get("BENCH_THREADS", "4"))
REQUIREMENT = "Each morning, read the new support tickets, group them by topic and draft replies."


def _server_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL),
        REDIS_URL=os.environ.get("REDIS_URL", DEFAULT_REDIS_URL),
        DJANGO_SETTINGS_MODULE="crewbuilder.settings",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY=env.get("BENCH_SECRET_KEY") or "bench-" + "x" * 50,
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        CREWBUILDER_SITE_URL="http://127.0.0.1",
        DJANGO_SECURE_SSL_REDIRECT="false",
        CREWBUILDER_ENCRYPTION_KEYS="bench:" + base64.b64encode(b"b" * 32).decode(),
        CREWBUILDER_API_RATE_TOKEN="10000000/min",
        CREWBUILDER_API_RATE_ORG="10000000/min",
        CREWBUILDER_GENERATION_RUNNER="celery",
        OPENAI_API_KEY="sk-bench-platform-key-never-called-0000000",
        LOG_LEVEL="WARNING",
        PYTHONWARNINGS="ignore::UserWarning",
        PYTHONPATH=str(ROOT),
    )
    env.pop("CREWBUILDER_TESTING", None)
    return env


# --- the WSGI side (imported by gunicorn) ------------------------------------------------

if __name__ != "__main__":
    import django
    from django.conf import settings

    django.setup()
    from django.http import JsonResponse
    from django.urls import include, path
    from django.views.decorators.csrf import csrf_exempt

    @csrf_exempt  # like every DRF view (token auth, no cookies)
    def bare(request):
        return JsonResponse({"ok": True, "method": request.method})

    @csrf_exempt
    def bare_one_query(request):
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return JsonResponse({"ok": True, "method": request.method})

    urlpatterns = [
        path("bench/bare/", bare),
        path("bench/bare-one-query/", bare_one_query),
        path("", include("crewbuilder.urls")),
    ]
    settings.ROOT_URLCONF = __name__

    from django.core.wsgi import get_wsgi_application

    application = get_wsgi_application()


# --- the driver -------------------------------------------------------------------------


def _ensure_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin.replace("postgres://", "postgresql://"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def _purge_queue(redis_url: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    client.delete("celery")


def _setup(env: dict[str, str]) -> list[str]:
    """Migrate; create one Enterprise organisation per client, each with a read-write
    token (8 API customers: a single organisation's enqueues serialise on its quota
    counter row, which is the billing design, not the API's)."""
    _ensure_database(env["DATABASE_URL"])
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    script = f"""
import django; django.setup()
from accounts.models import Organization, User
from accounts.services import organization_create
from crewbuilder.api.tokens import api_token_create
from billing.models import BillingAccount, Plan
from billing.services import billing_plan_assign, plans_seed
plans_seed()
enterprise = Plan.objects.get(slug="enterprise")
for i in range({CLIENTS}):
    user, _ = User.objects.get_or_create(email=f"bench{{i}}@crewbuilder.local")
    org = Organization.objects.filter(name=f"Bench Co {{i}}", created_by=user).first()
    if org is None:
        org = organization_create(name=f"Bench Co {{i}}", owner=user)
    billing_plan_assign(organization=org, plan=enterprise, actor=None)
    BillingAccount.objects.filter(organization=org).update(daily_cap=10**9)
    _, raw = api_token_create(organization=org, actor=user, name="bench")
    print(raw)
"""
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return [line for line in out.stdout.split() if line.startswith("cb_")][-CLIENTS:]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_gunicorn(env: dict[str, str], port: int) -> subprocess.Popen:
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or "gunicorn"
    proc = subprocess.Popen(
        [
            gunicorn,
            "bench.api_latency:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(WORKERS),
            "--chdir",
            str(ROOT),
            "--threads",
            str(THREADS),
            "--worker-class",
            "gthread" if THREADS > 1 else "sync",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 90
    last = ""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("gunicorn exited early")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
            conn.request("GET", "/bench/bare/")
            response = conn.getresponse()
            if response.status == 200:
                return proc
            last = f"{response.status} {response.read()[:200]!r}"
        except OSError as exc:
            last = str(exc)
        time.sleep(0.2)
    proc.terminate()
    raise SystemExit(f"gunicorn did not start: {last}")


def _cpu_ticks(pid: int) -> int:
    """utime + stime of one process (clock ticks), 0 when it is gone or unreadable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return 0


class CpuMeter:
    """CPU seconds spent by the gunicorn workers and by the benchmark database's Postgres
    backends during a scenario. Divided by the requests served, it is a per-request cost
    that depends far less on what else the shared machine is doing than latency does."""

    def __init__(self, master_pid: int, database_url: str):
        self.master_pid = master_pid
        self.database_url = database_url.replace("postgres://", "postgresql://")
        self.tick = os.sysconf("SC_CLK_TCK")

    def _workers(self) -> list[int]:
        try:
            children = Path(f"/proc/{self.master_pid}/task/{self.master_pid}/children")
            return [int(pid) for pid in children.read_text().split()]
        except OSError:
            return []

    def _backends(self) -> list[int]:
        import psycopg

        name = self.database_url.rsplit("/", 1)[1]
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            ).fetchall()
        return [row[0] for row in rows]

    def snapshot(self) -> dict[str, dict[int, int]]:
        return {
            "app": {pid: _cpu_ticks(pid) for pid in self._workers()},
            "db": {pid: _cpu_ticks(pid) for pid in self._backends()},
        }

    def seconds(self, before: dict, after: dict) -> dict[str, float]:
        return {
            kind: sum(ticks - before[kind].get(pid, 0) for pid, ticks in after[kind].items())
            / self.tick
            for kind in ("app", "db")
        }


class Driver:
    def __init__(self, port: int, meter: CpuMeter | None = None):
        self.port = port
        self.meter = meter

    def _request(self, conn, method: str, path: str, body: bytes | None, headers: dict):
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        if response.getheader("Connection", "").lower() == "close":
            conn.close()
        return response.status, data

    def run(self, name: str, make_request, seconds: float) -> dict:
        latencies: list[float] = []
        statuses: dict[int, int] = {}
        lock = threading.Lock()
        stop_at = time.perf_counter() + seconds
        start_barrier = threading.Barrier(CLIENTS)

        def client(index: int):
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            mine: list[float] = []
            codes: dict[int, int] = {}
            n = 0
            start_barrier.wait()
            while time.perf_counter() < stop_at:
                method, path, body, headers = make_request(index, n)
                t0 = time.perf_counter()
                status, _ = self._request(conn, method, path, body, headers)
                mine.append(time.perf_counter() - t0)
                codes[status] = codes.get(status, 0) + 1
                n += 1
            conn.close()
            with lock:
                latencies.extend(mine)
                for code, count in codes.items():
                    statuses[code] = statuses.get(code, 0) + count

        threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
        cpu_before = self.meter.snapshot() if self.meter else None
        t0 = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - t0
        cpu = {"app": 0.0, "db": 0.0}
        if self.meter:
            cpu = self.meter.seconds(cpu_before, self.meter.snapshot())
        latencies.sort()
        return {
            "app_cpu_ms": cpu["app"] * 1000 / max(len(latencies), 1),
            "db_cpu_ms": cpu["db"] * 1000 / max(len(latencies), 1),
            "name": name,
            "requests": len(latencies),
            "rps": len(latencies) / elapsed,
            "p50": statistics.median(latencies) * 1000,
            "p99": latencies[int(len(latencies) * 0.99) - 1] * 1000,
            "statuses": statuses,
        }


def main() -> int:
    env = _server_env()
    if not env["DATABASE_URL"].startswith(("postgres://", "postgresql://")):
        raise SystemExit("The benchmark needs PostgreSQL (DATABASE_URL=postgres://…).")
    _purge_queue(env["REDIS_URL"])
    load_before = os.getloadavg()
    tokens = _setup(env)
    port = _free_port()
    server = _start_gunicorn(env, port)
    try:
        driver = Driver(port, CpuMeter(server.pid, env["DATABASE_URL"]))
        auth = [
            {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            for token in tokens
        ]
        body = json.dumps(
            {"requirement": REQUIREMENT, "key_source": "platform", "provider": "openai"}
        ).encode()

        def bare_get(i, n):
            return "GET", "/bench/bare/", None, {}

        def bare_query(i, n):
            return "GET", "/bench/bare-one-query/", None, {}

        def bare_post(i, n):
            return "POST", "/bench/bare/", body, {"Content-Type": "application/json"}

        def create(i, n):
            return "POST", "/api/v1/generations/", body, auth[i]

        # warm every worker (imports, connections, caches) on both paths
        driver.run("warmup", bare_get, WARMUP_SECONDS)
        driver.run("warmup", create, WARMUP_SECONDS)

        created: list[list[str]] = [[] for _ in range(CLIENTS)]
        for i in range(CLIENTS):
            for _ in range(4):
                conn = http.client.HTTPConnection("127.0.0.1", port)
                conn.request("POST", "/api/v1/generations/", body=body, headers=auth[i])
                created[i].append(json.loads(conn.getresponse().read())["id"])
                conn.close()

        def detail(i, n):
            return "GET", f"/api/v1/generations/{created[i][n % 4]}/", None, auth[i]

        results = [
            driver.run("bare JSON view  GET", bare_get, SECONDS),
            driver.run("bare JSON view  POST", bare_post, SECONDS),
            driver.run("bare view + one SELECT 1 (one DB round trip)", bare_query, SECONDS),
            driver.run("API enqueue     POST /api/v1/generations/", create, SECONDS),
            driver.run("API detail      GET  /api/v1/generations/<id>/", detail, SECONDS),
        ]
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
        _purge_queue(env["REDIS_URL"])

    bare = {"GET": results[0]["p50"], "POST": results[1]["p50"]}
    print(
        f"\nAPI latency — gunicorn {WORKERS} workers × {THREADS} threads, {CLIENTS} client threads, "
        f"{SECONDS:.0f} s each, {os.cpu_count()} CPUs (clients on the same machine), "
        f"one organisation and token per client"
    )
    load_after = os.getloadavg()
    print(
        "machine load (1/5/15-min averages): before "
        + "/".join(f"{x:.2f}" for x in load_before)
        + ", after "
        + "/".join(f"{x:.2f}" for x in load_after)
        + " (other processes share the cores; compare runs at similar load)\n"
    )
    print(
        f"{'scenario':<50} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'p50 / bare':>11} "
        f"{'app CPU':>8} {'PG CPU':>7}  statuses"
    )
    for r in results:
        ratio = r["p50"] / (bare["POST"] if "POST" in r["name"] else bare["GET"])
        print(
            f"{r['name']:<50} {r['rps']:>8.0f} {r['p50']:>8.2f} {r['p99']:>8.2f} "
            f"{ratio:>10.1f}x {r['app_cpu_ms']:>8.2f} {r['db_cpu_ms']:>7.2f}  {r['statuses']}"
        )
    print(
        "(app CPU / PG CPU: milliseconds of gunicorn-worker / Postgres-backend CPU per "
        "request; 2 cores give 2000 ms of CPU per second, shared with the clients)"
    )
    enqueue, detail_result = results[3], results[4]
    ok = True
    for r in (enqueue, detail_result):
        if set(r["statuses"]) - {200, 202}:
            ok = False
    ratio = enqueue["p50"] / bare["POST"]
    print(
        f"\ntargets: enqueue p50 ≤ 8× bare → {ratio:.1f}× ({'met' if ratio <= 8 else 'MISSED'}); "
        f"≥ 500 req/s at {CLIENTS} clients → enqueue {enqueue['rps']:.0f}, detail "
        f"{detail_result['rps']:.0f} ({'met' if min(enqueue['rps'], detail_result['rps']) >= 500 else 'MISSED'})"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
