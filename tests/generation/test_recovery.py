"""Worker loss: a run's heartbeat, the recovery scan that queues silent generations again,
and "worker lost — retrying" on the page and in the API (issue 10, issue 16).

The scan's rules are tested on a frozen clock; the heartbeat thread is tested in real
time against a provider that keeps the run waiting. A real worker killed with SIGKILL is
in ``test_worker.py``.
"""

from __future__ import annotations

import io
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client
from kombu.exceptions import OperationalError as KombuOperationalError

from crewbuilder.api.tokens import api_token_create
from crewbuilder.providers import ProviderRateLimited
from generation import services, tasks
from generation.models import Generation
from tests.generation.conftest import assign_plan

REQ = "Collect EV battery market news, group it by theme and write a report for our executives."
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def _queued(tenant) -> Generation:
    """Created and charged; in a ``db`` test its on-commit enqueue never runs."""
    return services.generation_create(
        organization=tenant.org,
        user=tenant.owner,
        requirement=REQ,
        key_source="platform",
        provider="openai",
    )


def _at(seconds: float):
    return time_machine.travel(T0 + timedelta(seconds=seconds), tick=False)


def test_defaults_recover_a_lost_worker_within_three_minutes(settings):
    """SIGKILL → silent after LOST_AFTER (its last beat may be HEARTBEAT old already)
    → found by the next scan → one more run. The defaults leave room for that run."""
    worst = (
        settings.CREWBUILDER_GENERATION_LOST_AFTER_SECONDS
        + settings.CREWBUILDER_GENERATION_RECOVER_EVERY_SECONDS
    )
    assert worst + 60 <= 180
    assert 3 * settings.CREWBUILDER_GENERATION_HEARTBEAT_SECONDS <= (
        settings.CREWBUILDER_GENERATION_LOST_AFTER_SECONDS
    )  # a live run misses two beats before it could be taken for lost
    beat = settings.CELERY_BEAT_SCHEDULE["generation-recover-lost"]
    assert beat["task"] == tasks.generation_recover_lost_task.name
    assert beat["schedule"] == settings.CREWBUILDER_GENERATION_RECOVER_EVERY_SECONDS


def test_silent_generations_are_queued_again_once_and_finish_charged_once(
    tenant, django_capture_on_commit_callbacks, charge_calls
):
    assign_plan(tenant.org, "basic")
    with _at(0):
        stuck = _queued(tenant)
        services._claim(stuck.id, uuid.uuid4())  # its worker was SIGKILLed right after
        lost_message = _queued(tenant)  # its message vanished (a Redis flush)
        waiting = _queued(tenant)
        Generation.objects.filter(pk=waiting.pk).update(questions=["Which market?"])
    with _at(30):
        fresh = _queued(tenant)
    with _at(59):
        assert services.generations_recover_lost() == []
        assert not Generation.objects.get(pk=stuck.pk).worker_lost
    with _at(61):
        # silent past the limit: shown as lost before the scan even runs
        assert Generation.objects.get(pk=stuck.pk).worker_lost
        with django_capture_on_commit_callbacks(execute=False) as queued_again:
            recovered = services.generations_recover_lost()
            assert services.generations_recover_lost() == []  # a second scan: nothing new
        assert set(recovered) == {stuck.pk, lost_message.pk}
        assert len(queued_again) == 2
        g = Generation.objects.get(pk=stuck.pk)
        assert (g.status, g.worker_lost, g.notice) == (
            "running",
            True,
            services.WORKER_LOST_NOTICE,
        )
        for callback in queued_again:
            callback()
    for pk in (stuck.pk, lost_message.pk):
        g = Generation.objects.get(pk=pk)
        assert (g.status, g.worker_lost, g.notice) == ("succeeded", False, "")
    assert Generation.objects.get(pk=stuck.pk).runs == 2
    assert Generation.objects.get(pk=waiting.pk).status == "queued"  # waits for answers
    assert Generation.objects.get(pk=fresh.pk).status == "queued"  # not lost yet
    assert sorted(charge_calls["commit"]) == sorted([stuck.pk, lost_message.pk])
    assert charge_calls["release"] == []


def test_a_scheduled_retry_is_not_lost_before_it_is_due(tenant, platform_openai):
    assign_plan(tenant.org, "basic")
    with _at(0):
        g = _queued(tenant)
        token = uuid.uuid4()
        services._claim(g.id, token)
        services.generation_retry_scheduled(
            generation_id=g.id,
            run_token=token,
            delay_seconds=300,
            error=ProviderRateLimited("busy", provider="openai"),
        )
    with _at(300 + 59):
        assert services.generations_recover_lost() == []
    with _at(300 + 61):
        assert services.generations_recover_lost() == [g.pk]


def test_a_run_found_lost_that_comes_back_is_superseded(tenant):
    """The scan may take a slow run for lost (its database was away for a minute): the
    recovery run claims it, and the old run can no longer write anything."""
    assign_plan(tenant.org, "basic")
    with _at(0):
        g = _queued(tenant)
        old = uuid.uuid4()
        claimed = services._claim(g.id, old)
    with _at(61):
        assert services.generations_recover_lost() == [g.pk]
        services.generation_run(generation_id=g.id)  # the recovery message
    with _at(62):
        with pytest.raises(services.RunSuperseded):
            services._advance(claimed, old, Generation.Stage.RENDERING)
        assert services.generations_heartbeat(runs=[(g.id, old)]) == 0
    g.refresh_from_db()
    assert (g.status, g.runs) == ("succeeded", 2)


def test_a_slow_run_that_beats_again_clears_worker_lost(tenant):
    assign_plan(tenant.org, "basic")
    with _at(0):
        g = _queued(tenant)
        token = uuid.uuid4()
        services._claim(g.id, token)
    with _at(61):
        assert services.generations_recover_lost() == [g.pk]
        assert Generation.objects.get(pk=g.pk).worker_lost
        assert services.generations_heartbeat(runs=[(g.id, token)]) == 1
        g.refresh_from_db()
        assert not g.worker_lost


def test_worker_lost_shows_on_the_page_and_in_the_api(tenant, owner_client):
    from generation.selectors import generation_public

    assign_plan(tenant.org, "basic")
    with _at(0):
        g = _queued(tenant)
        services._claim(g.id, uuid.uuid4())
    with _at(30):
        g.refresh_from_db()
        assert generation_public(g)["worker_lost"] is False
        assert "Worker lost" not in owner_client.get(f"/generations/{g.pk}/").content.decode()
    with _at(61):
        g.refresh_from_db()
        assert generation_public(g)["worker_lost"] is True
        assert (
            "Worker lost — retrying" in owner_client.get(f"/generations/{g.pk}/").content.decode()
        )


def test_a_generation_kept_queued_while_the_broker_was_down_is_not_a_lost_worker(
    tenant, owner_client, django_capture_on_commit_callbacks, monkeypatch
):
    """Answers sent while the broker is down keep the generation queued; the scan queues
    it again once it is back. No worker was lost: the page says the job queue was
    unavailable and the API's ``worker_lost`` stays false, until a worker claims it."""
    assign_plan(tenant.org, "professional")  # API access
    _, token = api_token_create(organization=tenant.org, actor=tenant.owner, name="ci")
    api = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    with _at(0):
        g = _queued(tenant)
        Generation.objects.filter(pk=g.pk).update(questions=["Which market?"])

        def broker_down(generation_id):
            raise KombuOperationalError("Error 111 connecting to 127.0.0.1:6379.")

        with monkeypatch.context() as m:
            m.setattr("generation.tasks.generation_enqueue", broker_down)
            with django_capture_on_commit_callbacks(execute=True):
                services.generation_answer_questions(
                    generation=g, user=tenant.owner, answers={"Which market?": "Europe"}
                )
        g.refresh_from_db()
        assert (g.status, g.notice) == ("queued", services.ANSWERS_KEPT_NOTICE)
        assert g.queue_unavailable_at is not None
        assert (g.worker_lost, g.queue_resumed) == (False, False)
    with _at(61):
        with django_capture_on_commit_callbacks(execute=False) as queued_again:
            assert services.generations_recover_lost() == [g.pk]
        g.refresh_from_db()
        assert (g.status, g.notice) == ("queued", services.QUEUE_RESUMED_NOTICE)
        assert (g.worker_lost, g.queue_resumed) == (False, True)
        shown = api.get(f"/api/v1/generations/{g.pk}/").json()
        assert (shown["status"], shown["worker_lost"]) == ("queued", False)
        page = owner_client.get(f"/generations/{g.pk}/").content.decode()
        assert "The job queue was unavailable — continuing now…" in page
        assert "Worker lost" not in page and "was lost" not in page
        for callback in queued_again:  # the worker claims it
            callback()
    g.refresh_from_db()
    assert (g.status, g.notice, g.queue_unavailable_at) == ("succeeded", "", None)
    assert (g.worker_lost, g.queue_resumed, g.runs) == (False, False, 1)


def test_recover_lost_command(tenant, django_capture_on_commit_callbacks):
    assign_plan(tenant.org, "basic")
    with _at(0):
        g = _queued(tenant)
    with _at(20):
        out = io.StringIO()
        call_command("generations_recover_lost", "--lost-after", "10", stdout=out)
    assert out.getvalue().strip() == "requeued 1 generation(s)"
    assert Generation.objects.get(pk=g.pk).worker_lost_at is not None


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_run_beats_while_it_waits_on_the_provider(
    tenant, platform_openai, settings, postgres, monkeypatch
):
    """The heartbeat thread writes a sign of life every HEARTBEAT seconds while the run
    waits on a slow provider (the stage itself does not change meanwhile)."""
    settings.CREWBUILDER_GENERATION_HEARTBEAT_SECONDS = 0.2
    assign_plan(tenant.org, "basic")
    platform_openai.push_delay(2.0)
    # a heartbeat thread of its own (one left by an earlier test may be mid-way through
    # a 10 s sleep)
    monkeypatch.setattr(services, "_heartbeat", services._Heartbeat())
    with pytest.MonkeyPatch.context() as m:
        m.setattr("generation.tasks.generation_enqueue", lambda generation_id: None)
        g = _queued(tenant)
    runner = threading.Thread(target=tasks._run_in_thread, args=(str(g.pk),))
    runner.start()
    beats = set()
    while runner.is_alive():
        row = Generation.objects.filter(pk=g.pk).values("stage", "heartbeat_at").get()
        if row["stage"] == "designing" and row["heartbeat_at"] is not None:
            beats.add(row["heartbeat_at"])
        time.sleep(0.05)
    runner.join()
    assert len(beats) >= 5  # the claim's, then one every 0.2 s of the 2 s wait
    assert Generation.objects.get(pk=g.pk).status == "succeeded"
