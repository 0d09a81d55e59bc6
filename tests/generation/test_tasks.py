"""The queue's behaviour against a fake provider over real HTTP (tests/fakes/llm.py):
retries with backoff on 429/5xx/timeouts honouring Retry-After, no retry on 400/401 (the
stored key is flagged), the charge released exactly once, keys never stored."""

from __future__ import annotations

import json
import logging
import time
import uuid
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings as django_settings
from django.core import serializers
from django.utils import timezone

from accounts.models import AuditEvent
from billing.models import GenerationCharge
from billing.selectors import usage_for
from crewbuilder import providers
from generation import services, tasks
from generation.models import Generation
from keys.models import ProviderKey
from keys.services import provider_key_store
from tests.generation.conftest import (
    CANARY_ANTHROPIC,
    CANARY_OPENAI,
    assign_plan,
    create_generation,
)

pytestmark = pytest.mark.django_db

REQ = (
    "Research the EV battery market and write a short report of the most important news "
    "for our executives."
)


def run(tenant, django_capture_on_commit_callbacks, **kwargs) -> Generation:
    kwargs.setdefault("requirement", REQ)
    return create_generation(tenant, django_capture_on_commit_callbacks, **kwargs)


@pytest.fixture
def basic_plan(tenant):
    assign_plan(tenant.org, "basic")


# --------------------------------------------------------------------------- limits


def test_time_limits_are_ordered_sdk_timeout_times_calls_soft_hard_visibility():
    limits = tasks.time_limits()
    assert list(limits) == ["provider_calls", "soft_time_limit", "time_limit", "visibility_timeout"]
    assert limits["provider_calls"] == providers.provider_timeout() * tasks.PROVIDER_CALLS_PER_RUN
    assert (
        limits["provider_calls"]
        < limits["soft_time_limit"]
        < limits["time_limit"]
        < limits["visibility_timeout"]
    )
    assert tasks.time_limits_ordered()


def test_misordered_limits_are_detected(settings):
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 300}
    assert not tasks.time_limits_ordered()


def test_task_is_acked_late_rejected_on_worker_loss_and_carries_the_limits():
    task = tasks.generation_run_task
    assert task.acks_late is True
    assert task.reject_on_worker_lost is True
    assert task.soft_time_limit == django_settings.CREWBUILDER_GENERATION_SOFT_TIME_LIMIT
    assert task.time_limit == django_settings.CREWBUILDER_GENERATION_TIME_LIMIT


def test_backoff_grows_exponentially_with_jitter_and_honours_retry_after(settings):
    settings.CREWBUILDER_GENERATION_RETRY_BASE_SECONDS = 1.0
    settings.CREWBUILDER_GENERATION_RETRY_MAX_SECONDS = 60.0
    for retries, low, high in [(0, 0.5, 1.0), (1, 1.0, 2.0), (3, 4.0, 8.0), (10, 30.0, 60.0)]:
        delays = {tasks.retry_delay(retries=retries, retry_after=None) for _ in range(50)}
        assert all(low <= d <= high for d in delays), (retries, delays)
        assert len(delays) > 1  # jittered, not lock-step
    assert all(tasks.retry_delay(retries=0, retry_after=30) >= 30 for _ in range(20))
    assert all(tasks.retry_delay(retries=0, retry_after=30) <= 30.25 for _ in range(20))


# --------------------------------------------------------------------------- provider errors


def test_rate_limited_then_success_retries_after_retry_after(
    tenant, basic_plan, platform_openai, django_capture_on_commit_callbacks, charge_calls
):
    platform_openai.push_error(429, retry_after="0.2")
    g = run(tenant, django_capture_on_commit_callbacks)
    assert g.status == "succeeded" and g.retries == 1
    requests = [r for r in platform_openai.requests if r.path.endswith("/chat/completions")]
    assert len(requests) == 2
    assert requests[1].received_at - requests[0].received_at >= 0.2  # Retry-After honoured
    assert all(r.api_key == CANARY_OPENAI for r in requests)
    assert (g.provider, g.model, g.charged_as) == ("openai", "gpt-4o-mini", "quota")
    # 1200 in + 800 out at 15/60 ¢ per million = 0.066 ¢ → 1 ¢
    assert (g.input_tokens, g.output_tokens, g.cost_cents) == (1200, 800, 1)
    assert g.design["name"] == "market_watch_crew"
    assert charge_calls == {"commit": [g.id], "release": []}
    assert GenerationCharge.objects.get(generation_id=g.id).status == "committed"


def test_the_celery_task_retries_through_celery(
    tenant, basic_plan, platform_openai, settings, django_capture_on_commit_callbacks
):
    settings.CREWBUILDER_GENERATION_RUNNER = "celery"  # eager in tests without Redis
    platform_openai.push_error(503)
    g = services.generation_create(
        organization=tenant.org,
        user=tenant.owner,
        requirement=REQ,
        key_source="platform",
        provider="openai",
    )
    result = tasks.generation_run_task.apply(args=[str(g.id)])
    assert result.successful()
    g.refresh_from_db()
    assert (g.status, g.retries) == ("succeeded", 1)


def test_anthropic_overloaded_529_is_retried(
    tenant, basic_plan, settings, fake_llm, django_capture_on_commit_callbacks
):
    settings.ANTHROPIC_API_KEY = CANARY_ANTHROPIC
    fake_llm.push_error(529)
    g = run(tenant, django_capture_on_commit_callbacks, provider="anthropic")
    assert (g.status, g.retries, g.provider, g.model) == (
        "succeeded",
        1,
        "anthropic",
        "claude-haiku-4-5",
    )
    assert [r.path for r in fake_llm.requests] == ["/v1/messages", "/v1/messages"]
    assert fake_llm.requests[-1].api_key == CANARY_ANTHROPIC


def test_persistent_server_errors_fail_after_the_retries_and_give_the_quota_back(
    tenant,
    basic_plan,
    platform_openai,
    settings,
    django_capture_on_commit_callbacks,
    charge_calls,
):
    settings.CREWBUILDER_GENERATION_MAX_RETRIES = 2
    for _ in range(3):
        platform_openai.push_error(500)
    g = run(tenant, django_capture_on_commit_callbacks)
    assert (g.status, g.error_code, g.retries) == ("failed", "provider_unavailable", 2)
    assert "OpenAI" in g.error_message and CANARY_OPENAI not in g.error_message
    assert len(platform_openai.requests) == 3
    assert charge_calls == {"commit": [], "release": [g.id]}
    assert usage_for(tenant.org)["used"] == 0


def test_provider_timeout_is_retried(
    tenant, basic_plan, platform_openai, settings, django_capture_on_commit_callbacks
):
    settings.PROVIDER_TIMEOUT_SECONDS = 0.3
    platform_openai.push_delay(1.5)
    g = run(tenant, django_capture_on_commit_callbacks)
    assert (g.status, g.retries) == ("succeeded", 1)
    assert len(platform_openai.requests) == 2


def test_rejected_stored_key_is_not_retried_and_is_flagged_invalid(
    tenant, fake_llm, django_capture_on_commit_callbacks, charge_calls
):
    key = provider_key_store(
        organization=tenant.org, actor=tenant.owner, provider="openai", api_key=CANARY_OPENAI
    )
    fake_llm.push_error(401)
    g = run(tenant, django_capture_on_commit_callbacks, user=tenant.member, key_source="stored")
    assert (g.status, g.error_code, g.retries) == ("failed", "auth_failed", 0)
    assert (g.resolved_key_source, g.provider_key_id, g.charged_as) == (
        "organization",
        key.pk,
        "own_key",
    )
    assert len(fake_llm.requests) == 1
    assert fake_llm.requests[0].api_key == CANARY_OPENAI
    key.refresh_from_db()
    assert key.status == ProviderKey.Status.INVALID
    assert charge_calls["release"] == [g.id]


def test_bad_request_is_not_retried(
    tenant, basic_plan, platform_openai, django_capture_on_commit_callbacks
):
    platform_openai.push_error(400, message="model does not exist")
    g = run(tenant, django_capture_on_commit_callbacks)
    assert (g.status, g.error_code, g.retries) == ("failed", "bad_request", 0)
    assert len(platform_openai.requests) == 1


def test_malformed_json_twice_fails_honestly_and_records_the_tokens(
    tenant, basic_plan, platform_openai, django_capture_on_commit_callbacks, charge_calls
):
    platform_openai.push_text("Sure! Here is your crew: {not json")
    platform_openai.push_text("```\nstill not json\n```")
    g = run(tenant, django_capture_on_commit_callbacks)
    assert (g.status, g.error_code, g.retries) == ("failed", "design_invalid", 0)
    assert len(platform_openai.requests) == 2
    assert g.input_tokens > 0  # the spent tokens are recorded even though it failed
    assert charge_calls["release"] == [g.id]


def test_malformed_json_once_is_repaired(
    tenant, basic_plan, platform_openai, django_capture_on_commit_callbacks
):
    platform_openai.push_text("not json at all")
    g = run(tenant, django_capture_on_commit_callbacks)
    assert g.status == "succeeded"
    assert (g.input_tokens, g.output_tokens) == (2400, 1600)


# --------------------------------------------------------------------------- one-time keys


def test_one_time_key_reaches_the_provider_survives_a_retry_and_is_stored_nowhere(
    tenant, fake_llm, django_capture_on_commit_callbacks, caplog
):
    caplog.set_level(logging.DEBUG)
    fake_llm.push_error(429, retry_after="0.05")
    g = run(
        tenant,
        django_capture_on_commit_callbacks,
        key_source="one_time",
        api_key=CANARY_OPENAI,
    )
    assert (g.status, g.retries, g.charged_as) == ("succeeded", 1, "own_key")
    assert [r.api_key for r in fake_llm.requests] == [CANARY_OPENAI, CANARY_OPENAI]
    assert g.one_time_key_ref == ""  # spent
    dump = serializers.serialize("json", [*Generation.objects.all(), *AuditEvent.objects.all()])
    assert CANARY_OPENAI not in dump
    assert CANARY_OPENAI not in json.dumps(g.design) + caplog.text


def test_one_time_key_is_forgotten_when_the_generation_fails(
    tenant, fake_llm, django_capture_on_commit_callbacks
):
    from keys.services import one_time_key_take

    fake_llm.push_error(400)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        g = services.generation_create(
            organization=tenant.org,
            user=tenant.owner,
            requirement=REQ,
            key_source="one_time",
            provider="openai",
            api_key=CANARY_OPENAI,
        )
    ref = g.one_time_key_ref
    assert ref and CANARY_OPENAI not in ref
    for callback in callbacks:
        callback()
    g.refresh_from_db()
    assert g.status == "failed" and g.one_time_key_ref == ""
    assert one_time_key_take(ref=ref) is None


# --------------------------------------------------------------------------- questions


def test_llm_questions_pause_the_generation_until_answered(
    tenant, basic_plan, platform_openai, django_capture_on_commit_callbacks, charge_calls
):
    platform_openai.push_questions(["Which market?", "How often?"])
    g = run(tenant, django_capture_on_commit_callbacks, allow_questions=True)
    assert g.awaiting_answers
    assert (g.status, g.stage, g.questions) == ("queued", "queued", ["Which market?", "How often?"])
    assert charge_calls == {"commit": [], "release": []}  # still reserved
    # a redelivered message does not run it while it waits
    services.generation_run(generation_id=g.id)
    assert len(platform_openai.requests) == 1
    with django_capture_on_commit_callbacks(execute=True):
        services.generation_answer_questions(
            generation=g,
            user=tenant.member,
            answers={"Which market?": "EV batteries", "How often?": "Weekly"},
        )
    g.refresh_from_db()
    assert g.status == "succeeded"
    second = platform_openai.requests[1].body
    assert "EV batteries" in json.dumps(second)
    assert charge_calls["commit"] == [g.id]


def test_vague_requirement_gets_questions_from_the_fallback_designer(
    tenant, django_capture_on_commit_callbacks
):
    g = run(
        tenant,
        django_capture_on_commit_callbacks,
        requirement="Automate marketing stuff",
        allow_questions=True,
    )
    assert g.awaiting_answers and 1 <= len(g.questions) <= 3
    answers = {q: "Weekly LinkedIn posts about our product for CTOs" for q in g.questions}
    with django_capture_on_commit_callbacks(execute=True):
        services.generation_answer_questions(generation=g, user=tenant.owner, answers=answers)
    g.refresh_from_db()
    assert g.status == "succeeded"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_embedded_default_runs_the_generation_in_a_background_thread(
    tenant, settings, fake_llm, django_capture_on_commit_callbacks
):
    """No Redis: the request returns at once and the page polls a thread's real progress."""
    settings.CREWBUILDER_GENERATION_RUNNER = "thread"
    settings.OPENAI_API_KEY = CANARY_OPENAI
    assign_plan(tenant.org, "basic")
    fake_llm.push_delay(2.0)
    g = services.generation_create(
        organization=tenant.org,
        user=tenant.owner,
        requirement=REQ,
        key_source="platform",
        provider="openai",
    )
    # the call returned while the provider is still "thinking": it ran in the background
    assert Generation.objects.get(pk=g.pk).status in ("queued", "running")
    deadline = time.monotonic() + 15
    stages = set()
    while time.monotonic() < deadline:
        row = Generation.objects.values("status", "stage").get(pk=g.pk)
        stages.add(row["stage"])
        if row["status"] in ("succeeded", "failed"):
            break
        time.sleep(0.02)
    g.refresh_from_db()
    assert g.status == "succeeded"
    assert "designing" in stages  # progress was visible while the thread worked


def test_redelivery_after_a_crash_with_a_one_time_key_fails_clearly(tenant, fake_llm, charge_calls):
    g = services.generation_create(
        organization=tenant.org,
        user=tenant.owner,
        requirement=REQ,
        key_source="one_time",
        provider="openai",
        api_key=CANARY_OPENAI,
    )
    crashed = services._claim(g.id, uuid.uuid4())
    services._run_key(crashed)  # the dead worker had taken the key
    with time_machine.travel(timezone.now() + timedelta(minutes=31)):
        services.generation_run(generation_id=g.id)  # redelivered after the visibility timeout
    g.refresh_from_db()
    assert (g.status, g.error_code) == ("failed", "one_time_key_expired")
    assert "no longer available" in g.error_message
    assert fake_llm.requests == []
    assert charge_calls["release"] == [g.id]
