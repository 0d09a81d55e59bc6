"""CREWBUILDER_KEY_BACKEND=vault: data keys wrapped by Vault transit, same service interface,
against a local HTTP server implementing the transit endpoints used."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from keys import services
from keys.models import OrganizationDataKey, ProviderKey
from tests.keys.fake_vault import FakeVault

KEY = "sk-proj-vaultBACKEND0123456789abcdefVVVV"


@pytest.fixture
def vault(settings, master_keys):
    with FakeVault() as fake:
        fake.create_key("crewbuilder")
        settings.CREWBUILDER_KEY_BACKEND = "vault"
        settings.VAULT_ADDR = fake.url
        settings.VAULT_TOKEN = fake.token
        settings.VAULT_MOUNT = "transit"
        settings.VAULT_TRANSIT_KEY = "crewbuilder"
        yield fake


def _store(tenant, org=None, actor=None, value=KEY):
    return services.provider_key_store(
        organization=org or tenant.org,
        actor=actor or tenant.owner,
        provider="openai",
        api_key=value,
    )


def _resolve(tenant, org=None, user=None):
    return services.provider_key_resolve(
        organization=org or tenant.org,
        user=user or tenant.owner,
        provider="openai",
        allow_platform=False,
    )


def test_data_key_is_wrapped_by_vault_transit(tenant, vault):
    _store(tenant)
    row = OrganizationDataKey.objects.get(organization=tenant.org)
    assert row.master_key_id == "vault:crewbuilder:v1"
    assert bytes(row.wrapped_key).startswith(b"vault:v1:")
    assert ("POST", "/v1/transit/encrypt/crewbuilder") in vault.calls
    services._data_key_cache.clear()
    assert _resolve(tenant).secret == KEY
    assert ("POST", "/v1/transit/decrypt/crewbuilder") in vault.calls


def test_vault_refuses_a_data_key_transplanted_to_another_org(tenant, vault):
    _store(tenant)
    _store(
        tenant,
        org=tenant.outsider_org,
        actor=tenant.outsider,
        value="sk-proj-otherORG0123456789abcdefWWWW",
    )
    victim = OrganizationDataKey.objects.get(organization=tenant.org)
    OrganizationDataKey.objects.filter(organization=tenant.outsider_org).update(
        wrapped_key=bytes(victim.wrapped_key)
    )
    ProviderKey.objects.filter(organization=tenant.outsider_org).update(
        ciphertext=bytes(ProviderKey.objects.get(organization=tenant.org).ciphertext)
    )
    services._data_key_cache.clear()
    assert _resolve(tenant, org=tenant.outsider_org, user=tenant.outsider) is None
    # It is Vault itself that refuses: the org id is bound as transit associated data.
    with pytest.raises(services.DecryptionFailed):
        services._unwrap(OrganizationDataKey.objects.get(organization=tenant.outsider_org))


def test_vault_key_rotation_rewraps_without_reentry(tenant, vault):
    _store(tenant)
    vault.rotate("crewbuilder")
    out = StringIO()
    with pytest.raises(CommandError, match="still use an old key"):
        call_command("keys_rotate", "--check", stdout=out)
    assert "vault:crewbuilder:v1: 1 (old)" in out.getvalue()
    call_command("keys_rotate", stdout=StringIO())
    assert OrganizationDataKey.objects.get().master_key_id == "vault:crewbuilder:v2"
    services._data_key_cache.clear()
    assert _resolve(tenant).secret == KEY


def test_moving_from_database_to_vault_is_a_rotation(tenant, vault, settings, master_keys):
    settings.CREWBUILDER_KEY_BACKEND = "database"
    _store(tenant)
    assert OrganizationDataKey.objects.get().master_key_id == "k1"
    settings.CREWBUILDER_KEY_BACKEND = "vault"
    call_command("keys_rotate", stdout=StringIO())
    assert OrganizationDataKey.objects.get().master_key_id == "vault:crewbuilder:v1"
    master_keys.use("k9")  # the local master keys are no longer needed for this org
    services._data_key_cache.clear()
    assert _resolve(tenant).secret == KEY


def test_vault_down_or_token_revoked_is_the_generic_failure(tenant, vault, settings):
    key = _store(tenant)
    services._data_key_cache.clear()
    settings.VAULT_TOKEN = "s.revoked"
    key.refresh_from_db()
    with pytest.raises(services.DecryptionFailed) as excinfo:
        services._decrypt(key, OrganizationDataKey.objects.get())
    assert str(excinfo.value) == "The stored key could not be decrypted."
