"""Fixtures for the generation pipeline tests: runs happen inline (``sync`` runner) unless
a test starts a real Celery worker, retries wait milliseconds, and no platform key is set
unless a test asks for one (so CrewBuilder AI means the deterministic designer)."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps

from accounts.models import Role
from tests.factories import MembershipFactory, UserFactory, plan_assign

CANARY_OPENAI = "sk-canary0000SECRET0000openai0000key0000xyz"
CANARY_ANTHROPIC = "sk-ant-canary0000SECRET0000anthropic0000key00"


@pytest.fixture(autouse=True)
def _catalogue_seeded(request):
    """The catalogue and starter templates come from a data migration; a transactional
    test elsewhere without serialized_rollback flushes them, so put them back if gone."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None:
        return
    request.getfixturevalue("transactional_db" if marker.kwargs.get("transaction") else "db")
    from generation.models import LlmModel

    if not LlmModel.objects.exists():
        seed = importlib.import_module("generation.migrations.0002_seed_catalogue_and_templates")
        seed.seed(apps, None)
        refresh = importlib.import_module("generation.migrations.0004_refresh_anthropic_catalogue")
        refresh.refresh(apps, None)


@pytest.fixture(autouse=True)
def _generation_settings(settings):
    settings.CREWBUILDER_GENERATION_RUNNER = "sync"
    settings.CREWBUILDER_GENERATION_RETRY_BASE_SECONDS = 0.01
    settings.CREWBUILDER_GENERATION_RETRY_MAX_SECONDS = 0.05
    settings.OPENAI_API_KEY = ""
    settings.ANTHROPIC_API_KEY = ""
    return settings


# One helper for giving a test organisation a plan (tests/factories.py); re-exported under
# the name this folder's tests import.
assign_plan = plan_assign


@pytest.fixture
def viewer(tenant):
    user = UserFactory(email="vera@acme.test")
    MembershipFactory(organization=tenant.org, user=user, role=Role.VIEWER)
    return user


@pytest.fixture
def platform_openai(settings, fake_llm):
    """CrewBuilder AI on OpenAI, answered by the local fake provider."""
    settings.OPENAI_API_KEY = CANARY_OPENAI
    return fake_llm


@pytest.fixture
def charge_calls(monkeypatch):
    """Count billing's commit/release calls (the real functions still run)."""
    from billing import services as billing

    calls: dict[str, list] = {"commit": [], "release": []}
    real_commit, real_release = billing.charge_commit, billing.charge_release

    def commit(**kwargs):
        calls["commit"].append(kwargs["generation_id"])
        return real_commit(**kwargs)

    def release(**kwargs):
        calls["release"].append(kwargs["generation_id"])
        return real_release(**kwargs)

    monkeypatch.setattr(billing, "charge_commit", commit)
    monkeypatch.setattr(billing, "charge_release", release)
    return calls


def create_generation(tenant, capture, *, requirement: str, **kwargs):
    """Create a generation as alice (CrewBuilder AI on OpenAI unless overridden), run what
    it queued after commit, and return it fresh from the database."""
    from generation import services

    args = {
        "organization": tenant.org,
        "user": tenant.owner,
        "requirement": requirement,
        "key_source": "platform",
        "provider": "openai",
    }
    args.update(kwargs)
    with capture(execute=True):
        g = services.generation_create(**args)
    g.refresh_from_db()
    return g
