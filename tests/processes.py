"""Celery processes for the tests (and the benches): ``python -m celery -A crewbuilder …``
from the repo root as a subprocess, its output appended to a log file, and a wait for the
line Celery logs once it is ready.

No Django import here: a bench imports this before ``django.setup()``.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

BASE_DIR = Path(__file__).resolve().parent.parent
T = TypeVar("T")


def wait_for(
    predicate: Callable[[], T],
    *,
    timeout: float,
    what: str,
    log: Path | None = None,
    interval: float = 0.05,
) -> T:
    """``predicate()``'s first truthy value, asked every ``interval`` s; after ``timeout`` s
    an ``AssertionError`` naming ``what``, with the tail of ``log``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    tail = log.read_text(errors="replace")[-4000:] if log and log.exists() else ""
    raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{tail}")


def stop_process(
    proc: subprocess.Popen[bytes],
    *,
    sig: signal.Signals = signal.SIGTERM,
    timeout: float = 10,
    group: bool = False,
) -> None:
    """Stop ``proc`` (``sig``, then SIGKILL after ``timeout`` s); with ``group`` (it was
    started in a session of its own: gunicorn, Celery) also every process of its session,
    so no child outlives the test."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if group:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # children left behind by the leader
        except ProcessLookupError:
            pass


def celery_worker_args(name: str, *, concurrency: int, loglevel: str = "warning") -> list[str]:
    """A thread-pool worker taking one message per slot at a time, without the cluster
    chatter (gossip, mingle, heartbeat) that nothing here uses."""
    return [
        "worker",
        "--pool",
        "threads",
        "--concurrency",
        str(concurrency),
        "--prefetch-multiplier",
        "1",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "-l",
        loglevel,
        "-n",
        name,
    ]


def celery_start(
    args: list[str], *, env: Mapping[str, str], log: Path, new_session: bool = False
) -> subprocess.Popen[bytes]:
    """``celery -A crewbuilder <args>`` with its output appended to ``log``; with
    ``new_session`` in a session of its own, so ``os.killpg`` stops its children too."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "crewbuilder", *args],
            cwd=BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=new_session,
        )


def celery_wait_ready(
    proc: subprocess.Popen[bytes], log: Path, *, ready: str, what: str, timeout: float
) -> None:
    """Wait until ``log`` has a line matching the regex ``ready`` (Celery logs it at INFO:
    ``<name>@<host> ready.`` for a worker, ``beat: Starting...`` for beat); fail at once,
    with the log, if the process exits first."""
    wait_for(
        lambda: proc.poll() is not None or re.search(ready, log.read_text()),
        timeout=timeout,
        what=what,
        log=log,
        interval=0.1,
    )
    if proc.poll() is not None:
        raise AssertionError(f"{what}: the process exited\n" + log.read_text()[-3000:])
