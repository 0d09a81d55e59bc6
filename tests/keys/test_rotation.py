"""Master-key rotation: re-wrap without re-entry, interrupt, resume, retire the old key."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import AuditEvent
from keys import rotation, services
from keys.models import OrganizationDataKey, TransportKey
from keys.transport import transport_decrypt, transport_encrypt_for_tests, transport_public_jwk
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory


def _secret(i: int) -> str:
    return f"sk-proj-rotation{i:04d}KEY0123456789abcdefXYZ"


@pytest.fixture
def many_orgs(db, master_keys):
    """Seven organisations with a key each, all wrapped by the old master key k0."""
    master_keys.use("k0")
    orgs = []
    for i in range(7):
        org = OrganizationFactory()
        owner = UserFactory()
        MembershipFactory(organization=org, user=owner, role="owner")
        services.provider_key_store(
            organization=org, actor=owner, provider="openai", api_key=_secret(i)
        )
        orgs.append((org, owner))
    return orgs


def _all_resolve(orgs) -> list[str]:
    return [
        services.provider_key_resolve(
            organization=org, user=owner, provider="openai", allow_platform=False
        ).secret
        for org, owner in orgs
    ]


def _check(*, passes: bool = False) -> str:
    """``keys_rotate --check``: passes (exit 0) only when everything is on the newest key;
    otherwise it fails (exit non-zero, CommandError here) so it can gate a deploy."""
    out = StringIO()
    if passes:
        call_command("keys_rotate", "--check", stdout=out)
    else:
        with pytest.raises(CommandError, match="still use an old key"):
            call_command("keys_rotate", "--check", stdout=out)
    return out.getvalue()


def test_rotate_interrupt_resume_and_remove_the_old_key(many_orgs, master_keys, monkeypatch):
    jwk = transport_public_jwk()  # the transport key pair is wrapped by k0 too
    master_keys.use("k1", "k0")
    assert "k0: 8 (old)" in _check()
    assert "8 row(s) still use an old key" in _check()

    # Interrupt: the process dies on the 4th data key (second batch of 3).
    real = rotation._rewrap_row
    calls = {"n": 0}

    def flaky(row, **kw):
        calls["n"] += 1
        if calls["n"] == 4:
            raise RuntimeError("worker killed")
        return real(row, **kw)

    monkeypatch.setattr(rotation, "_rewrap_row", flaky)
    with pytest.raises(RuntimeError):
        call_command("keys_rotate", "--batch-size", "3", stdout=StringIO())
    # The first batch committed; the interrupted batch rolled back as a whole.
    assert OrganizationDataKey.objects.filter(master_key_id="k1").count() == 3
    assert OrganizationDataKey.objects.filter(master_key_id="k0").count() == 4
    assert _all_resolve(many_orgs) == [_secret(i) for i in range(7)]

    # Resume: finishes the rest; already-rotated rows are not touched again.
    monkeypatch.setattr(rotation, "_rewrap_row", real)
    done = set(
        OrganizationDataKey.objects.filter(master_key_id="k1").values_list("pk", "wrapped_key")
    )
    out = StringIO()
    call_command("keys_rotate", "--batch-size", "3", stdout=out)
    assert "Re-wrapped 5 key(s) under k1." in out.getvalue()  # 4 data keys + transport key
    assert done <= set(OrganizationDataKey.objects.values_list("pk", "wrapped_key"))
    assert "Everything uses the newest key; older master keys can be removed." in _check(
        passes=True
    )

    # Idempotent: a second run changes nothing.
    out = StringIO()
    call_command("keys_rotate", stdout=out)
    assert "Re-wrapped 0 key(s)" in out.getvalue()

    # Retire k0: everything still decrypts, nobody re-entered anything.
    master_keys.use("k1")
    assert _all_resolve(many_orgs) == [_secret(i) for i in range(7)]
    assert transport_decrypt(transport_encrypt_for_tests(_secret(1), jwk)) == _secret(1)
    assert TransportKey.objects.get().master_key_id == "k1"
    rotated = AuditEvent.objects.filter(action="provider_keys.rotated")
    assert rotated.count() == 7
    assert rotated.first().metadata == {"from": "k0", "to": "k1"}


def test_removing_a_master_key_too_early_is_reported_not_destructive(many_orgs, master_keys):
    master_keys.use("k2")  # k0 dropped before rotating: nothing can be unwrapped
    out = StringIO()
    with pytest.raises(CommandError, match="could not be unwrapped"):
        call_command("keys_rotate", stdout=out)
    assert "NOT CONFIGURED" in _check()
    master_keys.use("k2", "k0")  # put it back: rotation completes, nothing was lost
    call_command("keys_rotate", stdout=StringIO())
    master_keys.use("k2")
    assert _all_resolve(many_orgs) == [_secret(i) for i in range(7)]


def test_monthly_beat_task_rotates(many_orgs, master_keys, settings):
    from keys.tasks import data_keys_rotate_task

    master_keys.use("k1", "k0")
    assert data_keys_rotate_task() == {"rewrapped": 7, "failed": 0}
    assert set(OrganizationDataKey.objects.values_list("master_key_id", flat=True)) == {"k1"}
    schedule = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"keys.rotate_data_keys", "keys.recheck_provider_keys"} <= schedule
