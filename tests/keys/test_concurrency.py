"""Concurrent first saves on real PostgreSQL: one data key per organisation, one key row
per provider, and the saved key decrypts."""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections

from accounts.models import Role
from keys import services
from keys.models import OrganizationDataKey, ProviderKey
from tests.conftest import require_service
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_racing_first_saves_leave_one_data_key_and_one_row(master_keys):
    require_service("PostgreSQL (DATABASE_URL)", connection.vendor == "postgresql")
    org = OrganizationFactory()
    owners = [UserFactory() for _ in range(4)]
    for owner in owners:
        MembershipFactory(organization=org, user=owner, role=Role.OWNER)
    values = [f"sk-proj-race{i}KEY0123456789abcdefghij{i:04d}" for i in range(4)]
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def save(i: int) -> None:
        try:
            barrier.wait()
            services.provider_key_store(
                organization=org, actor=owners[i], provider="openai", api_key=values[i]
            )
            outcomes.append("saved")
        except ValidationError as exc:
            outcomes.append("retry:" + exc.message_dict["api_key"][0])
        finally:
            connections.close_all()

    threads = [threading.Thread(target=save, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Losers of the insert race turn into replacements: nobody sees an error.
    assert outcomes == ["saved"] * 4
    assert OrganizationDataKey.objects.filter(organization=org).count() == 1
    key = ProviderKey.objects.get(organization=org)
    assert key.key_version == 4
    resolved = services.provider_key_resolve(
        organization=org, user=owners[0], provider="openai", allow_platform=False
    )
    assert resolved.secret in values and resolved.key_id == key.pk


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_rotations_at_once_rewrap_each_data_key_exactly_once(master_keys):
    require_service("PostgreSQL (DATABASE_URL)", connection.vendor == "postgresql")
    from accounts.models import AuditEvent
    from keys.rotation import data_keys_rotate

    master_keys.use("k0")
    orgs = []
    for i in range(12):
        org = OrganizationFactory()
        owner = UserFactory()
        MembershipFactory(organization=org, user=owner, role=Role.OWNER)
        services.provider_key_store(
            organization=org,
            actor=owner,
            provider="openai",
            api_key=f"sk-proj-rot{i:03d}KEY0123456789abcdefgh",
        )
        orgs.append((org, owner, f"sk-proj-rot{i:03d}KEY0123456789abcdefgh"))
    master_keys.use("k1", "k0")
    barrier = threading.Barrier(2)
    reports = []

    def rotate() -> None:
        try:
            barrier.wait()
            reports.append(data_keys_rotate(batch_size=2))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=rotate) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.rewrapped for r in reports) == 12  # 12 data keys, none twice
    assert not any(r.failed for r in reports)
    assert AuditEvent.objects.filter(action="provider_keys.rotated").count() == 12
    assert set(OrganizationDataKey.objects.values_list("master_key_id", flat=True)) == {"k1"}
    master_keys.use("k1")
    for org, owner, value in orgs:
        resolved = services.provider_key_resolve(
            organization=org, user=owner, provider="openai", allow_platform=False
        )
        assert resolved.secret == value
