"""Platform overhead per generation vs a direct SDK call to the same fake provider.

Run: .venv/bin/python bench/generation_overhead.py [N] [CONCURRENCY]

A fake OpenAI-compatible provider (tests/fakes/llm.py, real HTTP on 127.0.0.1, in a child
process) answers
every chat completion after a fixed 1 s latency with a realistic crew design (three
agents, three tasks, tools). Two clients call it N times each from a thread pool:

  * baseline - what a developer would write: one ``openai.OpenAI`` client, one
               ``chat.completions.create`` in JSON mode with the same prompt the designer
               sends, ``json.loads`` of the answer
  * ours     - the whole engine for one generation: ``design_crew`` (prompt building,
               provider call through crewbuilder/providers.py, validation), then
               ``render_project``, ``run_checks`` and ``build_zip``

Added overhead = ours - baseline at the same percentile, measured in the same run against
the same server. Celery, the database and billing are not included (they are the
pipeline's, measured separately). A single-threaded breakdown of the CPU-only stages
follows, so the concurrent figures can be read against the pure cost of the work.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fakes.llm import FakeLLM, Reply  # noqa: E402

LATENCY = 1.0
ARGS = [a for a in sys.argv[1:] if not a.startswith("--")]
N = int(ARGS[0]) if ARGS else 120
CONCURRENCY = int(ARGS[1]) if len(ARGS) > 1 else 20
KEY = "sk-bench-not-a-real-key-0000000000"
REQUIREMENT = (
    "Every Monday, research the week's news about EV batteries from https://example.com/ev, "
    "analyse what changed and write a two-page report for the board."
)


def serve() -> None:
    """Child-process mode: the fake provider runs in its own process (as a real provider
    runs on another machine), so its CPU does not compete with the clients for the GIL."""
    from generation.fallback import fallback_design

    server = FakeLLM(delay=LATENCY).start()
    server.default = Reply("design", fallback_design(requirement=REQUIREMENT).model_dump())
    print(server.port, flush=True)
    sys.stdin.read()  # until the parent closes the pipe
    server.stop()


if __name__ == "__main__" and "--serve" in sys.argv:
    serve()
    sys.exit(0)

child = subprocess.Popen(
    [sys.executable, __file__, "--serve"],
    stdin=subprocess.PIPE,
    stdout=subprocess.PIPE,
    text=True,
)
PORT = int(child.stdout.readline())
BASE_URL = f"http://127.0.0.1:{PORT}/v1"
os.environ["OPENAI_BASE_URL"] = BASE_URL
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crewbuilder.test_settings")
os.environ.pop("DATABASE_URL", None)

import django  # noqa: E402

django.setup()

import openai  # noqa: E402
from django.conf import settings  # noqa: E402

from generation.checks import run_checks  # noqa: E402
from generation.design import validate_design  # noqa: E402
from generation.designer import design_crew, system_prompt, user_prompt  # noqa: E402
from generation.fallback import fallback_design  # noqa: E402
from generation.packaging import build_zip  # noqa: E402
from generation.renderer import render_project  # noqa: E402
from keys.services import ResolvedKey  # noqa: E402

settings.OPENAI_BASE_URL = BASE_URL
# Request logs would interleave with the table; both clients log through the same loggers.
logging.getLogger("httpx2").setLevel(logging.WARNING)
logging.getLogger("crewbuilder.providers").setLevel(logging.WARNING)
DESIGN = fallback_design(requirement=REQUIREMENT).model_dump(exclude_none=True)
RESOLVED = ResolvedKey(provider="openai", source="user", key_id=1, secret=KEY)
direct_client = openai.OpenAI(api_key=KEY, base_url=BASE_URL, max_retries=0, timeout=30.0)


# The baseline sends the very prompt the designer sends, so both requests cost the fake
# server (and the wire) the same; the difference is what the platform adds around it.
SYSTEM = system_prompt(allow_questions=False)
USER = user_prompt(requirement=REQUIREMENT, blueprint=None, answers=None, feedback=None)


CPU: dict[str, list[float]] = {"baseline": [], "ours": []}


def baseline() -> float:
    started, cpu = time.perf_counter(), time.thread_time()
    response = direct_client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": USER}],
        response_format={"type": "json_object"},
    )
    json.loads(response.choices[0].message.content)
    CPU["baseline"].append(time.thread_time() - cpu)
    return time.perf_counter() - started


def ours() -> float:
    started, cpu = time.perf_counter(), time.thread_time()
    result = design_crew(requirement=REQUIREMENT, key=RESOLVED)
    files = render_project(result.design)
    results = run_checks(files=files, design=result.design)
    build_zip(files=files, root=result.design.name)
    elapsed = time.perf_counter() - started
    CPU["ours"].append(time.thread_time() - cpu)
    assert all(r.passed for r in results), [r for r in results if not r.passed]
    return elapsed


def run_burst(fn, n: int) -> tuple[list[float], float]:
    """Closed loop: CONCURRENCY workers back to back. Every wave starts together and the
    fixed latency makes it finish together, so all post-processing lands on the GIL in
    the same millisecond: the worst case for a tail."""
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
        latencies = list(pool.map(lambda _: fn(), range(n)))
    return sorted(latencies), time.perf_counter() - started


def run_steady(fn, n: int) -> tuple[list[float], float]:
    """Open loop: one call every LATENCY/CONCURRENCY seconds (so ~CONCURRENCY in flight),
    closer to real traffic where generations do not all return in the same instant."""
    interval = LATENCY / CONCURRENCY
    started = time.perf_counter()

    def scheduled(i: int) -> float:
        wait = started + i * interval - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        return fn()

    with ThreadPoolExecutor(max_workers=CONCURRENCY * 3) as pool:
        latencies = list(pool.map(scheduled, range(n)))
    return sorted(latencies), time.perf_counter() - started


def pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


def stage_breakdown(repeat: int = 200) -> dict[str, float]:
    """Median single-threaded milliseconds of the CPU-only stages."""
    design = validate_design(DESIGN)
    files = render_project(design)
    stages = {
        "validate_design": lambda: validate_design(DESIGN),
        "render_project": lambda: render_project(design),
        "run_checks": lambda: run_checks(files=files, design=design),
        "build_zip": lambda: build_zip(files=files, root=design.name),
    }
    out = {}
    for name, fn in stages.items():
        samples = []
        for _ in range(repeat):
            t = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - t)
        out[name] = statistics.median(samples) * 1000
    return out


def table(title: str, base: list[float], mine: list[float]) -> None:
    print(f"{title}\n{'':<8}{'baseline (direct SDK)':>24}{'CrewBuilder engine':>22}{'added':>12}")
    for label, q in (("p50", 50), ("p90", 90), ("p99", 99)):
        b, m = pct(base, q) * 1000, pct(mine, q) * 1000
        print(f"{label:<8}{b:>21.1f} ms{m:>19.1f} ms{m - b:>9.1f} ms")
    b, m = statistics.mean(base) * 1000, statistics.mean(mine) * 1000
    print(f"{'mean':<8}{b:>21.1f} ms{m:>19.1f} ms{m - b:>9.1f} ms\n")


def main() -> None:
    # Warm both paths (imports, first connections) outside the measurement.
    for _ in range(3):
        baseline()
        ours()
    CPU["baseline"].clear()
    CPU["ours"].clear()
    print(
        f"fake provider latency {LATENCY:.1f} s, N={N} calls per client and mode, "
        f"~{CONCURRENCY} in flight, {os.cpu_count()} CPUs; fake provider in its own process\n"
    )
    base, _ = run_steady(baseline, N)
    mine, _ = run_steady(ours, N)
    table(f"steady arrivals (one call every {LATENCY / CONCURRENCY * 1000:.0f} ms)", base, mine)
    base, _ = run_burst(baseline, N)
    mine, _ = run_burst(ours, N)
    table(f"bursts ({CONCURRENCY} calls start and return together)", base, mine)
    b, m = statistics.median(CPU["baseline"]) * 1000, statistics.median(CPU["ours"]) * 1000
    print(
        "CPU time per call in the calling thread (median; insensitive to machine load):\n"
        f"{'':<8}{b:>21.2f} ms{m:>19.2f} ms{m - b:>9.2f} ms\n"
    )
    print("target: added p50 <= 10 ms, p99 <= 25 ms")
    print("\nsingle-threaded CPU of the stages around the call (median):")
    for name, ms in stage_breakdown().items():
        print(f"  {name:<16}{ms:>8.2f} ms")
    child.stdin.close()
    child.wait(timeout=10)


if __name__ == "__main__":
    main()
