"""Serve tests/fakes/llm.py (fake OpenAI + Anthropic over real HTTP) as its own process for
CI's black-box stages, which run the web app as a separate process.

    PYTHONPATH=. python scripts/upgrade_check/fake_llm.py --ready ready.json --log requests.jsonl

Writes ``{"base_url", "openai_base_url", "anthropic_base_url"}`` to ``--ready`` once it
listens, and one JSON line per request (method, path, api, api_key) to ``--log``, so a
journey can check which key reached the provider. Runs until terminated.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from pathlib import Path

from tests.fakes.llm import FakeLLM, Reply


class LoggingFakeLLM(FakeLLM):
    def __init__(self, log: Path) -> None:
        super().__init__()
        self.default = Reply("fit")  # a crew that fits each requirement (the fit check)
        self._log = log
        self._log_lock = threading.Lock()

    def _record(self, request) -> None:
        super()._record(request)
        line = {
            "method": request.method,
            "path": request.path,
            "api": request.api,
            "api_key": request.api_key,
        }
        with self._log_lock, self._log.open("a") as handle:
            handle.write(json.dumps(line) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ready", required=True, type=Path)
    parser.add_argument("--log", required=True, type=Path)
    args = parser.parse_args()
    args.log.write_text("")
    fake = LoggingFakeLLM(args.log).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    ready = {
        "base_url": fake.base_url,
        "openai_base_url": fake.openai_base_url,
        "anthropic_base_url": fake.anthropic_base_url,
    }
    tmp = args.ready.with_suffix(".tmp")
    tmp.write_text(json.dumps(ready))
    tmp.replace(args.ready)
    stop.wait()
    fake.stop()


if __name__ == "__main__":
    main()
