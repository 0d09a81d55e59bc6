"""An organisation's API token acts for the organisation: ``key_source: "stored"`` spends
the organisation's provider key, never the personal key of the person who made the token."""

from __future__ import annotations

import pytest

from generation.models import Generation
from keys import services as keys

pytestmark = pytest.mark.django_db

ORG_KEY = "sk-orgkey" + "0" * 30 + "ORG1"
PERSONAL_KEY = "sk-alicepersonal" + "0" * 24 + "ALC1"


def _create(api):
    return api.owner.post_json(
        "/api/v1/generations/",
        {
            "requirement": "Research competitors weekly and summarise changes for sales.",
            "key_source": "stored",
            "provider": "openai",
        },
    )


def test_api_token_uses_the_organisation_key_not_its_creators_personal_key(
    api, fake_llm, settings, django_capture_on_commit_callbacks
):
    settings.CREWBUILDER_GENERATION_RUNNER = "sync"  # run it in the test, after commit
    tenant = api.tenant
    org_key = keys.provider_key_store(
        organization=tenant.org,
        actor=tenant.owner,
        provider="openai",
        api_key=ORG_KEY,
        scope="organization",
    )
    personal = keys.provider_key_store(
        organization=tenant.org,
        actor=tenant.owner,
        provider="openai",
        api_key=PERSONAL_KEY,
        scope="user",
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = _create(api)
    assert response.status_code == 202, response.content
    generation = Generation.objects.get()
    generation.refresh_from_db()
    assert generation.provider_key_id == org_key.pk != personal.pk
    assert generation.status == "succeeded"
    used = {r.api_key for r in fake_llm.requests if r.path.endswith("/chat/completions")}
    assert used == {ORG_KEY}


def test_api_token_without_an_organisation_key_does_not_fall_back_to_a_personal_key(api):
    tenant = api.tenant
    keys.provider_key_store(
        organization=tenant.org,
        actor=tenant.owner,
        provider="openai",
        api_key=PERSONAL_KEY,
        scope="user",
    )
    response = _create(api)
    assert response.status_code == 400
    assert "key_source" in response.json()["error"]["fields"]
    assert not Generation.objects.exists()


def test_the_web_page_still_prefers_the_users_personal_key(
    tenant, fake_llm, django_capture_on_commit_callbacks
):
    from generation import services

    keys.provider_key_store(
        organization=tenant.org,
        actor=tenant.owner,
        provider="openai",
        api_key=ORG_KEY,
        scope="organization",
    )
    personal = keys.provider_key_store(
        organization=tenant.org,
        actor=tenant.owner,
        provider="openai",
        api_key=PERSONAL_KEY,
        scope="user",
    )
    with django_capture_on_commit_callbacks(execute=True):
        g = services.generation_create(
            organization=tenant.org,
            user=tenant.owner,
            requirement="Research competitors weekly and summarise changes for sales.",
            key_source="stored",
            provider="openai",
        )
    g.refresh_from_db()
    assert g.provider_key_id == personal.pk
