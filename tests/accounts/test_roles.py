"""The permission matrix, cell by cell, and the same answers through the real team views."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts import services
from accounts.models import Invitation, Membership, Role
from accounts.permissions import MATRIX, Cap, can, can_grant
from tests.conftest import membership
from tests.factories import MembershipFactory, UserFactory

OWN, ADM, BIL, MEM, VIE = Role.OWNER, Role.ADMIN, Role.BILLING_MANAGER, Role.MEMBER, Role.VIEWER

# Written out by hand (not derived from the code under test): capability → roles allowed.
EXPECTED: dict[str, set[str]] = {
    Cap.VIEW: {OWN, ADM, BIL, MEM, VIE},
    Cap.GENERATE: {OWN, ADM, MEM},
    Cap.USE_ORG_KEYS: {OWN, ADM, MEM},
    Cap.MANAGE_ORG_KEYS: {OWN, ADM},
    Cap.MANAGE_MEMBERS: {OWN, ADM},
    Cap.CHANGE_ROLES: {OWN},
    Cap.MANAGE_BILLING: {OWN, BIL},
    Cap.MANAGE_API_TOKENS: {OWN, ADM},
    Cap.MANAGE_BRANDING: {OWN, ADM},
    Cap.VIEW_AUDIT: {OWN, ADM},
    Cap.VIEW_USAGE: {OWN, ADM, BIL},
    Cap.DELETE_ORG: {OWN},
}
ROLES = [OWN, ADM, BIL, MEM, VIE]
CELLS = [(role, cap) for role in ROLES for cap in EXPECTED]


@pytest.mark.parametrize(("role", "cap"), CELLS, ids=[f"{r}-{c}" for r, c in CELLS])
def test_matrix_cell(role: str, cap: str):
    assert can(role, cap) is (role in EXPECTED[cap])


def test_every_capability_and_role_is_covered_by_the_table():
    caps = {v for k, v in vars(Cap).items() if k.isupper()}
    assert caps == set(EXPECTED)
    assert set(MATRIX) == set(Role.values) == set(ROLES)


@pytest.mark.parametrize("cap", sorted(EXPECTED))
def test_no_role_or_unknown_role_can_do_nothing(cap: str):
    assert can(None, cap) is False
    assert can("emperor", cap) is False


GRANTS = {
    # actor → roles it may give by invitation
    OWN: {ADM, BIL, MEM, VIE},
    ADM: {MEM, VIE},
    BIL: set(),
    MEM: set(),
    VIE: set(),
}


@pytest.mark.parametrize(
    ("actor", "role"),
    [(a, r) for a in ROLES for r in ROLES],
    ids=[f"{a}-grants-{r}" for a in ROLES for r in ROLES],
)
def test_grant_cell(actor: str, role: str):
    assert can_grant(actor, role) is (role in GRANTS[actor])


# --- through the real team views -----------------------------------------------------


@pytest.fixture
def people(tenant):
    """One person per role in alice's organisation (alice is the owner, bob a member)."""
    users = {OWN: tenant.owner, MEM: tenant.member}
    for role in (ADM, BIL, VIE):
        user = UserFactory(email=f"{role}@acme.test")
        MembershipFactory(organization=tenant.org, user=user, role=role)
        users[role] = user
    return users


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_team_page_shows_invite_form_only_to_roles_that_manage_members(people, role):
    page = _client(people[role]).get("/settings/team/")
    assert page.status_code == 200
    assert (b"Send invitation" in page.content) is (role in EXPECTED[Cap.MANAGE_MEMBERS])
    # Role selects on the member rows are only for those who may change roles.
    assert (b'aria-label="Role for' in page.content) is (role in EXPECTED[Cap.CHANGE_ROLES])


@pytest.mark.django_db
@pytest.mark.parametrize("actor", ROLES)
@pytest.mark.parametrize("invited_role", [ADM, BIL, MEM, VIE])
def test_invite_through_the_view_by_role(
    people, django_capture_on_commit_callbacks, actor, invited_role
):
    with django_capture_on_commit_callbacks(execute=True):
        response = _client(people[actor]).post(
            "/settings/team/", {"email": "new@acme.test", "role": invited_role}
        )
    created = Invitation.objects.filter(email="new@acme.test", role=invited_role).exists()
    if actor not in EXPECTED[Cap.MANAGE_MEMBERS]:
        assert response.status_code == 403
        assert not created
    elif invited_role in GRANTS[actor]:
        assert response.status_code == 302
        assert created
    else:
        assert response.status_code == 400
        assert b"Only an owner can invite" in response.content
        assert not created


@pytest.mark.django_db
def test_admin_is_offered_only_roles_it_may_grant(people):
    page = _client(people[ADM]).get("/settings/team/").content.decode()
    invite_form = page.split("Invite someone", 1)[1]
    assert 'value="member"' in invite_form and 'value="viewer"' in invite_form
    assert 'value="admin"' not in invite_form and 'value="billing_manager"' not in invite_form


@pytest.mark.django_db
def test_invitation_as_viewer_gives_a_viewer_membership(tenant, owner_client):
    _invitation, token = services.invitation_create(
        organization=tenant.org, actor=tenant.owner, email="vic@acme.test", role=VIE
    )
    vic = UserFactory(email="vic@acme.test")
    assert _client(vic).post(f"/invitations/{token}/").status_code == 302
    assert membership(tenant.org, vic).role == VIE


@pytest.mark.django_db
@pytest.mark.parametrize("actor", ROLES)
def test_change_role_through_the_view_only_for_owners(people, actor):
    target = membership(people[OWN].memberships.first().organization, people[VIE])
    response = _client(people[actor]).post(
        f"/settings/team/members/{target.pk}/role/", {"role": MEM}
    )
    target.refresh_from_db()
    if actor == OWN:
        assert response.status_code == 302
        assert target.role == MEM
    else:
        assert response.status_code == 403
        assert target.role == VIE


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("actor", "target", "allowed"),
    [
        (OWN, ADM, True),
        (OWN, BIL, True),
        (ADM, MEM, True),
        (ADM, VIE, True),
        (ADM, BIL, False),
        (MEM, VIE, False),
        (VIE, MEM, False),
        (BIL, VIE, False),
    ],
)
def test_remove_through_the_view(people, tenant, actor, target, allowed):
    target_m = membership(tenant.org, people[target])
    response = _client(people[actor]).post(f"/settings/team/members/{target_m.pk}/remove/")
    assert response.status_code == (302 if allowed else 403)
    assert Membership.objects.filter(pk=target_m.pk).exists() is (not allowed)


@pytest.mark.django_db
def test_demotion_applies_on_the_very_next_request_of_an_open_session(people, tenant):
    """The admin keeps the same logged-in session; the owner demotes them in between."""
    admin_client = _client(people[ADM])
    assert b"Send invitation" in admin_client.get("/settings/team/").content
    owner_client = _client(people[OWN])
    admin_m = membership(tenant.org, people[ADM])
    assert (
        owner_client.post(f"/settings/team/members/{admin_m.pk}/role/", {"role": VIE}).status_code
        == 302
    )
    page = admin_client.get("/settings/team/")
    assert b"Send invitation" not in page.content
    response = admin_client.post("/settings/team/", {"email": "late@acme.test", "role": MEM})
    assert response.status_code == 403
    assert not Invitation.objects.filter(email="late@acme.test").exists()
