"""Sealing, binding and the generic failure: tamper and transplant tests."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured, ValidationError

from accounts.models import AuditEvent
from keys import services
from keys.crypto import DecryptionFailed, parse_master_keys
from keys.models import OrganizationDataKey, ProviderKey

OPENAI = "sk-proj-storageTESTkey0123456789abcdefABCD"
ANTHROPIC = "sk-ant-api03-storageTESTkey0123456789abcdef"


def _store(tenant, api_key=OPENAI, provider="openai", scope="organization", actor=None, org=None):
    return services.provider_key_store(
        organization=org or tenant.org,
        actor=actor or tenant.owner,
        provider=provider,
        api_key=api_key,
        scope=scope,
    )


def _open(key):
    key.refresh_from_db()
    return services._decrypt(
        key, OrganizationDataKey.objects.get(organization_id=key.organization_id)
    )


def test_stored_key_round_trips_and_is_masked(tenant, master_keys):
    key = _store(tenant)
    assert _open(key) == OPENAI
    assert key.masked == "sk-…ABCD"
    assert len(key.fingerprint) == 12 and key.fingerprint not in OPENAI
    assert OPENAI.encode() not in bytes(key.ciphertext)
    assert str(key) == "OpenAI key sk-…ABCD"
    assert OPENAI not in repr(
        services.provider_key_resolve(organization=tenant.org, user=tenant.owner, provider="openai")
    )


def test_each_write_uses_a_fresh_nonce(tenant, master_keys):
    key = _store(tenant)
    first = bytes(key.ciphertext)
    key = _store(tenant)  # same key again: replace
    assert bytes(key.ciphertext)[1:13] != first[1:13]
    assert bytes(key.ciphertext) != first


def test_replacing_keeps_the_id_bumps_the_version_and_audits(tenant, master_keys):
    key = _store(tenant)
    replaced = _store(tenant, api_key="sk-proj-replacementKEY0123456789abcdefWXYZ")
    assert replaced.pk == key.pk
    assert replaced.key_version == 2
    assert _open(replaced) == "sk-proj-replacementKEY0123456789abcdefWXYZ"
    actions = list(
        AuditEvent.objects.filter(target_type="ProviderKey", target_id=str(key.pk))
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["provider_key.created", "provider_key.replaced"]
    event = AuditEvent.objects.filter(action="provider_key.replaced").get()
    assert event.actor == tenant.owner
    assert event.metadata["fingerprint"] == replaced.fingerprint


def test_flipped_ciphertext_bit_fails_with_the_generic_error(tenant, master_keys):
    key = _store(tenant)
    blob = bytearray(bytes(key.ciphertext))
    blob[-1] ^= 1
    ProviderKey.objects.filter(pk=key.pk).update(ciphertext=bytes(blob))
    with pytest.raises(DecryptionFailed) as excinfo:
        _open(key)
    assert str(excinfo.value) == "The stored key could not be decrypted."


def test_ciphertext_copied_to_another_row_of_the_same_org_fails(tenant, master_keys):
    org_key = _store(tenant)
    personal = _store(tenant, api_key="sk-proj-personalKEY0123456789abcdefGHIJ", scope="user")
    ProviderKey.objects.filter(pk=personal.pk).update(ciphertext=bytes(org_key.ciphertext))
    with pytest.raises(DecryptionFailed):
        _open(personal)


def test_ciphertext_copied_to_another_org_fails(tenant, master_keys):
    victim = _store(tenant)
    attacker = _store(
        tenant,
        api_key="sk-proj-attackerKEY0123456789abcdefMNOP",
        actor=tenant.outsider,
        org=tenant.outsider_org,
    )
    # Even with the data key row copied along, the binding to org and key id fails.
    ProviderKey.objects.filter(pk=attacker.pk).update(ciphertext=bytes(victim.ciphertext))
    with pytest.raises(DecryptionFailed):
        _open(attacker)
    victim_dk = OrganizationDataKey.objects.get(organization=tenant.org)
    OrganizationDataKey.objects.filter(organization=tenant.outsider_org).update(
        wrapped_key=bytes(victim_dk.wrapped_key), master_key_id=victim_dk.master_key_id
    )
    with pytest.raises(DecryptionFailed):
        _open(attacker)


def test_old_version_ciphertext_put_back_fails(tenant, master_keys):
    key = _store(tenant)
    old = bytes(key.ciphertext)
    _store(tenant, api_key="sk-proj-newerKEY0123456789abcdefQRST")
    ProviderKey.objects.filter(pk=key.pk).update(ciphertext=old)
    with pytest.raises(DecryptionFailed):
        _open(key)


def test_tampered_key_is_skipped_by_resolve_without_leaking(tenant, master_keys, settings):
    settings.OPENAI_API_KEY = ""
    key = _store(tenant)
    ProviderKey.objects.filter(pk=key.pk).update(ciphertext=b"\x01" + b"\x00" * 40)
    assert (
        services.provider_key_resolve(organization=tenant.org, user=tenant.owner, provider="openai")
        is None
    )


@pytest.mark.parametrize(
    ("provider", "value", "message"),
    [
        ("openai", "", "Paste your API key."),
        ("openai", "not-a-key", "An OpenAI key starts with"),
        ("openai", "sk-short", "An OpenAI key starts with"),
        ("openai", ANTHROPIC, "This looks like an Anthropic key"),
        ("anthropic", OPENAI, "An Anthropic key starts with"),
        ("openai", "sk-proj-has spaces inside 0123456789abcdef", "An OpenAI key starts with"),
    ],
)
def test_bad_format_is_a_field_error_that_never_echoes_the_value(
    tenant, master_keys, provider, value, message
):
    with pytest.raises(ValidationError) as excinfo:
        _store(tenant, api_key=value, provider=provider)
    errors = excinfo.value.message_dict
    assert list(errors) == ["api_key"]
    assert message in errors["api_key"][0]
    if value:
        assert value not in errors["api_key"][0]
    assert not ProviderKey.objects.exists()


def test_unknown_provider_is_a_field_error(tenant, master_keys):
    with pytest.raises(ValidationError) as excinfo:
        _store(tenant, provider="mistral")
    assert "provider" in excinfo.value.message_dict


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "nocolon",
        "k1:notbase64!!",
        "k1:" + "QUJD",
        "bad id:" + "A" * 43 + "=",
        "a:" + "A" * 43 + "=,a:" + "A" * 43 + "=",
    ],
)
def test_malformed_master_keys_are_refused_without_echoing_material(raw):
    with pytest.raises(ImproperlyConfigured) as excinfo:
        parse_master_keys(raw)
    assert "A" * 43 not in str(excinfo.value)


def test_first_master_key_encrypts_and_all_decrypt(tenant, master_keys):
    master_keys.use("k0", "k1")
    key = _store(tenant)
    assert OrganizationDataKey.objects.get(organization=tenant.org).master_key_id == "k0"
    master_keys.use("k1", "k0")
    assert _open(key) == OPENAI


def test_removed_master_key_stops_decryption_even_when_cached(tenant, master_keys):
    key = _store(tenant)
    assert _open(key) == OPENAI  # now cached in-process
    master_keys.use("k0")
    with pytest.raises(DecryptionFailed):
        _open(key)


def test_a_key_pasted_into_the_label_is_refused(tenant, master_keys):
    with pytest.raises(ValidationError) as excinfo:
        services.provider_key_store(
            organization=tenant.org,
            actor=tenant.owner,
            provider="openai",
            api_key=OPENAI,
            label=OPENAI,
        )
    assert list(excinfo.value.message_dict) == ["label"]
    assert OPENAI not in str(excinfo.value)
    assert not ProviderKey.objects.exists()
