"""generation_create / generation_run / generation_fail on the deterministic designer (no
key configured), with the real renderer, checks, packaging and billing services."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import AuditEvent
from billing.models import GenerationCharge
from billing.services import PaymentRequired
from generation import services
from generation.checks import CheckResult
from generation.models import Generation
from tests.generation.conftest import assign_plan, create_generation

pytestmark = pytest.mark.django_db

REQ = (
    "Research our main competitors' pricing pages and write a one-page summary for the sales team."
)
CONTRACT_FILES = {
    "README.md",
    "pyproject.toml",
    ".env.example",
    ".gitignore",
}


def create(tenant, django_capture_on_commit_callbacks, **kwargs):
    kwargs.setdefault("requirement", REQ)
    return create_generation(tenant, django_capture_on_commit_callbacks, **kwargs)


def test_without_any_key_crewbuilder_ai_uses_the_deterministic_designer_end_to_end(
    tenant, django_capture_on_commit_callbacks, charge_calls
):
    g = create(tenant, django_capture_on_commit_callbacks)
    assert g.status == Generation.Status.SUCCEEDED
    assert (g.stage, g.progress) == (Generation.Stage.DONE, 100)
    assert (g.provider, g.model, g.key_source, g.charged_as) == (
        "fallback",
        "fallback",
        "platform",
        "none",
    )
    assert g.started_at and g.finished_at and g.created_at <= g.started_at <= g.finished_at
    assert (g.input_tokens, g.output_tokens, g.cost_cents) == (0, 0, 0)
    paths = {f["path"] for f in g.files}
    name = g.design["name"]
    assert (
        CONTRACT_FILES
        | {
            f"src/{name}/main.py",
            f"src/{name}/crew.py",
            f"src/{name}/config/agents.yaml",
            f"src/{name}/config/tasks.yaml",
            f"src/{name}/tools/custom_tool.py",
        }
        <= paths
    )
    assert g.checks and all(c["passed"] for c in g.checks)
    with zipfile.ZipFile(io.BytesIO(bytes(g.zip_data))) as archive:
        names = set(archive.namelist())
    assert names == {f"{name}/{p}" for p in paths}
    assert charge_calls == {"commit": [g.id], "release": []}
    assert AuditEvent.objects.filter(action="generation.created", target_id=str(g.id)).exists()


def test_progress_is_persisted_at_each_real_stage(
    tenant, django_capture_on_commit_callbacks, monkeypatch
):
    seen = []

    def spy(name, real):
        def wrapper(*args, **kwargs):
            row = Generation.objects.values("status", "stage", "progress").get()
            seen.append((name, row["status"], row["stage"], row["progress"]))
            return real(*args, **kwargs)

        return wrapper

    for name in ("design_crew", "render_project", "run_checks", "build_zip"):
        monkeypatch.setattr(services, name, spy(name, getattr(services, name)))
    create(tenant, django_capture_on_commit_callbacks)
    assert seen == [
        ("design_crew", "running", "designing", 10),
        ("render_project", "running", "rendering", 55),
        ("run_checks", "running", "checking", 70),
        ("build_zip", "running", "packaging", 90),
    ]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"requirement": "too short"}, "requirement"),
        ({"requirement": "x" * 5001}, "requirement"),
        ({"requirement": "   "}, "requirement"),
        ({"key_source": "magic"}, "key_source"),
        ({"provider": "mistral"}, "provider"),
        ({"key_source": "one_time"}, "api_key"),
        ({"key_source": "one_time", "api_key": "short"}, "api_key"),
        ({"api_key": "sk-" + "a" * 40}, "api_key"),
        ({"model": "gpt-nonexistent"}, "model"),
        ({"template": "no-such-template"}, "template"),
        ({"key_source": "stored"}, "key_source"),
    ],
)
def test_bad_input_raises_field_errors_and_creates_nothing(tenant, kwargs, field):
    args = {
        "organization": tenant.org,
        "user": tenant.owner,
        "requirement": REQ,
        "key_source": "platform",
        "provider": "openai",
        **kwargs,
    }
    with pytest.raises(ValidationError) as exc:
        services.generation_create(**args)
    assert field in exc.value.message_dict
    assert exc.value.message_dict[field][0]
    assert Generation.objects.count() == 0
    assert GenerationCharge.objects.count() == 0


def test_requirement_limits_come_from_settings(tenant, settings):
    settings.CREWBUILDER_REQUIREMENT_MAX_CHARS = 40
    with pytest.raises(ValidationError) as exc:
        services.generation_create(
            organization=tenant.org,
            user=tenant.owner,
            requirement="y" * 41,
            key_source="platform",
            provider="openai",
        )
    assert "under 40 characters" in exc.value.message_dict["requirement"][0]


def test_member_may_generate_but_viewer_may_not(tenant, viewer, django_capture_on_commit_callbacks):
    g = create(tenant, django_capture_on_commit_callbacks, user=tenant.member)
    assert g.user == tenant.member and g.status == "succeeded"
    with pytest.raises(PermissionDenied):
        services.generation_create(
            organization=tenant.org,
            user=viewer,
            requirement=REQ,
            key_source="platform",
            provider="openai",
        )
    with pytest.raises(PermissionDenied):  # not a member at all
        services.generation_create(
            organization=tenant.org,
            user=tenant.outsider,
            requirement=REQ,
            key_source="platform",
            provider="openai",
        )


def test_platform_key_on_free_plan_needs_payment_and_creates_nothing(tenant, settings):
    settings.OPENAI_API_KEY = "sk-platform0000000000000000000000000000"
    with pytest.raises(PaymentRequired):
        services.generation_create(
            organization=tenant.org,
            user=tenant.owner,
            requirement=REQ,
            key_source="platform",
            provider="openai",
        )
    assert Generation.objects.count() == 0


def test_platform_key_on_basic_plan_reserves_quota(tenant, settings):
    settings.OPENAI_API_KEY = "sk-platform0000000000000000000000000000"
    assign_plan(tenant.org, "basic")
    g = services.generation_create(
        organization=tenant.org,
        user=tenant.owner,
        requirement=REQ,
        key_source="platform",
        provider="openai",
    )
    assert (g.provider, g.model, g.charged_as, g.resolved_key_source) == (
        "openai",
        "gpt-4o-mini",
        "quota",
        "platform",
    )
    assert GenerationCharge.objects.get(generation_id=g.id).status == "reserved"


def test_advanced_model_on_crewbuilder_ai_needs_a_plan_with_advanced_models(tenant, settings):
    from billing.services import PlanNotAllowed

    settings.OPENAI_API_KEY = "sk-platform0000000000000000000000000000"
    assign_plan(tenant.org, "basic")
    with pytest.raises(PlanNotAllowed):
        services.generation_create(
            organization=tenant.org,
            user=tenant.owner,
            requirement=REQ,
            key_source="platform",
            provider="openai",
            model="gpt-4o",
        )
    assert Generation.objects.count() == 0
    assign_plan(tenant.org, "professional")
    g = services.generation_create(
        organization=tenant.org,
        user=tenant.owner,
        requirement=REQ,
        key_source="platform",
        provider="openai",
        model="gpt-4o",
    )
    assert (g.model, g.model_class, g.charged_as) == ("gpt-4o", "advanced", "quota")


def test_same_idempotency_key_and_body_returns_the_same_generation(tenant):
    args = {
        "organization": tenant.org,
        "user": tenant.owner,
        "requirement": REQ,
        "key_source": "platform",
        "provider": "openai",
        "idempotency_key": "abc",
        "request_fingerprint": "f" * 64,
    }
    first = services.generation_create(**args)
    assert services.generation_create(**args).pk == first.pk
    with pytest.raises(services.IdempotencyConflict):
        services.generation_create(**{**args, "request_fingerprint": "e" * 64})
    assert Generation.objects.count() == 1


def test_template_steers_the_design(tenant, django_capture_on_commit_callbacks):
    g = create(tenant, django_capture_on_commit_callbacks, template="lead-research")
    assert g.template.slug == "lead-research"
    # The template contributes structure and role titles; the user's requirement (not the
    # template's Acme example) is what the crew works on (issue 11).
    roles = [a["role"] for a in g.design["agents"]]
    assert "B2B Company Researcher" in roles
    assert "Acme" not in json.dumps(g.design)
    assert "competitors" in g.design["tasks"][0]["description"]


def test_a_finished_generation_is_not_run_again(
    tenant, django_capture_on_commit_callbacks, charge_calls
):
    g = create(tenant, django_capture_on_commit_callbacks)
    before = (g.finished_at, g.files, g.runs)
    again = services.generation_run(generation_id=g.id)
    again.refresh_from_db()
    assert (again.finished_at, again.files, again.runs) == before
    assert charge_calls["commit"] == [g.id]


def test_redelivered_run_takes_over_and_the_presumed_dead_run_cannot_write(tenant, charge_calls):
    # created but not run (on_commit callbacks are not executed): the test drives runs
    g = services.generation_create(
        organization=tenant.org,
        user=tenant.owner,
        requirement=REQ,
        key_source="platform",
        provider="openai",
    )
    dead_token = uuid.uuid4()
    services._claim(g.id, dead_token)  # a worker claimed it, then was SIGKILLed
    with time_machine.travel(timezone.now() + timedelta(seconds=61)):
        services.generation_run(generation_id=g.id)  # delivered again once it is silent
    g.refresh_from_db()
    assert g.status == "succeeded" and g.runs == 2
    files = list(g.files)
    # the old run wakes up and tries to finish or fail: both are refused
    result = services._finish(
        g, dead_token, design=None, files={}, checks=[], zip_data=b"", usage=None, key=None
    )
    assert result.status == "succeeded"
    assert not services.generation_fail(
        generation_id=g.id, code="x", message="x", run_token=dead_token
    )
    g.refresh_from_db()
    assert g.files == files and g.status == "succeeded"
    assert charge_calls == {"commit": [g.id], "release": []}


def test_failing_twice_releases_the_charge_exactly_once(tenant, settings, charge_calls):
    settings.OPENAI_API_KEY = "sk-platform0000000000000000000000000000"
    assign_plan(tenant.org, "basic")
    g = services.generation_create(
        organization=tenant.org,
        user=tenant.owner,
        requirement=REQ,
        key_source="platform",
        provider="openai",
    )
    from billing.selectors import usage_for

    assert usage_for(tenant.org)["used"] == 1
    assert services.generation_fail(generation_id=g.id, code="boom", message="Broke.")
    assert not services.generation_fail(generation_id=g.id, code="boom", message="Broke.")
    g.refresh_from_db()
    assert (g.status, g.error_code, g.error_message) == ("failed", "boom", "Broke.")
    assert charge_calls["release"] == [g.id]
    assert usage_for(tenant.org)["used"] == 0
    assert GenerationCharge.objects.get(generation_id=g.id).status == "released"


def _failing_checks(real):
    calls = {"n": 0}

    def run_checks(*, files, design, analysis=None):
        calls["n"] += 1
        results = real(files=files, design=design, analysis=analysis)
        if calls["n"] == 1 or calls.get("always"):
            results[0] = CheckResult(results[0].name, False, "crew.py is missing @agent writer")
        return results

    run_checks.calls = calls
    return run_checks


def test_failed_checks_are_retried_once_with_the_failures_as_feedback(
    tenant, django_capture_on_commit_callbacks, monkeypatch, charge_calls
):
    checks = _failing_checks(services.run_checks)
    monkeypatch.setattr(services, "run_checks", checks)
    feedback = []
    real_design = services.design_crew

    def design_crew(**kwargs):
        feedback.append(kwargs.get("feedback"))
        return real_design(**kwargs)

    monkeypatch.setattr(services, "design_crew", design_crew)
    g = create(tenant, django_capture_on_commit_callbacks)
    assert g.status == "succeeded"
    assert checks.calls["n"] == 2
    assert feedback[0] is None
    assert any("crew.py is missing @agent writer" in item for item in feedback[1])
    assert charge_calls["commit"] == [g.id]


def test_checks_failing_twice_fail_the_generation_honestly(
    tenant, django_capture_on_commit_callbacks, monkeypatch, charge_calls
):
    checks = _failing_checks(services.run_checks)
    checks.calls["always"] = True
    monkeypatch.setattr(services, "run_checks", checks)
    g = create(tenant, django_capture_on_commit_callbacks)
    assert g.status == "failed" and g.error_code == "checks_failed"
    assert "twice" in g.error_message
    assert any(not c["passed"] for c in g.checks)
    assert g.files == [] and not g.zip_data
    assert charge_calls == {"commit": [], "release": [g.id]}


def test_times_are_recorded_from_the_clock(tenant, django_capture_on_commit_callbacks):
    frozen = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    with time_machine.travel(frozen, tick=False):
        g = create(tenant, django_capture_on_commit_callbacks)
    assert g.created_at == g.started_at == g.finished_at == frozen


def test_a_run_past_its_deadline_stops_and_gives_the_charge_back(
    tenant, django_capture_on_commit_callbacks, monkeypatch, settings, charge_calls
):
    settings.CREWBUILDER_GENERATION_SOFT_TIME_LIMIT = 60
    start = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    real_design = services.design_crew
    with time_machine.travel(start, tick=False) as clock:

        def slow_design(**kwargs):
            clock.shift(timedelta(seconds=61))  # the provider took a minute
            return real_design(**kwargs)

        monkeypatch.setattr(services, "design_crew", slow_design)
        g = create(tenant, django_capture_on_commit_callbacks)
    assert (g.status, g.error_code) == ("failed", "timeout")
    assert g.finished_at == start + timedelta(seconds=61)
    assert charge_calls["release"] == [g.id]


def test_run_uses_a_bounded_number_of_queries(tenant):
    g2 = services.generation_create(
        organization=tenant.org,
        user=tenant.owner,
        requirement=REQ,
        key_source="platform",
        provider="openai",
    )
    with CaptureQueriesContext(connection) as ctx:
        services.generation_run(generation_id=g2.id)
    assert len(ctx.captured_queries) <= 25
    g2.refresh_from_db()
    assert g2.status == "succeeded"
