"""A generation waiting on unanswered clarifying questions does not hold its charge forever."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from billing.selectors import usage_for
from generation import services, tasks
from generation.models import Generation
from tests.generation.conftest import assign_plan

pytestmark = pytest.mark.django_db

REQ = "Help our executives with news about the EV battery market, somehow."


def _ask(tenant, platform_openai, capture) -> Generation:
    assign_plan(tenant.org, "basic")
    platform_openai.push_questions(
        ["Which competitors?", "Which channel should the summary go to?"]
    )
    with capture(execute=True):
        g = services.generation_create(
            organization=tenant.org,
            user=tenant.owner,
            requirement=REQ,
            key_source="platform",
            provider="openai",
            allow_questions=True,
        )
    g.refresh_from_db()
    assert g.awaiting_answers
    assert usage_for(tenant.org)["used"] == 1
    return g


def test_unanswered_questions_expire_and_give_the_quota_back_once(
    tenant, platform_openai, charge_calls, django_capture_on_commit_callbacks
):
    g = _ask(tenant, platform_openai, django_capture_on_commit_callbacks)
    # not yet: a day later the user may still answer
    with time_machine.travel(timezone.now() + timedelta(hours=24)):
        assert tasks.generation_expire_unanswered_task() == 0
    with time_machine.travel(timezone.now() + timedelta(hours=49)):
        assert tasks.generation_expire_unanswered_task() == 1
        assert tasks.generation_expire_unanswered_task() == 0  # idempotent
    g.refresh_from_db()
    assert (g.status, g.error_code) == ("failed", "questions_unanswered")
    assert "charge given back" in g.error_message
    assert usage_for(tenant.org)["used"] == 0
    assert charge_calls["release"] == [g.id]


def test_answered_generations_are_not_expired(
    tenant, platform_openai, django_capture_on_commit_callbacks
):
    g = _ask(tenant, platform_openai, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        services.generation_answer_questions(
            generation=g,
            user=tenant.owner,
            answers={
                "Which competitors?": "Acme and Globex",
                "Which channel should the summary go to?": "Slack #sales",
            },
        )
    with time_machine.travel(timezone.now() + timedelta(hours=72)):
        assert services.generations_expire_unanswered() == []
    g.refresh_from_db()
    assert g.status == "succeeded"
