from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.utils import timezone

from accounts import services
from accounts.models import AuditEvent, Invitation, Membership, Role
from tests.conftest import membership
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


_on_commit = {}


@pytest.fixture(autouse=True)
def _run_on_commit(django_capture_on_commit_callbacks):
    _on_commit["capture"] = django_capture_on_commit_callbacks


def _invite(client: Client, email: str, role: str = "member"):
    # The invitation email is sent after commit, as in production.
    with _on_commit["capture"](execute=True):
        return client.post("/settings/team/", {"email": email, "role": role})


def _token_from_outbox() -> str:
    return re.search(r"/invitations/([^/\s]+)/", mail.outbox[-1].body).group(1)


def test_owner_invites_and_invitee_accepts(tenant, owner_client: Client):
    response = _invite(owner_client, "dave@acme.test")
    assert response.status_code == 302
    invitation = Invitation.objects.get(email="dave@acme.test")
    assert invitation.status == Invitation.Status.PENDING
    token = _token_from_outbox()
    # only a hash is stored
    assert token not in invitation.token_hash
    dave = UserFactory(email="dave@acme.test")
    dave_client = Client()
    dave_client.force_login(dave)
    assert dave_client.get(f"/invitations/{token}/").status_code == 200
    accept = dave_client.post(f"/invitations/{token}/")
    assert accept.status_code == 302
    assert membership(tenant.org, dave).role == Role.MEMBER
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.ACCEPTED
    actions = set(
        AuditEvent.objects.filter(organization=tenant.org).values_list("action", flat=True)
    )
    assert {"invitation.created", "invitation.accepted"} <= actions
    # the accepted org became the current one
    page = dave_client.get("/settings/team/")
    assert b"Acme" in page.content


def test_anonymous_invitee_is_sent_to_sign_in_then_back(tenant, owner_client: Client):
    _invite(owner_client, "gina@acme.test")
    token = _token_from_outbox()
    anon = Client()
    page = anon.get(f"/invitations/{token}/")
    assert page.status_code == 200
    assert b"Create account" in page.content
    UserFactory(email="gina@acme.test")
    login = anon.post(
        "/accounts/login/", {"login": "gina@acme.test", "password": "correct horse battery staple"}
    )
    assert login["Location"] == f"/invitations/{token}/"


def test_expired_invitation_cannot_be_accepted(tenant, owner_client: Client):
    _invite(owner_client, "erin@acme.test")
    token = _token_from_outbox()
    erin = UserFactory(email="erin@acme.test")
    c = Client()
    c.force_login(erin)
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        response = c.post(f"/invitations/{token}/")
    assert response.status_code == 400
    assert b"expired" in response.content
    assert not Membership.objects.filter(organization=tenant.org, user=erin).exists()


def test_invitation_for_another_address_is_refused(tenant, owner_client: Client):
    _invite(owner_client, "frank@acme.test")
    token = _token_from_outbox()
    response = tenant.client_for(tenant.outsider).post(f"/invitations/{token}/")
    assert response.status_code == 403
    assert not Membership.objects.filter(organization=tenant.org, user=tenant.outsider).exists()
    assert Invitation.objects.get(email="frank@acme.test").status == Invitation.Status.PENDING


def test_revoked_invitation_cannot_be_accepted(tenant, owner_client: Client):
    _invite(owner_client, "hal@acme.test")
    token = _token_from_outbox()
    invitation = Invitation.objects.get(email="hal@acme.test")
    assert (
        owner_client.post(f"/settings/team/invitations/{invitation.pk}/revoke/").status_code == 302
    )
    hal = UserFactory(email="hal@acme.test")
    c = Client()
    c.force_login(hal)
    assert c.post(f"/invitations/{token}/").status_code == 400
    assert not Membership.objects.filter(user=hal).exists()


def test_used_invitation_cannot_be_reused(tenant, owner_client: Client):
    _invite(owner_client, "ivy@acme.test")
    token = _token_from_outbox()
    ivy = UserFactory(email="ivy@acme.test")
    c = Client()
    c.force_login(ivy)
    assert c.post(f"/invitations/{token}/").status_code == 302
    assert c.post(f"/invitations/{token}/").status_code == 400


def test_unknown_invitation_token_is_404(client: Client, db):
    assert client.get("/invitations/not-a-real-token/").status_code == 404


def test_invite_with_bad_email_is_400_with_field_message(tenant, owner_client: Client):
    response = _invite(owner_client, "not-an-email")
    assert response.status_code == 400
    assert b"Enter a valid email address" in response.content
    assert not Invitation.objects.exists()


def test_inviting_an_existing_member_is_a_field_error(tenant, owner_client: Client):
    response = _invite(owner_client, "bob@acme.test")
    assert response.status_code == 400
    assert b"already a member" in response.content


def test_member_cannot_invite(tenant, member_client: Client):
    response = _invite(member_client, "zed@acme.test")
    assert response.status_code == 403
    assert not Invitation.objects.exists()


def test_member_cannot_change_roles(tenant, member_client: Client):
    alice = membership(tenant.org, tenant.owner)
    bob = membership(tenant.org, tenant.member)
    response = member_client.post(f"/settings/team/members/{bob.pk}/role/", {"role": "owner"})
    assert response.status_code == 403
    bob.refresh_from_db()
    assert bob.role == Role.MEMBER
    response = member_client.post(f"/settings/team/members/{alice.pk}/role/", {"role": "member"})
    assert response.status_code == 403
    alice.refresh_from_db()
    assert alice.role == Role.OWNER


def test_member_cannot_remove_others(tenant, member_client: Client):
    alice = membership(tenant.org, tenant.owner)
    assert member_client.post(f"/settings/team/members/{alice.pk}/remove/").status_code == 403
    assert Membership.objects.filter(pk=alice.pk).exists()


def test_owner_changes_role_and_it_is_audited(tenant, owner_client: Client):
    bob = membership(tenant.org, tenant.member)
    assert (
        owner_client.post(f"/settings/team/members/{bob.pk}/role/", {"role": "admin"}).status_code
        == 302
    )
    bob.refresh_from_db()
    assert bob.role == Role.ADMIN
    event = AuditEvent.objects.get(action="membership.role_changed")
    assert event.metadata == {"from": "member", "to": "admin"}
    assert event.actor == tenant.owner


def test_invalid_role_is_400(tenant, owner_client: Client):
    bob = membership(tenant.org, tenant.member)
    assert (
        owner_client.post(f"/settings/team/members/{bob.pk}/role/", {"role": "emperor"}).status_code
        == 400
    )


def test_last_owner_cannot_leave_or_be_demoted(tenant, owner_client: Client):
    alice = membership(tenant.org, tenant.owner)
    response = owner_client.post("/settings/team/leave/")
    assert response.status_code == 400
    assert b"last owner" in response.content
    assert Membership.objects.filter(pk=alice.pk).exists()
    response = owner_client.post(f"/settings/team/members/{alice.pk}/role/", {"role": "member"})
    assert response.status_code == 400
    alice.refresh_from_db()
    assert alice.role == Role.OWNER


def test_member_can_leave(tenant, member_client: Client):
    assert member_client.post("/settings/team/leave/").status_code == 302
    assert not Membership.objects.filter(organization=tenant.org, user=tenant.member).exists()
    assert AuditEvent.objects.filter(action="membership.left").exists()


def test_owner_removes_member_and_demotion_applies_on_next_request(
    tenant, owner_client: Client, member_client: Client
):
    bob = membership(tenant.org, tenant.member)
    services.membership_change_role(membership=bob, actor=tenant.owner, role=Role.ADMIN)
    assert _invite(member_client, "x@acme.test").status_code == 302  # admin may invite
    services.membership_change_role(membership=bob, actor=tenant.owner, role=Role.MEMBER)
    assert _invite(member_client, "y@acme.test").status_code == 403  # next request sees demotion
    assert owner_client.post(f"/settings/team/members/{bob.pk}/remove/").status_code == 302
    assert not Membership.objects.filter(pk=bob.pk).exists()


def test_outsider_gets_404_for_another_orgs_members_and_invitations(
    tenant, owner_client: Client, outsider_client: Client
):
    _invite(owner_client, "kim@acme.test")
    invitation = Invitation.objects.get(email="kim@acme.test")
    bob = membership(tenant.org, tenant.member)
    assert (
        outsider_client.post(
            f"/settings/team/members/{bob.pk}/role/", {"role": "owner"}
        ).status_code
        == 404
    )
    assert outsider_client.post(f"/settings/team/members/{bob.pk}/remove/").status_code == 404
    assert (
        outsider_client.post(f"/settings/team/invitations/{invitation.pk}/revoke/").status_code
        == 404
    )
    page = outsider_client.get("/settings/team/")
    assert b"bob@acme.test" not in page.content
    assert b"kim@acme.test" not in page.content
    bob.refresh_from_db()
    assert bob.role == Role.MEMBER


def test_user_in_two_orgs_switches_current_org(tenant, owner_client: Client):
    from tests.factories import MembershipFactory

    MembershipFactory(organization=tenant.outsider_org, user=tenant.owner, role=Role.MEMBER)
    response = owner_client.post("/organizations/switch/", {"organization": tenant.outsider_org.pk})
    assert response.status_code == 302
    page = owner_client.get("/settings/team/")
    assert b"charlie@globex.test" in page.content
    assert b"bob@acme.test" not in page.content


def test_cannot_switch_into_an_org_you_do_not_belong_to(tenant, member_client: Client):
    member_client.post("/organizations/switch/", {"organization": tenant.outsider_org.pk})
    page = member_client.get("/settings/team/")
    assert b"charlie@globex.test" not in page.content
    assert b"alice@acme.test" in page.content


def test_create_new_organisation(tenant, member_client: Client):
    assert member_client.post("/organizations/new/", {"name": ""}).status_code == 400
    assert member_client.post("/organizations/new/", {"name": "Side Project"}).status_code == 302
    page = member_client.get("/settings/team/")
    assert b"Side Project" in page.content


def test_seat_limit_refuses_invitation_with_clear_message(
    tenant, owner_client: Client, monkeypatch
):
    monkeypatch.setattr(services, "organization_seat_limit", lambda *, organization: 2)
    response = _invite(owner_client, "over@acme.test")
    assert response.status_code == 400
    assert b"Your plan allows 2 members" in response.content
    assert not Invitation.objects.exists()


def test_team_page_query_count_is_bounded(
    tenant, owner_client: Client, django_assert_max_num_queries
):
    for i in range(5):
        services.invitation_create(
            organization=tenant.org, actor=tenant.owner, email=f"p{i}@acme.test"
        )
    with django_assert_max_num_queries(14):
        assert owner_client.get("/settings/team/").status_code == 200
