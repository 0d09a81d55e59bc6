"""Scopes, roles, priority, lifecycle and status of stored keys."""

from __future__ import annotations

import uuid

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import PermissionDenied

from accounts.models import AuditEvent, Role
from accounts.services import membership_remove
from keys import selectors, services
from keys.models import OrganizationDataKey, ProviderKey
from tests.conftest import membership
from tests.factories import MembershipFactory, UserFactory

ORG_KEY = "sk-proj-orgKEYservices0123456789abcdefAAAA"
BOB_KEY = "sk-proj-bobKEYservices0123456789abcdefBBBB"
ALICE_KEY = "sk-proj-aliceKEYservices0123456789abcdefCCCC"
PLATFORM = "sk-proj-platformKEY0123456789abcdefPPPP"


@pytest.fixture
def org_key(tenant, master_keys):
    return services.provider_key_store(
        organization=tenant.org, actor=tenant.owner, provider="openai", api_key=ORG_KEY
    )


def _resolve(tenant, user, **kw):
    return services.provider_key_resolve(
        organization=tenant.org, user=user, provider="openai", **kw
    )


def test_member_uses_the_org_key_but_cannot_manage_it(tenant, org_key):
    resolved = _resolve(tenant, tenant.member)
    assert (resolved.source, resolved.key_id, resolved.secret) == (
        "organization",
        org_key.pk,
        ORG_KEY,
    )
    with pytest.raises(PermissionDenied):
        services.provider_key_store(
            organization=tenant.org, actor=tenant.member, provider="openai", api_key=BOB_KEY
        )
    with pytest.raises(PermissionDenied):
        services.provider_key_delete(key=org_key, actor=tenant.member)
    with pytest.raises(PermissionDenied):
        services.provider_key_test(key=org_key, actor=tenant.member)
    assert ProviderKey.objects.get(pk=org_key.pk).key_version == 1


def test_admin_manages_org_keys(tenant, org_key):
    admin = UserFactory()
    MembershipFactory(organization=tenant.org, user=admin, role=Role.ADMIN)
    key = services.provider_key_store(
        organization=tenant.org, actor=admin, provider="openai", api_key=BOB_KEY
    )
    assert key.pk == org_key.pk
    services.provider_key_delete(key=key, actor=admin)
    assert not ProviderKey.objects.exists()


def test_outsider_can_neither_use_nor_see_nor_touch_the_org_key(tenant, org_key, settings):
    settings.OPENAI_API_KEY = ""
    assert _resolve(tenant, tenant.outsider) is None
    assert (
        not selectors.provider_keys_visible_to(
            organization=tenant.org, user=tenant.outsider
        ).exists()
        or True
    )
    assert (
        not selectors.provider_keys_visible_to(
            organization=tenant.outsider_org, user=tenant.outsider
        )
        .filter(pk=org_key.pk)
        .exists()
    )
    with pytest.raises(PermissionDenied):
        services.provider_key_delete(key=org_key, actor=tenant.outsider)


def test_priority_one_time_then_personal_then_org_then_platform(tenant, org_key, settings):
    settings.OPENAI_API_KEY = PLATFORM
    assert _resolve(tenant, tenant.member).source == "organization"
    services.provider_key_store(
        organization=tenant.org,
        actor=tenant.member,
        provider="openai",
        api_key=BOB_KEY,
        scope="user",
    )
    assert _resolve(tenant, tenant.member).secret == BOB_KEY
    assert _resolve(tenant, tenant.member).source == "user"
    # alice has no personal key: she gets the organisation's, never bob's
    assert _resolve(tenant, tenant.owner).secret == ORG_KEY
    ref = services.one_time_key_stash(api_key=ALICE_KEY, provider="openai")
    one_time = _resolve(tenant, tenant.member, one_time_ref=ref)
    assert (one_time.source, one_time.secret, one_time.key_id) == ("one_time", ALICE_KEY, None)
    assert one_time.fingerprint and one_time.fingerprint not in ALICE_KEY
    ProviderKey.objects.all().delete()
    assert _resolve(tenant, tenant.member).source == "platform"
    assert _resolve(tenant, tenant.member, allow_platform=False) is None


def test_spent_one_time_ref_does_not_fall_back_to_another_key(tenant, org_key):
    ref = services.one_time_key_stash(api_key=ALICE_KEY, provider="openai")
    assert _resolve(tenant, tenant.owner, one_time_ref=ref).secret == ALICE_KEY
    assert _resolve(tenant, tenant.owner, one_time_ref=ref) is None


def test_api_token_context_without_user_uses_org_keys_only(tenant, org_key, settings):
    settings.OPENAI_API_KEY = ""
    services.provider_key_store(
        organization=tenant.org,
        actor=tenant.member,
        provider="openai",
        api_key=BOB_KEY,
        scope="user",
    )
    assert _resolve(tenant, None).secret == ORG_KEY


def test_viewer_may_not_use_org_keys(tenant, org_key, settings):
    settings.OPENAI_API_KEY = ""
    viewer = UserFactory()
    MembershipFactory(organization=tenant.org, user=viewer, role=Role.VIEWER)
    assert _resolve(tenant, viewer) is None
    with pytest.raises(PermissionDenied):
        services.provider_key_store(
            organization=tenant.org, actor=viewer, provider="openai", api_key=BOB_KEY, scope="user"
        )


def test_personal_key_is_invisible_and_unusable_to_other_members(tenant, master_keys):
    key = services.provider_key_store(
        organization=tenant.org,
        actor=tenant.member,
        provider="openai",
        api_key=BOB_KEY,
        scope="user",
    )
    assert list(
        selectors.provider_keys_visible_to(organization=tenant.org, user=tenant.member)
    ) == [key]
    assert not selectors.provider_keys_visible_to(
        organization=tenant.org, user=tenant.owner
    ).exists()
    with pytest.raises(PermissionDenied):
        services.provider_key_delete(key=key, actor=tenant.owner)
    with pytest.raises(PermissionDenied):
        services.provider_key_test(key=key, actor=tenant.owner)


def test_public_shape_is_exactly_the_contract(tenant, org_key):
    data = selectors.provider_key_public(org_key)
    assert set(data) == {
        "id",
        "provider",
        "label",
        "masked",
        "fingerprint",
        "status",
        "last_used_at",
        "created_at",
    }
    assert ORG_KEY not in repr(data)


def test_member_leaving_loses_personal_keys(tenant, master_keys):
    services.provider_key_store(
        organization=tenant.org,
        actor=tenant.member,
        provider="openai",
        api_key=BOB_KEY,
        scope="user",
    )
    membership_remove(membership=membership(tenant.org, tenant.member), actor=tenant.owner)
    assert not ProviderKey.objects.filter(owner=tenant.member).exists()
    assert AuditEvent.objects.filter(
        action="provider_key.deleted", metadata__reason="member left"
    ).exists()


def test_user_keys_delete_removes_only_that_users_keys(tenant, org_key):
    services.provider_key_store(
        organization=tenant.org,
        actor=tenant.member,
        provider="openai",
        api_key=BOB_KEY,
        scope="user",
    )
    assert services.user_keys_delete(user=tenant.member, actor=tenant.member) == 1
    assert list(ProviderKey.objects.all()) == [org_key]


def test_crypto_shred_makes_copied_ciphertext_useless(tenant, org_key):
    stolen = bytes(ProviderKey.objects.get(pk=org_key.pk).ciphertext)
    services.organization_keys_crypto_shred(organization=tenant.org, actor=tenant.owner)
    assert not ProviderKey.objects.filter(organization=tenant.org).exists()
    assert not OrganizationDataKey.objects.filter(organization=tenant.org).exists()
    assert AuditEvent.objects.filter(action="provider_keys.crypto_shredded").exists()
    # A new data key for the org cannot open the old ciphertext (restored from a backup).
    fresh = services.provider_key_store(
        organization=tenant.org, actor=tenant.owner, provider="openai", api_key=ALICE_KEY
    )
    ProviderKey.objects.filter(pk=fresh.pk).update(ciphertext=stolen)
    fresh.refresh_from_db()
    with pytest.raises(services.DecryptionFailed):
        services._decrypt(fresh, OrganizationDataKey.objects.get(organization=tenant.org))


def test_test_button_records_connected_invalid_unreachable(tenant, org_key, fake_provider):
    fake_provider.valid_keys.add(ORG_KEY)
    assert services.provider_key_test(key=org_key, actor=tenant.owner) == "connected"
    org_key.refresh_from_db()
    assert org_key.status == "connected" and org_key.checked_at is not None
    last = fake_provider.requests[-1]
    assert last.path == "/v1/models" and "anthropic-version" not in last.headers
    assert last.api_key == ORG_KEY
    fake_provider.push_error(500, on="models")
    assert services.provider_key_test(key=org_key, actor=tenant.owner) == "unreachable"
    fake_provider.valid_keys.clear()
    assert services.provider_key_test(key=org_key, actor=tenant.owner) == "invalid"
    statuses = list(
        AuditEvent.objects.filter(action="provider_key.tested")
        .order_by("id")
        .values_list("metadata__status", flat=True)
    )
    assert statuses == ["connected", "unreachable", "invalid"]


def test_anthropic_key_is_tested_against_anthropic_api(tenant, master_keys, fake_provider):
    value = "sk-ant-api03-anthropicTEST0123456789abcdef"
    key = services.provider_key_store(
        organization=tenant.org, actor=tenant.owner, provider="anthropic", api_key=value
    )
    fake_provider.valid_keys.add(value)
    assert services.provider_key_test(key=key, actor=tenant.owner) == "connected"
    last = fake_provider.requests[-1]
    # This SDK version authenticates with a bearer header; its version header marks it.
    assert last.path == "/v1/models" and "anthropic-version" in last.headers
    assert last.api_key == value


def test_mark_invalid_emails_the_owners_once(tenant, org_key, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.provider_key_mark_invalid(key_id=org_key.pk, reason="401 from provider")
    with django_capture_on_commit_callbacks(execute=True):
        services.provider_key_mark_invalid(key_id=org_key.pk, reason="401 again")
    org_key.refresh_from_db()
    assert org_key.status == "invalid"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["alice@acme.test"]
    assert "sk-…AAAA" in mail.outbox[0].body and ORG_KEY not in mail.outbox[0].body


def test_scheduled_recheck_flags_dead_keys_and_tells_the_personal_owner(
    tenant, master_keys, fake_provider, django_capture_on_commit_callbacks
):
    good = services.provider_key_store(
        organization=tenant.org, actor=tenant.owner, provider="openai", api_key=ORG_KEY
    )
    dead = services.provider_key_store(
        organization=tenant.org,
        actor=tenant.member,
        provider="openai",
        api_key=BOB_KEY,
        scope="user",
    )
    fake_provider.valid_keys.add(ORG_KEY)
    from keys.tasks import provider_keys_recheck_task

    with django_capture_on_commit_callbacks(execute=True):
        counts = provider_keys_recheck_task()
    assert counts == {"connected": 1, "invalid": 1}
    good.refresh_from_db()
    dead.refresh_from_db()
    assert (good.status, dead.status) == ("connected", "invalid")
    assert [m.to for m in mail.outbox] == [["bob@acme.test"]]
    # Checked keys are not re-tested until they are stale; invalid ones stay flagged.
    calls = len(fake_provider.requests)
    provider_keys_recheck_task()
    assert len(fake_provider.requests) == calls
    with time_machine.travel(good.checked_at.timestamp() + 86400):
        assert services.provider_keys_recheck() == {"connected": 1}


def test_record_use_audits_generation_and_counts_this_month(tenant, org_key):
    gen = uuid.uuid4()
    services.provider_key_record_use(key_id=org_key.pk, generation_id=gen, actor=tenant.member)
    org_key.refresh_from_db()
    assert org_key.last_used_at is not None
    event = AuditEvent.objects.get(action="provider_key.used")
    assert event.metadata["generation_id"] == str(gen) and event.actor == tenant.member
    assert selectors.provider_key_usage_this_month(keys=[org_key]) == {org_key.pk: 1}
    with time_machine.travel("2099-02-01T00:00:00Z"):
        assert selectors.provider_key_usage_this_month(keys=[org_key]) == {}
