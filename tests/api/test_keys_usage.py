"""``/api/v1/keys/`` (write-only keys: stored through the vault service, only ever returned
masked) and ``/api/v1/usage/`` (the billing selector's contract shape)."""

from __future__ import annotations

import logging

import pytest

from accounts.models import ApiToken
from keys.models import ProviderKey
from keys.services import provider_key_store
from tests.api.conftest import ApiClient, assign_plan, error_of

KEYS = "/api/v1/keys/"
CANARY = "sk-proj-CANARYapiKEYdoNOTleak0123456789abcdef"
PUBLIC_FIELDS = {
    "id",
    "provider",
    "label",
    "masked",
    "fingerprint",
    "status",
    "last_used_at",
    "created_at",
}


@pytest.fixture
def fake_provider(fake_llm):
    """The shared fake OpenAI/Anthropic server, accepting only the keys a test allows."""
    fake_llm.valid_keys = set()
    return fake_llm


def test_store_key_returns_only_the_masked_form(api, caplog):
    with caplog.at_level(logging.DEBUG):
        response = api.owner.post_json(
            KEYS, {"provider": "openai", "api_key": CANARY, "label": "prod"}
        )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == PUBLIC_FIELDS
    assert body["masked"] == "sk-…cdef" and body["label"] == "prod"
    assert body["status"] == "untested"
    assert CANARY not in response.content.decode()
    assert CANARY not in caplog.text
    key = ProviderKey.objects.get(pk=body["id"])
    assert key.organization == api.tenant.org and key.scope == "organization"
    assert CANARY.encode() not in bytes(key.ciphertext)
    assert all(
        CANARY not in str(v) for v in ProviderKey.objects.filter(pk=key.pk).values().get().values()
    )


def test_list_shows_the_organisations_keys_masked(api):
    api.owner.post_json(KEYS, {"provider": "openai", "api_key": CANARY})
    response = api.reader.get(KEYS)
    assert response.status_code == 200
    rows = response.json()
    assert [row["provider"] for row in rows] == ["openai"]
    assert set(rows[0]) == PUBLIC_FIELDS
    assert CANARY not in response.content.decode()


def test_list_never_shows_the_token_creators_personal_keys(api):
    provider_key_store(
        organization=api.tenant.org,
        actor=api.tenant.owner,
        provider="anthropic",
        api_key="sk-ant-" + "p" * 30,
        scope="user",
    )
    assert api.owner.get(KEYS).json() == []


def test_bad_key_is_a_400_that_does_not_echo_it(api):
    bad = "sk-ant-THISisANanthropicKEYnotOPENAI0000"
    response = api.owner.post_json(KEYS, {"provider": "openai", "api_key": bad})
    assert response.status_code == 400
    error = error_of(response)
    assert "api_key" in error["fields"]
    assert bad not in response.content.decode()


def test_delete_key(api):
    key_id = api.owner.post_json(KEYS, {"provider": "openai", "api_key": CANARY}).json()["id"]
    response = api.owner.delete(f"{KEYS}{key_id}/")
    assert response.status_code == 204
    assert not ProviderKey.objects.filter(pk=key_id).exists()
    assert api.owner.delete(f"{KEYS}{key_id}/").status_code == 404


def test_test_key_calls_the_provider_and_reports_status(api, fake_provider):
    key_id = api.owner.post_json(KEYS, {"provider": "openai", "api_key": CANARY}).json()["id"]
    fake_provider.valid_keys.add(CANARY)
    response = api.owner.post_json(f"{KEYS}{key_id}/test/")
    assert response.status_code == 200
    assert response.json()["status"] == "connected"
    fake_provider.valid_keys.clear()
    assert api.owner.post_json(f"{KEYS}{key_id}/test/").json()["status"] == "invalid"
    assert CANARY not in response.content.decode()


def test_outsider_cannot_touch_another_organisations_key(api):
    key_id = api.owner.post_json(KEYS, {"provider": "openai", "api_key": CANARY}).json()["id"]
    assert api.outsider.delete(f"{KEYS}{key_id}/").status_code == 404
    assert api.outsider.post_json(f"{KEYS}{key_id}/test/").status_code == 404
    assert api.outsider.get(KEYS).json() == []
    assert ProviderKey.objects.filter(pk=key_id).exists()


def test_read_token_can_list_but_not_store_or_delete(api):
    key_id = api.owner.post_json(KEYS, {"provider": "openai", "api_key": CANARY}).json()["id"]
    assert api.reader.get(KEYS).status_code == 200
    assert api.reader.post_json(KEYS, {"provider": "openai", "api_key": CANARY}).status_code == 403
    assert api.reader.delete(f"{KEYS}{key_id}/").status_code == 403
    assert api.reader.post_json(f"{KEYS}{key_id}/test/").status_code == 403


# --- usage --------------------------------------------------------------------------------


def test_usage_has_the_contract_keys(api):
    response = api.reader.get("/api/v1/usage/")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"plan", "period_start", "period_end", "used", "limit", "credits"}
    assert body["plan"] == "professional" and body["limit"] == 50 and body["used"] == 0
    assert body["period_start"] < body["period_end"]


def test_usage_on_enterprise_has_no_limit(api, tenant):
    assign_plan(tenant.org, "enterprise")
    body = api.owner.get("/api/v1/usage/").json()
    assert body["plan"] == "enterprise" and body["limit"] is None


def test_usage_query_count_is_bounded(api, django_assert_max_num_queries):
    client = ApiClient(api.owner_raw)
    client.get("/api/v1/usage/")  # last_used_at written once
    with django_assert_max_num_queries(5):
        assert client.get("/api/v1/usage/").status_code == 200


def test_read_scope_token_is_enough_for_usage(api):
    token = ApiToken.objects.get(name="Dashboard")
    assert token.scope == ApiToken.Scope.READ
    assert api.reader.get("/api/v1/usage/").status_code == 200
