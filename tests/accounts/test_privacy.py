"""GDPR: export your data, delete your account, delete an organisation."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.test import Client

from accounts import services
from accounts.models import AuditEvent, Membership, Organization, Role, User
from generation.models import Generation
from keys import services as key_services
from keys.models import ProviderKey
from tests.conftest import PASSWORD, membership
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

CANARY = "sk-proj-CANARYgdprCANARY1234567890abcdef"


def _generation(org, user, requirement):
    return Generation.objects.create(
        organization=org,
        user=user,
        requirement=requirement,
        provider="fallback",
        model="fallback",
        key_source="platform",
    )


def _export(client: Client) -> dict:
    response = client.get("/settings/account/export/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert sorted(archive.namelist()) == [
            "crewbuilder-export/README.txt",
            "crewbuilder-export/data.json",
        ]
        raw = archive.read("crewbuilder-export/data.json")
    assert CANARY.encode() not in raw
    return json.loads(raw)


def test_export_holds_my_data_and_nothing_secret_or_of_others(tenant, owner_client, member_client):
    key_services.provider_key_store(
        organization=tenant.org, actor=tenant.owner, provider="openai", api_key=CANARY
    )
    _generation(tenant.org, tenant.owner, "alice wants a research crew")
    _generation(tenant.org, tenant.member, "bob's private requirement")
    services.invitation_create(organization=tenant.org, actor=tenant.owner, email="x@acme.test")
    data = _export(owner_client)
    assert data["profile"]["email"] == "alice@acme.test"
    assert "password" not in json.dumps(data["profile"])
    assert [m["organization"] for m in data["memberships"]] == ["Acme"]
    assert data["memberships"][0]["role"] == "owner"
    assert [g["requirement"] for g in data["generations"]] == ["alice wants a research crew"]
    assert {"input_tokens", "cost_cents", "model", "status"} <= set(data["generations"][0])
    actions = {e["action"] for e in data["audit_events"]}
    assert "invitation.created" in actions
    assert all(e["organization"] in ("Acme", None) for e in data["audit_events"])
    text = json.dumps(data)
    assert "bob's private requirement" not in text
    assert User.objects.get(email="alice@acme.test").password not in text


def test_export_requires_sign_in(client):
    response = client.get("/settings/account/export/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"password": "wrong", "confirm": "delete my account"},
            b"That is not your current password.",
        ),
        ({"password": PASSWORD, "confirm": "yes"}, b"to confirm."),
    ],
)
def test_account_deletion_needs_password_and_confirmation(tenant, member_client, fields, message):
    response = member_client.post("/settings/account/delete/", fields)
    assert response.status_code == 400
    assert message in response.content
    assert User.objects.filter(pk=tenant.member.pk).exists()


def test_last_owner_of_a_shared_org_cannot_delete_their_account(tenant, owner_client):
    response = owner_client.post(
        "/settings/account/delete/", {"password": PASSWORD, "confirm": "delete my account"}
    )
    assert response.status_code == 400
    assert b"You are the last owner of Acme" in response.content
    assert User.objects.filter(pk=tenant.owner.pk).exists()
    page = owner_client.get("/settings/account/")
    assert b"You are the last owner of" in page.content


def test_member_deletes_account_leaves_shared_org_and_loses_personal_keys(tenant, member_client):
    key = key_services.provider_key_store(
        organization=tenant.org,
        actor=tenant.member,
        provider="openai",
        api_key=CANARY,
        scope="user",
    )
    services.audit_record(organization=tenant.org, actor=tenant.member, action="thing.done")
    bob_id = tenant.member.pk
    response = member_client.post(
        "/settings/account/delete/", {"password": PASSWORD, "confirm": "Delete my account"}
    )
    assert response.status_code == 302
    assert not User.objects.filter(pk=bob_id).exists()
    assert not ProviderKey.objects.filter(pk=key.pk).exists()
    assert Organization.objects.filter(pk=tenant.org.pk).exists()  # shared org stays
    assert Membership.objects.filter(organization=tenant.org).count() == 1
    # the org's audit log keeps the action under a pseudonym, not the email
    event = AuditEvent.objects.get(action="thing.done")
    assert event.actor_label == f"deleted user #{bob_id}"
    assert not AuditEvent.objects.filter(actor_label="bob@acme.test").exists()
    assert AuditEvent.objects.filter(action="user.deleted", metadata__user_id=bob_id).exists()
    # signed out
    assert member_client.get("/settings/team/").status_code == 302


def test_owner_with_co_owner_can_delete_account(tenant, owner_client):
    MembershipFactory(organization=tenant.org, user=UserFactory(), role=Role.OWNER)
    response = owner_client.post(
        "/settings/account/delete/", {"password": PASSWORD, "confirm": "delete my account"}
    )
    assert response.status_code == 302
    assert Organization.objects.filter(pk=tenant.org.pk).exists()


def test_deleting_a_solo_account_deletes_its_organisations(db):
    solo = UserFactory(email="solo@example.test")
    org = services.user_onboard(user=solo)
    _generation(org, solo, "solo requirement")
    client = Client()
    client.force_login(solo)
    assert (
        client.post(
            "/settings/account/delete/", {"password": PASSWORD, "confirm": "delete my account"}
        ).status_code
        == 302
    )
    assert not Organization.objects.filter(pk=org.pk).exists()
    assert not Generation.objects.filter(requirement="solo requirement").exists()


# --- organisation deletion -------------------------------------------------------------


def test_only_an_owner_can_delete_the_organisation(tenant, member_client):
    assert member_client.get("/settings/organization/delete/").status_code == 403
    assert (
        member_client.post("/settings/organization/delete/", {"confirm": "Acme"}).status_code == 403
    )
    assert Organization.objects.filter(pk=tenant.org.pk).exists()


def test_wrong_name_is_a_field_error(tenant, owner_client):
    response = owner_client.post("/settings/organization/delete/", {"confirm": "acme"})
    assert response.status_code == 400
    assert b"Type the organisation&#x27;s name exactly" in response.content
    assert Organization.objects.filter(pk=tenant.org.pk).exists()


def test_owner_deletes_org_keys_are_shredded_subscription_cancelled_rows_gone(
    tenant, owner_client, outsider_client, monkeypatch
):
    from billing import services as billing_services
    from keys.models import OrganizationDataKey

    cancelled = []
    real_cancel = billing_services.subscription_cancel_for_deletion

    def spy(*, organization, actor):
        cancelled.append((organization.pk, actor))
        return real_cancel(organization=organization, actor=actor)

    monkeypatch.setattr(billing_services, "subscription_cancel_for_deletion", spy)
    key_services.provider_key_store(
        organization=tenant.org, actor=tenant.owner, provider="openai", api_key=CANARY
    )
    assert OrganizationDataKey.objects.filter(organization=tenant.org).exists()
    billing_services.credits_grant(organization=tenant.org, actor=None, quantity=2)
    billing_services.credits_purchase_record(
        organization=tenant.org,
        checkout_session_id="cs_test_1",
        payment_intent_id="pi_test_1",
        quantity=1,
        amount_cents=500,
        currency="usd",
    )
    _generation(tenant.org, tenant.member, "acme requirement")
    other_key = key_services.provider_key_store(
        organization=tenant.outsider_org, actor=tenant.outsider, provider="openai", api_key=CANARY
    )
    org_id = tenant.org.pk

    response = owner_client.post("/settings/organization/delete/", {"confirm": "Acme"})

    assert response.status_code == 302
    assert cancelled == [(org_id, tenant.owner)]
    assert not Organization.objects.filter(pk=org_id).exists()
    assert not OrganizationDataKey.objects.filter(organization_id=org_id).exists()
    assert not ProviderKey.objects.filter(organization_id=org_id).exists()
    assert not Generation.objects.filter(organization_id=org_id).exists()
    assert not Membership.objects.filter(organization_id=org_id).exists()
    event = AuditEvent.objects.get(action="organization.deleted")
    assert event.organization is None
    assert event.metadata["subscription_cancelled"] is True
    assert event.metadata["keys_crypto_shredded"] is True
    assert event.metadata["name"] == "Acme"
    # users survive; bob now has no organisation and gets a personal one on next visit
    assert User.objects.filter(pk=tenant.member.pk).exists()
    # the other organisation is untouched
    assert ProviderKey.objects.filter(pk=other_key.pk).exists()
    assert outsider_client.get("/settings/team/").status_code == 200


def test_outsider_cannot_delete_another_org(tenant, outsider_client):
    outsider_client.post("/settings/organization/delete/", {"confirm": "Acme"})
    assert Organization.objects.filter(pk=tenant.org.pk).exists()
    assert membership(tenant.org, tenant.owner).role == Role.OWNER


def test_org_is_kept_when_stripe_cannot_cancel_the_subscription(tenant, owner_client, monkeypatch):
    from billing import services as billing_services
    from billing.stripe_gateway import GatewayError

    key = key_services.provider_key_store(
        organization=tenant.org, actor=tenant.owner, provider="openai", api_key=CANARY
    )

    def failing(*, organization, actor):
        raise GatewayError("stripe unreachable")

    monkeypatch.setattr(billing_services, "subscription_cancel_for_deletion", failing)
    response = owner_client.post("/settings/organization/delete/", {"confirm": "Acme"})
    assert response.status_code == 400
    assert b"nothing was deleted" in response.content
    assert Organization.objects.filter(pk=tenant.org.pk).exists()
    assert ProviderKey.objects.filter(pk=key.pk).exists()
