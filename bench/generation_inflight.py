"""Generations in flight on one Celery worker (thread pool) with 2 s provider latency.

    DATABASE_URL=postgres://… REDIS_URL=redis://… .venv/bin/python bench/generation_inflight.py

What it does, in one run:
1. starts the fake provider (tests/fakes/llm.py) answering every call after 2 s;
2. baseline: the same number of direct OpenAI SDK calls from as many threads, no queue,
   no database — what the provider latency alone allows on this machine;
3. CrewBuilder: one ``celery -A crewbuilder worker --pool threads`` subprocess with
   ``--concurrency`` slots runs N generations (a stored organisation key, so no quota),
   each going designing → rendering → checking → packaging → done with every stage
   written to the database;
4. prints peak in flight (concurrent calls seen by the provider) and throughput, measured
   vs ideal (slots / latency) vs the direct-SDK baseline, side by side.

Target (issue #4): ≥ 100 in flight and ≥ 0.9 of ideal throughput.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crewbuilder.settings")
os.environ.setdefault("CREWBUILDER_TESTING", "true")
os.environ.setdefault("CREWBUILDER_GENERATION_RUNNER", "celery")


def peak_in_flight(intervals: list[tuple[float, float]]) -> int:
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    peak = current = 0
    for _, delta in events:
        current += delta
        peak = max(peak, current)
    return peak


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of a process (Linux /proc), to show where the time goes."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def baseline_direct_sdk(*, base_url: str, n: int, threads: int) -> tuple[float, int]:
    """n chat completions through the OpenAI SDK from `threads` threads; (seconds, peak)."""
    import openai

    spans: list[tuple[float, float]] = []
    lock = threading.Lock()
    todo = list(range(n))

    def work():
        client = openai.OpenAI(
            api_key="sk-bench-direct-0000000000000000", base_url=base_url, max_retries=0, timeout=30
        )
        while True:
            with lock:
                if not todo:
                    return
                todo.pop()
            start = time.monotonic()
            client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "design a crew"}]
            )
            with lock:
                spans.append((start, time.monotonic()))

    pool = [threading.Thread(target=work) for _ in range(threads)]
    started = time.monotonic()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return time.monotonic() - started, peak_in_flight(spans)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--generations", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--latency", type=float, default=2.0)
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="worker processes sharing --concurrency threads (2 = one per core)",
    )
    args = parser.parse_args()
    if not (
        os.environ.get("DATABASE_URL", "").startswith("postgres") and os.environ.get("REDIS_URL")
    ):
        print(
            "needs a shared database and broker: set DATABASE_URL=postgres://… and REDIS_URL=redis://…"
        )
        return 2

    import django

    django.setup()
    import redis
    from django.core.management import call_command

    from accounts.models import User
    from accounts.services import organization_create
    from generation import services
    from generation import tasks as tasks_module
    from generation.models import Generation
    from generation.tasks import generation_run_task
    from keys.services import provider_key_store
    from tests.fakes.llm import FakeLLM
    from tests.processes import celery_start, celery_worker_args

    call_command("migrate", verbosity=0)
    n, slots, latency = args.generations, args.concurrency, args.latency
    fake = FakeLLM(delay=latency).start()
    print(f"fake provider on {fake.base_url}, latency {latency:.1f} s; cores: {os.cpu_count()}")

    # --- baseline: the SDK alone -----------------------------------------------------------
    base_seconds, base_peak = baseline_direct_sdk(base_url=fake.openai_base_url, n=n, threads=slots)
    fake.clear()

    # --- CrewBuilder: one thread-pool worker ------------------------------------------------
    tag = uuid.uuid4().hex[:8]
    owner = User.objects.create_user(email=f"bench-{tag}@example.com")
    org = organization_create(name=f"bench {tag}", owner=owner)
    provider_key_store(
        organization=org, actor=owner, provider="openai", api_key=f"sk-bench{tag}" + "0" * 32
    )
    queue = redis.Redis.from_url(os.environ["REDIS_URL"])
    queue.delete("celery", "unacked", "unacked_index")
    env = {
        **os.environ,
        "OPENAI_BASE_URL": fake.openai_base_url,
        "DATABASE_CONN_MAX_AGE": "60",
        "LOG_LEVEL": "WARNING",
    }
    log = Path(tempfile.mkstemp(prefix="bench-worker-", suffix=".log")[1])
    procs = max(1, args.processes)
    workers = [
        celery_start(
            celery_worker_args(f"bench-{tag}-{i}@%h", concurrency=slots // procs), env=env, log=log
        )
        for i in range(procs)
    ]
    ids: list = []
    try:
        held: list = []
        tasks_module.generation_enqueue = held.append  # hold messages; published at once below

        def create() -> Generation:
            return services.generation_create(
                organization=org,
                user=owner,
                requirement="Research our competitors' pricing every week and write a "
                "one-page summary for the sales team.",
                key_source="stored",
                provider="openai",
            )

        # warm-up: the worker is up and has run one generation
        warm = create()
        generation_run_task.delay(str(warm.id))
        deadline = time.monotonic() + 120
        while not Generation.objects.filter(pk=warm.pk, status="succeeded").exists():
            if any(w.poll() is not None for w in workers) or time.monotonic() > deadline:
                print(log.read_text()[-3000:])
                raise SystemExit("worker did not come up")
            time.sleep(0.2)
        fake.clear()

        ids = [create().id for _ in range(n)]
        cpu_before = sum(process_cpu_seconds(w.pid) for w in workers)
        started_wall = time.time()
        started = time.monotonic()
        for gid in ids:
            generation_run_task.delay(str(gid))
        while True:
            done = Generation.objects.filter(pk__in=ids, status__in=["succeeded", "failed"]).count()
            if done == n or time.monotonic() - started > 60 + 10 * n * latency / slots:
                break
            time.sleep(0.05)
        cpu_after = sum(process_cpu_seconds(w.pid) for w in workers)
        cpu_per_gen_ms = (cpu_after - cpu_before) / n * 1000
        rows = list(Generation.objects.filter(pk__in=ids).values_list("status", "finished_at"))
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            w.wait(timeout=30)
        fake.stop()

    succeeded = sum(1 for status, _ in rows if status == "succeeded")
    last = max((f.timestamp() for s, f in rows if f), default=started_wall)
    seconds = last - started_wall
    calls = [(r.received_at, r.received_at + latency) for r in fake.requests]
    peak = peak_in_flight(calls)
    batches = -(-n // slots)
    ideal_seconds = batches * latency
    ideal_tput, base_tput = n / ideal_seconds, n / base_seconds
    tput = succeeded / seconds if seconds > 0 else 0.0

    print()
    print(
        f"{n} generations, {procs} worker process(es) --pool threads, {slots} threads in all, "
        f"provider {latency:.1f} s"
    )
    print(f"{'':28}{'ideal':>12}{'direct SDK':>14}{'CrewBuilder':>14}")
    print(f"{'peak in flight':28}{slots:>12}{base_peak:>14}{peak:>14}")
    print(f"{'wall time (s)':28}{ideal_seconds:>12.2f}{base_seconds:>14.2f}{seconds:>14.2f}")
    print(f"{'throughput (gen/s)':28}{ideal_tput:>12.1f}{base_tput:>14.1f}{tput:>14.1f}")
    print(
        f"{'fraction of ideal':28}{1.0:>12.2f}{base_tput / ideal_tput:>14.2f}{tput / ideal_tput:>14.2f}"
    )
    print(f"CrewBuilder / direct SDK throughput: {tput / base_tput:.2f}")
    print(
        f"worker CPU per generation: {cpu_per_gen_ms:.1f} ms (the GIL caps one process near "
        f"{1000 / max(cpu_per_gen_ms, 0.1):.0f} gen/s); load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"succeeded {succeeded}/{n}; target ≥ 100 in flight: {'met' if peak >= 100 else 'NOT met'};"
        f" ≥ 0.9 of ideal: {'met' if tput / ideal_tput >= 0.9 else 'NOT met'}"
    )

    Generation.objects.filter(organization=org).delete()
    org.delete()
    owner.delete()
    return 0


if __name__ == "__main__":
    sys.exit(main())
