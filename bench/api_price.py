"""What a change costs the API, on this machine: ``bench/api_latency.py`` run on an earlier
commit and on this checkout, in turns, in the same run.

    .venv/bin/python bench/api_price.py 19bdf0e            # 3 rounds each, interleaved
    .venv/bin/python bench/api_price.py v0.1.0 --rounds 5

Throughput on a 2-core machine is set by CPU per request, and what a core does per second
differs between machines and with what else runs on them: a figure measured on another day
or machine is not a baseline. Here the earlier commit (checked out into a temporary git
worktree and served by its own ``bench/api_latency.py``, on its own database
``<DATABASE_URL>_ref``; both databases are dropped first, so both start empty) and this
checkout alternate — ref, this, ref, this… — so both see
the same machine and load; the medians and the ratio are printed side by side.

Both run on this virtualenv's packages: the comparison is of the project's code, not of
its pinned dependencies. The earlier commit must have ``bench/api_latency.py``.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/crewbuilder_bench"
# "API enqueue     POST /api/v1/generations/    110    81.59   244.57   23.9x   13.13   2.89  {...}"
ROW = re.compile(
    r"^API (?P<name>enqueue|detail)\s+\S+\s+\S+\s+(?P<rps>[\d.]+)\s+(?P<p50>[\d.]+)\s+"
    r"(?P<p99>[\d.]+)\s+[\d.]+x\s+(?P<app>[\d.]+)\s+(?P<pg>[\d.]+)"
)
FIELDS = ("rps", "p50", "app", "pg")


def run_once(root: Path, database_url: str) -> dict[str, dict[str, float]]:
    """One full ``api_latency.py`` run from ``root``: {"enqueue": {...}, "detail": {...}}."""
    env = dict(os.environ, DATABASE_URL=database_url)
    out = subprocess.run(
        [sys.executable, str(root / "bench" / "api_latency.py")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    rows = {}
    for line in out.stdout.splitlines():
        if match := ROW.match(line):
            rows[match["name"]] = {field: float(match[field]) for field in FIELDS}
    if set(rows) != {"enqueue", "detail"}:
        raise SystemExit(f"{root}: no figures (exit {out.returncode})\n{out.stdout}{out.stderr}")
    return rows


def _drop_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0].replace("postgres://", "postgresql://") + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("ref", help="the earlier commit, tag or branch")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    base_url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    label = subprocess.run(
        ["git", "rev-parse", "--short", args.ref], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    if not label:
        raise SystemExit(f"unknown ref {args.ref!r}")
    for url in (base_url, base_url + "_ref"):
        _drop_database(url)  # both start from an empty schema: table sizes matter too
    with tempfile.TemporaryDirectory(prefix="api-price-") as tmp:
        worktree = Path(tmp) / "ref"
        subprocess.run(
            ["git", "worktree", "add", "--detach", "--quiet", str(worktree), label],
            cwd=ROOT,
            check=True,
        )
        try:
            results: dict[str, list[dict[str, dict[str, float]]]] = {"ref": [], "this": []}
            for round_no in range(1, args.rounds + 1):
                for side, root, url in (
                    ("ref", worktree, base_url + "_ref"),
                    ("this", ROOT, base_url),
                ):
                    results[side].append(run_once(root, url))
                    row = results[side][-1]["enqueue"]
                    load = os.getloadavg()[0]
                    print(
                        f"round {round_no} {side:4s}: enqueue {row['rps']:.0f} req/s, "
                        f"{row['app']:.2f} ms app CPU/request (load {load:.1f})",
                        flush=True,
                    )
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=ROOT)
    print()
    print(f"medians of {args.rounds} interleaved runs; ref = {label}, this = the checkout")
    print(f"{'scenario':10s} {'figure':22s} {'ref':>9s} {'this':>9s} {'this/ref':>9s}")
    names = {
        "rps": "req/s (8 clients)",
        "p50": "p50 ms",
        "app": "app CPU ms/request",
        "pg": "PG CPU ms/request",
    }
    for scenario in ("enqueue", "detail"):
        for field in FIELDS:
            ref = statistics.median(r[scenario][field] for r in results["ref"])
            this = statistics.median(r[scenario][field] for r in results["this"])
            ratio = this / ref if ref else float("nan")
            print(f"{scenario:10s} {names[field]:22s} {ref:9.2f} {this:9.2f} {ratio:9.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
