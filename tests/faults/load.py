"""A small load generator for the fault tests: a few threads calling the live server
over real HTTP, each response recorded with the phase it was sent in."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import httpx

logging.getLogger("httpx").setLevel(logging.WARNING)


@dataclass(frozen=True)
class Result:
    phase: str
    kind: str  # "read", "create", "page", "page_create" …
    status: int  # 0: no HTTP answer at all (connection error or timeout)
    code: str | None  # the envelope's error code, when there is one
    retry_after: str | None
    body: str
    generation_id: str | None = None


Call = Callable[[httpx.Client], httpx.Response]


class Load:
    """Threads that each loop over their calls until stopped. A result's phase is the
    phase the request was sent and answered in, or ``"sent-answered"`` when they differ."""

    def __init__(self, base_url: str, *, pause: float = 0.02):
        self.base_url = base_url
        self.phase = "before"
        self.pause = pause
        self.results: list[Result] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def worker(self, calls: list[tuple[str, Call]], *, headers=None, cookies=None) -> None:
        def run() -> None:
            with httpx.Client(
                base_url=self.base_url, headers=headers, cookies=cookies, timeout=30
            ) as client:
                while not self._stop.is_set():
                    for kind, call in calls:
                        if self._stop.is_set():
                            break
                        self._record(kind, client, call)
                        time.sleep(self.pause)

        thread = threading.Thread(target=run, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _record(self, kind: str, client: httpx.Client, call: Call) -> None:
        sent = self.phase
        try:
            response = call(client)
        except httpx.TransportError as exc:
            phase = sent if self.phase == sent else f"{sent}-{self.phase}"
            result = Result(phase, kind, 0, None, None, repr(exc))
        else:
            # A request that was sent in one phase and answered in another counts apart.
            phase = sent if self.phase == sent else f"{sent}-{self.phase}"
            code, generation_id = None, None
            if response.headers.get("content-type", "").startswith("application/json"):
                body = response.json()
                if isinstance(body, dict) and isinstance(body.get("error"), dict):
                    code = body["error"].get("code")
                elif response.status_code == 202:
                    generation_id = body["id"]
            result = Result(
                phase,
                kind,
                response.status_code,
                code,
                response.headers.get("retry-after"),
                response.text if response.status_code != 200 else "",
                generation_id,
            )
        with self._lock:
            self.results.append(result)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def counts(self) -> dict[str, dict[str, int]]:
        """{"phase kind": {status: n}} for the report."""
        table: dict[str, Counter] = {}
        for r in self.results:
            table.setdefault(f"{r.phase} {r.kind}", Counter())[str(r.status)] += 1
        return {key: dict(sorted(c.items())) for key, c in sorted(table.items())}

    def where(self, **match) -> list[Result]:
        return [r for r in self.results if all(getattr(r, k) == v for k, v in match.items())]
