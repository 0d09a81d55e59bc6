"""Issue 12 item 6: ``POST /api/v1/keys/`` never silently replaces the organisation's key.

A second key for the same provider is a 409 (``key_exists``) that changes nothing, unless
the body says ``replace: true`` — then the key is replaced (200) and the audit log says so.
``replace`` is strictly a boolean and is documented in the schema."""

from __future__ import annotations

from accounts.models import AuditEvent
from keys.models import ProviderKey
from keys.services import provider_key_resolve
from tests.api.conftest import ApiClient, error_of

KEYS = "/api/v1/keys/"
FIRST = "sk-proj-FIRSTkey0123456789abcdefghijklmnop"
SECOND = "sk-proj-SECONDkey0123456789abcdefghijklmno"


def _stored_secret(org) -> str:
    return provider_key_resolve(organization=org, user=None, provider="openai").secret


def test_second_key_for_a_provider_is_a_409_and_the_first_key_stays(api):
    first = api.owner.post_json(KEYS, {"provider": "openai", "api_key": FIRST})
    assert first.status_code == 201
    again = api.owner.post_json(KEYS, {"provider": "openai", "api_key": SECOND})
    assert again.status_code == 409
    error = error_of(again)
    assert error["code"] == "key_exists" and "replace" in error["message"]
    assert SECOND not in again.content.decode() and FIRST not in again.content.decode()
    key = ProviderKey.objects.get(organization=api.tenant.org, provider="openai")
    assert key.key_version == 1 and key.masked == first.json()["masked"]
    assert _stored_secret(api.tenant.org) == FIRST
    assert not AuditEvent.objects.filter(action="provider_key.replaced").exists()


def test_replace_true_replaces_and_is_audited(api):
    created = api.owner.post_json(KEYS, {"provider": "openai", "api_key": FIRST}).json()
    response = api.owner.post_json(KEYS, {"provider": "openai", "api_key": SECOND, "replace": True})
    assert response.status_code == 200
    assert response.json()["id"] == created["id"]
    assert response.json()["masked"] != created["masked"]
    assert _stored_secret(api.tenant.org) == SECOND
    event = AuditEvent.objects.get(action="provider_key.replaced")
    assert event.organization == api.tenant.org and event.actor == api.tenant.owner
    assert event.metadata["key_version"] == 2


def test_replace_must_be_a_boolean(api):
    api.owner.post_json(KEYS, {"provider": "openai", "api_key": FIRST})
    for value in ("true", 1, "yes", None):
        response = api.owner.post_json(
            KEYS, {"provider": "openai", "api_key": SECOND, "replace": value}
        )
        assert response.status_code == 400, value
        assert "replace" in error_of(response)["fields"]
    assert _stored_secret(api.tenant.org) == FIRST


def test_outsider_cannot_replace_another_organisations_key(api):
    api.owner.post_json(KEYS, {"provider": "openai", "api_key": FIRST})
    response = api.outsider.post_json(
        KEYS, {"provider": "openai", "api_key": SECOND, "replace": True}
    )
    assert response.status_code == 201  # its own organisation's first key
    assert _stored_secret(api.tenant.org) == FIRST


def test_schema_documents_replace_and_the_409(api):
    schema = (
        ApiClient().get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    )
    create = schema["paths"]["/api/v1/keys/"]["post"]
    assert "409" in create["responses"] and "200" in create["responses"]
    body = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    props = schema["components"]["schemas"][body.rsplit("/", 1)[1]]["properties"]
    assert props["replace"]["type"] == "boolean" and "409" in props["replace"]["description"]
