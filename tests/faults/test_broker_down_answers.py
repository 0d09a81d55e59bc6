"""Answers to the designer's questions sent while the broker (Redis) is down are kept, and
the generation finishes once it is back — charged once.

The generation already exists and holds its charge when the questions come, so refusing
the answers would push our outage onto a user who has done their part (and who may not
come back before the questions expire). Instead the answers are saved, the page says the
generation will continue on its own, and beat's recovery scan queues it once the broker
answers again.

Once the broker is back the recovery scan queues it again — here run once by hand
(``manage.py generations_recover_lost``, the scan beat's task runs) before any worker
starts, so the moment between the two can be looked at: the page says the job queue was
unavailable and is continuing now, not "worker lost", and the API's ``worker_lost`` is
false (no worker was lost).

Production-shaped, no mock: gunicorn (the repo's config) whose broker and cache URL points
at a private redis-server that is not running yet; the user answers over HTTP with a real
session and CSRF token. Then that redis-server starts, with a Celery worker and beat, and
the generation runs on the local fake LLM."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import timezone

from billing.models import GenerationCharge
from billing.selectors import usage_for
from crewbuilder.api.tokens import api_token_create
from generation import services
from generation.models import Generation
from tests.conftest import require_service
from tests.factories import plan_assign
from tests.faults.conftest import (
    BASE_DIR,
    PrivateRedis,
    app_env,
    celery_beat,
    celery_worker,
    gunicorn,
    test_database_url,
    wait_for,
)

pytestmark = [
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

CANARY_OPENAI = "sk-canary0000SECRET0000openai0000key0000xyz"
REQ = "Collect EV battery market news, group it by theme and write a report for our executives."
QUESTIONS = ["Which markets matter most?", "How often should the report go out?"]
ANSWERS = {"answer_0": "Europe and China", "answer_1": "Every Monday morning"}
LOST_AFTER = 3  # the recovery scan's silence, shortened so the test takes seconds


def _csrf(html: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


@pytest.fixture
def waiting(tenant, settings, fake_llm):
    """A Professional organisation's CrewBuilder AI generation, stopped on two questions
    (run inline here, as a worker would: the first LLM reply is the questions)."""
    require_service("PostgreSQL", connection.vendor == "postgresql")
    plan_assign(tenant.org, "professional")
    settings.CREWBUILDER_GENERATION_RUNNER = "sync"
    settings.OPENAI_API_KEY = CANARY_OPENAI
    fake_llm.push_questions(QUESTIONS)
    g = services.generation_create(
        organization=tenant.org,
        user=tenant.owner,
        requirement=REQ,
        key_source="platform",
        provider="openai",
        allow_questions=True,
    )
    g.refresh_from_db()
    assert g.awaiting_answers and g.questions == QUESTIONS
    assert GenerationCharge.objects.get(generation_id=g.pk).status == "reserved"
    return g


def test_answers_sent_while_the_broker_is_down_are_kept_and_the_run_finishes_later(
    tenant, waiting, fake_llm, tmp_path
):
    broker = PrivateRedis(tmp_path / "redis")  # its port is chosen; nothing listens yet
    env = app_env(
        database_url=test_database_url(),
        redis_url=broker.url,
        OPENAI_API_KEY=CANARY_OPENAI,
        OPENAI_BASE_URL=fake_llm.openai_base_url,
        # the recovery scan's timings, shortened so the test takes seconds, not minutes
        CREWBUILDER_GENERATION_LOST_AFTER_SECONDS=str(LOST_AFTER),
        CREWBUILDER_GENERATION_RECOVER_EVERY_SECONDS="1",
    )
    browser = Client()
    browser.force_login(tenant.owner)
    _, token = api_token_create(organization=tenant.org, actor=tenant.owner, name="client")
    bearer = {"Authorization": f"Bearer {token}"}
    detail = f"/generations/{waiting.pk}/"
    with gunicorn(env, tmp_path / "web.log") as web:
        web.client.cookies.set(settings.SESSION_COOKIE_NAME, browser.cookies["sessionid"].value)
        page = web.client.get(detail)
        assert page.status_code == 200 and QUESTIONS[0] in page.text
        started = time.monotonic()
        answered = web.client.post(
            f"{detail}answers/", data={**ANSWERS, "csrfmiddlewaretoken": _csrf(page.text)}
        )
        took = time.monotonic() - started
        assert answered.status_code == 302, answered.text[-2000:]
        assert answered.headers["Location"] == detail
        assert took < 10  # the publish gives up within its bounded timeouts
        shown = web.client.get(detail)
        assert shown.status_code == 200
        assert "Your answers are saved" in shown.text
        assert "continue on its own" in shown.text
        assert "Europe and China" in shown.text  # the answers, on the page
        assert 'action="/generations/' not in shown.text  # no answer form any more

        waiting.refresh_from_db()
        assert waiting.answers == {
            QUESTIONS[0]: "Europe and China",
            QUESTIONS[1]: "Every Monday morning",
        }
        assert (waiting.status, waiting.error_code) == ("queued", "")
        assert GenerationCharge.objects.get(generation_id=waiting.pk).status == "reserved"

        # Sending the form again (back button, a second tab) changes nothing.
        again = web.client.post(
            f"{detail}answers/",
            data={"answer_0": "x", "answer_1": "y", "csrfmiddlewaretoken": _csrf(page.text)},
        )
        assert again.status_code == 400
        assert "not waiting for answers" in again.text
        waiting.refresh_from_db()
        assert waiting.answers[QUESTIONS[0]] == "Europe and China"
        log = (tmp_path / "web.log").read_text()
        assert '"status_code": 500' not in log, log[-4000:]
        assert "generation_answers_queue: Redis unavailable" in log  # said once, as a warning

        # The broker comes back; the scan finds the generation silent and queues it again.
        broker.start()
        try:
            wait_for(
                lambda: Generation.objects.filter(
                    pk=waiting.pk, updated_at__lt=timezone.now() - timedelta(seconds=LOST_AFTER)
                ).exists(),
                timeout=30,
                what="the answered generation to be silent for the scan",
            )
            scan = subprocess.run(
                [sys.executable, "manage.py", "generations_recover_lost"],
                cwd=BASE_DIR,
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert scan.returncode == 0, scan.stderr[-3000:]
            assert "requeued 1 generation(s)" in scan.stdout
            # Queued again, no worker yet: the job queue was down, no worker was lost.
            shown = web.client.get(detail)
            assert "The job queue was unavailable — continuing now…" in shown.text
            assert "Worker lost" not in shown.text and "was lost" not in shown.text
            api = web.client.get(f"/api/v1/generations/{waiting.pk}/", headers=bearer)
            assert api.status_code == 200
            assert (api.json()["status"], api.json()["worker_lost"]) == ("queued", False)

            # The worker and beat docker-compose runs.
            with (
                celery_worker(env, tmp_path / "worker.log"),
                celery_beat(env, tmp_path / "beat.log", tmp_path / "beat-schedule"),
            ):
                wait_for(
                    lambda: Generation.objects.filter(
                        pk=waiting.pk, status__in=["succeeded", "failed"]
                    ).exists(),
                    timeout=90,
                    what="the answered generation to finish",
                    log=tmp_path / "worker.log",
                )
        finally:
            broker.stop()
        done = web.client.get(f"/api/v1/generations/{waiting.pk}/", headers=bearer).json()
        assert (done["status"], done["worker_lost"]) == ("succeeded", False)
    waiting.refresh_from_db()
    assert waiting.status == "succeeded", (waiting.error_code, waiting.error_message)
    # the designer got the answers the user typed during the outage
    assert "Every Monday morning" in str(fake_llm.requests[-1].body)
    charge = GenerationCharge.objects.get(generation_id=waiting.pk)
    assert (charge.charged_as, charge.status) == ("quota", "committed")
    assert usage_for(tenant.org)["used"] == 1
