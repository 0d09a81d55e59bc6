"""/metrics: protected by a bearer token, counters from the code paths that count them,
states read from the database at scrape time, and the multiprocess mode that sums every
gunicorn worker and the Celery worker (real gunicorn with two workers here)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from generation.models import Generation

TOKEN = "metrics-token-for-tests-0123456789"
ROOT = Path(django_settings.BASE_DIR)


def _scrape(client: Client, token: str = TOKEN):
    return client.get("/metrics", headers={"Authorization": f"Bearer {token}"})


def _samples(text: str) -> dict[tuple[str, tuple], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_metrics_are_off_without_a_token_and_refuse_a_wrong_one(db, settings):
    settings.CREWBUILDER_METRICS_TOKEN = ""
    assert Client().get("/metrics").status_code == 404
    settings.CREWBUILDER_METRICS_TOKEN = TOKEN
    assert Client().get("/metrics").status_code == 401
    response = _scrape(Client(), token="wrong")
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Bearer")
    assert _scrape(Client()).status_code == 200


def test_queue_depth_and_oldest_queued_age_come_from_the_database(tenant, settings):
    from datetime import timedelta

    from django.utils import timezone

    settings.CREWBUILDER_METRICS_TOKEN = TOKEN
    settings.PROMETHEUS_MULTIPROC_DIR = ""
    now = timezone.now()
    for minutes, status in ((7, "queued"), (2, "queued"), (1, "running"), (30, "succeeded")):
        Generation.objects.create(
            organization=tenant.org,
            user=tenant.owner,
            requirement="x" * 30,
            status=status,
            updated_at=now - timedelta(minutes=minutes),
        )
    # Waiting for the user's answers is not waiting for a worker.
    Generation.objects.create(
        organization=tenant.org,
        user=tenant.owner,
        requirement="x" * 30,
        status="queued",
        questions=["Which CRM?"],
        updated_at=now - timedelta(hours=5),
    )
    samples = _samples(_scrape(Client()).content.decode())
    assert samples[("crewbuilder_generation_queue_depth", ())] == 2
    assert (
        7 * 60 - 5 <= samples[("crewbuilder_generation_oldest_queued_seconds", ())] <= 7 * 60 + 60
    )
    assert samples[("crewbuilder_generations", (("status", "queued"),))] == 3
    assert samples[("crewbuilder_generations", (("status", "succeeded"),))] == 1


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str, headers=None, data: bytes | None = None):
    request = urllib.request.Request(url, data=data, headers=headers or {})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_gunicorn_workers_and_another_process_are_summed_in_multiprocess_mode(tmp_path, settings):
    """Two gunicorn workers count refused Stripe webhooks; a separate process (as the
    Celery worker does) counts provider calls; one scrape through gunicorn sums them all."""
    from django.db import connection

    from tests.conftest import require_service

    require_service("PostgreSQL (DATABASE_URL)", connection.vendor == "postgresql")
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CREWBUILDER_"))},
        "DJANGO_SETTINGS_MODULE": "crewbuilder.settings",
        "CREWBUILDER_TESTING": "true",
        "DATABASE_URL": f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "CREWBUILDER_METRICS_TOKEN": TOKEN,
        "STRIPE_SECRET_KEY": "sk_test_metrics",
        "STRIPE_WEBHOOK_SECRET": "whsec_metrics",
        "CREWBUILDER_ENV_FILE": os.devnull,
    }
    env.pop("REDIS_URL", None)
    port = _free_port()
    log = (tmp_path / "gunicorn.log").open("wb")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "crewbuilder.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if _get(f"{base}/healthz")[0] in (200, 503):
                    break
            except OSError:
                time.sleep(0.2)
        for _ in range(12):
            status, _body = _get(
                f"{base}/billing/webhook/",
                headers={"Stripe-Signature": "t=1,v1=bad", "Content-Type": "application/json"},
                data=b"{}",
            )
            assert status == 400
        worker = subprocess.run(
            [
                sys.executable,
                "-c",
                "import django; django.setup()\n"
                "from crewbuilder.metrics import PROVIDER_ERRORS\n"
                "PROVIDER_ERRORS.labels(provider='openai', model='gpt-4o-mini', code='rate_limited').inc(3)\n",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert worker.returncode == 0, worker.stderr
        status, text = _get(f"{base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert status == 200, text
        samples = _samples(text)
        key = (
            "crewbuilder_webhooks_received_total",
            (("outcome", "invalid_signature"), ("source", "stripe")),
        )
        assert samples[key] == 12
        assert (
            samples[
                (
                    "crewbuilder_provider_errors_total",
                    (("code", "rate_limited"), ("model", "gpt-4o-mini"), ("provider", "openai")),
                )
            ]
            == 3
        )
        pids = {p.name.split("_")[-1] for p in metrics_dir.glob("counter_*.db")}
        assert len(pids) >= 3  # two gunicorn workers and the other process wrote counters
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
