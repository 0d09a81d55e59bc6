"""Cost of one data-key unwrap: AWS KMS (moto's standalone server over real HTTP, boto3)
beside the database backend (local master key), measured in the same run.

Run: .venv/bin/python bench/keys_kms.py [--n 300]

What is timed is ``backend.unwrap`` of one organisation's wrapped data key (the call the
vault makes on a cold cache: first use of an organisation in a process, then at most once
per ``_DATA_KEY_TTL_SECONDS``), not the provider-key decrypt that follows it. Figures:
p50/p99/mean per unwrap for
  * database backend  - AES-256-GCM open under the local master key (the floor)
  * aws-kms via moto  - boto3 Decrypt with the organisation as encryption context, one
                        HTTP round trip to a local moto server (real AWS adds the network
                        round trip to the region, typically 5-20 ms)
  * bare HTTP         - an empty request/response to the same moto server with the same
                        keep-alive connection style (what the round trip itself costs)
"""

from __future__ import annotations

import argparse
import base64
import http.client
import os
import secrets
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crewbuilder.test_settings")
os.environ["CREWBUILDER_ENCRYPTION_KEYS"] = (
    "bench:" + base64.b64encode(secrets.token_bytes(32)).decode()
)
os.environ.pop("DATABASE_URL", None)

from tests.keys.moto_kms import CREDENTIALS, MotoServer  # noqa: E402

os.environ.update(CREDENTIALS)

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

from keys import backends, services  # noqa: E402
from keys.crypto import new_data_key  # noqa: E402


def timed(fn, n: int) -> list[float]:
    for _ in range(min(20, n)):  # warm connections and caches
        fn()
    out = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def row(label: str, ms: list[float], base: list[float] | None = None) -> None:
    ms = sorted(ms)
    p50, p99 = ms[len(ms) // 2], ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    ratio = f"{statistics.mean(ms) / statistics.mean(base):>9.0f}x" if base else f"{'':>10}"
    print(f"{label:<22}{p50:>10.3f}{p99:>10.3f}{statistics.mean(ms):>10.3f}{ratio}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=300)
    n = parser.parse_args().n
    server = MotoServer().start()
    try:
        context = services._data_key_context(42)
        data_key = new_data_key()

        local = backends.active_backend()
        wrapped_local, local_id = local.wrap(data_key=data_key, context=context)

        settings.CREWBUILDER_KEY_BACKEND = "aws-kms"
        settings.AWS_KMS_REGION = "eu-west-1"
        settings.AWS_KMS_ENDPOINT_URL = server.url
        settings.AWS_KMS_KEY_ID = server.client().create_key()["KeyMetadata"]["Arn"]
        kms = backends.active_backend()
        wrapped_kms, kms_id = kms.wrap(data_key=data_key, context=context)
        assert kms.unwrap(wrapped=wrapped_kms, key_id=kms_id, context=context) == data_key
        assert local.unwrap(wrapped=wrapped_local, key_id=local_id, context=context) == data_key

        host, port = server.url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=10)

        def bare_http():
            conn.request("GET", "/moto-api/data.json")
            conn.getresponse().read()

        db_ms = timed(
            lambda: local.unwrap(wrapped=wrapped_local, key_id=local_id, context=context), n
        )
        kms_ms = timed(lambda: kms.unwrap(wrapped=wrapped_kms, key_id=kms_id, context=context), n)
        http_ms = timed(bare_http, n)
        load = os.getloadavg()[0]
        print(f"data-key unwrap, {n} calls each, one process; load average {load:.1f}")
        print(f"{'':22}{'p50 ms':>10}{'p99 ms':>10}{'mean ms':>10}{'vs db':>10}")
        row("database backend", db_ms)
        row("aws-kms via moto", kms_ms, db_ms)
        row("bare HTTP to moto", http_ms, db_ms)
        print(
            f"KMS costs {statistics.mean(kms_ms) - statistics.mean(db_ms):.2f} ms more per "
            "unwrap; the vault caches an unwrapped data key per organisation for 5 minutes, "
            "so this is paid once per organisation per process per 5 minutes."
        )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
