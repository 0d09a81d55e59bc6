"""Regression tests for defects found in the security review."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from billing import services as billing
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _staff_with(*codenames: str) -> Client:
    staff = UserFactory(email="ops@crewbuilder.test")
    staff.is_staff = True
    staff.save()
    for codename in codenames:
        staff.user_permissions.add(Permission.objects.get(codename=codename))
    client = Client()
    client.force_login(staff)
    return client


def test_view_only_staff_cannot_grant_free_credits(tenant):
    account = billing.billing_account_for(tenant.outsider_org)
    client = _staff_with("view_billingaccount")
    client.post(
        "/admin/billing/billingaccount/",
        {
            "action": "grant_credits",
            "_selected_action": [account.pk],
            "apply": "1",
            "quantity": 1,
            "reason": "x",
        },
    )
    account.refresh_from_db()
    assert account.credit_balance == 0
    page = client.get("/admin/billing/billingaccount/").content.decode()
    assert "grant_credits" not in page


def test_staff_with_change_permission_can_grant_a_credit(tenant):
    account = billing.billing_account_for(tenant.outsider_org)
    client = _staff_with("view_billingaccount", "change_billingaccount")
    client.post(
        "/admin/billing/billingaccount/",
        {
            "action": "grant_credits",
            "_selected_action": [account.pk],
            "apply": "1",
            "quantity": 1,
            "reason": "x",
        },
    )
    account.refresh_from_db()
    assert account.credit_balance == 1


def test_staff_cannot_delete_keys_or_data_keys_in_the_admin(tenant):
    client = _staff_with(
        "view_providerkey",
        "delete_providerkey",
        "view_organizationdatakey",
        "delete_organizationdatakey",
    )
    for url in ("/admin/keys/providerkey/", "/admin/keys/organizationdatakey/"):
        assert "delete_selected" not in client.get(url).content.decode()


def test_template_parameter_with_a_nul_byte_is_ignored_not_a_500(tenant, owner_client):
    response = owner_client.get("/generate/?template=%00")
    assert response.status_code == 200
    response = owner_client.get("/generate/?template=" + "x" * 500)
    assert response.status_code == 200


def test_celery_workers_keep_the_redacting_log_handlers():
    import logging

    from crewbuilder.celery import app

    assert app.conf.worker_hijack_root_logger is False
    # The root logger's handlers (what a worker keeps) all carry the redaction filter.
    root_handlers = [
        h for h in logging.getLogger().handlers if not type(h).__module__.startswith("_pytest")
    ]
    assert root_handlers
    for handler in root_handlers:
        assert any(type(f).__name__ == "RedactSecretsFilter" for f in handler.filters)


def _register_custom_domain(tenant, owner_client, settings, capture, domain, dns_server):
    """An Enterprise tenant registers (and proves, it owns the DNS) its custom domain."""
    from crewbuilder.hosts import AllowedHosts
    from tests.accounts.test_custom_domain_proof import publish_proof
    from tests.factories import plan_assign

    settings.ALLOWED_HOSTS = AllowedHosts(["testserver", "localhost", "127.0.0.1"])
    plan_assign(tenant.org, "enterprise")
    with capture(execute=True):
        response = owner_client.post(
            "/settings/branding/", {"brand_name": "X", "custom_domain": domain}
        )
    assert response.status_code in (200, 302)
    publish_proof(dns_server, tenant.org, domain)
    with capture(execute=True):
        assert owner_client.post("/settings/branding/", {"verify": "1"}).status_code == 302


def test_password_reset_link_never_uses_a_tenant_custom_domain(
    tenant, owner_client, settings, django_capture_on_commit_callbacks, dns_server
):
    from django.core import mail

    _register_custom_domain(
        tenant,
        owner_client,
        settings,
        django_capture_on_commit_callbacks,
        "evil-attacker.example",
        dns_server,
    )
    settings.SITE_URL = "https://app.crewbuilder.test"
    with django_capture_on_commit_callbacks(execute=True):
        Client().post(
            "/accounts/password/reset/",
            {"email": tenant.outsider.email},
            HTTP_HOST="evil-attacker.example",
        )
    body = mail.outbox[-1].body
    assert "evil-attacker.example/accounts" not in body
    assert "https://app.crewbuilder.test/accounts/password/reset/key/" in body


def test_login_next_to_a_tenant_custom_domain_is_not_followed(
    tenant, owner_client, settings, django_capture_on_commit_callbacks, dns_server
):
    _register_custom_domain(
        tenant,
        owner_client,
        settings,
        django_capture_on_commit_callbacks,
        "evil-attacker.example",
        dns_server,
    )
    response = Client().post(
        "/accounts/login/?next=https://evil-attacker.example/phish",
        {"login": tenant.outsider.email, "password": "correct horse battery staple"},
    )
    assert response.status_code == 302
    assert "evil-attacker.example" not in response["Location"]


def test_invitations_cannot_be_accepted_past_the_seat_limit_after_a_downgrade(tenant):
    from django.core.exceptions import ValidationError

    from accounts import services as accounts
    from accounts.models import Membership
    from tests.factories import plan_assign

    plan_assign(tenant.org, "professional")
    tokens = [
        accounts.invitation_create(
            organization=tenant.org, actor=tenant.owner, email=f"p{i}@x.test"
        )[1]
        for i in range(3)
    ]
    plan_assign(tenant.org, "basic")  # one seat; alice and bob already use two
    for i, token in enumerate(tokens):
        with pytest.raises(ValidationError, match="no free seat"):
            accounts.invitation_accept(token=token, user=UserFactory(email=f"p{i}@x.test"))
    assert Membership.objects.filter(organization=tenant.org).count() == 2


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_owners_leaving_at_once_leave_one_owner(postgres, monkeypatch):
    import threading

    from django.core.exceptions import ValidationError
    from django.db import connection

    from accounts import services as accounts
    from accounts.models import Membership, Role
    from tests.factories import MembershipFactory, OrganizationFactory

    org = OrganizationFactory(name="Duo")
    owners = [MembershipFactory(organization=org, role=Role.OWNER) for _ in range(2)]
    MembershipFactory(organization=org, role=Role.MEMBER)
    barrier = threading.Barrier(2, timeout=2)
    real_audit = accounts.audit_record

    def audit_then_wait(**kwargs):
        # Hold the first leaver inside its transaction so the second overlaps it.
        if kwargs.get("action") == "membership.left":
            try:
                barrier.wait()
            except threading.BrokenBarrierError:
                pass
        return real_audit(**kwargs)

    monkeypatch.setattr(accounts, "audit_record", audit_then_wait)
    outcomes: list[str] = []

    def leave(membership):
        try:
            accounts.membership_remove(membership=membership, actor=membership.user)
            outcomes.append("left")
        except ValidationError:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=leave, args=(m,)) for m in owners]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["left", "refused"]
    assert Membership.objects.filter(organization=org, role=Role.OWNER).count() == 1


def test_audit_filter_with_the_last_date_is_a_field_error_not_a_500(tenant, owner_client):
    for url in ("/settings/audit/?until=9999-12-31", "/settings/audit/export.csv?until=9999-12-31"):
        response = owner_client.get(url)
        assert response.status_code == 400, url


def test_decompression_bomb_logo_is_a_field_error_not_a_500(tenant, owner_client):
    import struct
    import zlib

    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.factories import plan_assign

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = b"\x89PNG\r\n\x1a\n" + chunk(
        b"IHDR", struct.pack(">IIBBBBB", 30000, 30000, 8, 6, 0, 0, 0)
    )
    plan_assign(tenant.org, "enterprise")
    logo = SimpleUploadedFile("logo.png", header + chunk(b"IEND", b""), content_type="image/png")
    response = owner_client.post("/settings/branding/", {"brand_name": "X", "logo": logo})
    assert response.status_code == 400
    assert b"logo" in response.content.lower()


def test_usage_csv_neutralises_formula_cells(tenant, owner_client):
    from accounts.models import Role
    from generation.models import Generation
    from tests.factories import MembershipFactory

    evil = UserFactory(email="=2+3@x.test")
    MembershipFactory(organization=tenant.org, user=evil, role=Role.MEMBER)
    Generation.objects.create(
        organization=tenant.org,
        user=evil,
        requirement="x" * 30,
        provider="fallback",
        model="fallback",
        key_source="platform",
    )
    body = owner_client.get("/settings/analytics/export.csv?days=30").content.decode()
    rows = [line.split(",") for line in body.splitlines()[1:]]
    assert rows
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
    assert any("'=2+3@x.test" in row for row in rows)
