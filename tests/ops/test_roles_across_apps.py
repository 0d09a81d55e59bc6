"""The permission matrix as the whole product applies it: every write page refuses the
roles that lack the capability (403) and nothing is created; read pages stay open."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import ApiToken, Invitation, Organization, OrganizationBranding, Role
from generation.models import Generation
from keys.models import ProviderKey
from tests.factories import MembershipFactory, UserFactory, plan_assign

pytestmark = pytest.mark.django_db

KEY = "sk-proj-" + "a1" * 24

WRITES = {
    "invite": ("/settings/team/", {"email": "z@acme.test", "role": "member"}),
    "org_key": (
        "/settings/api-keys/",
        {"provider": "openai", "scope": "organization", "api_key": KEY},
    ),
    "personal_key": (
        "/settings/api-keys/",
        {"provider": "openai", "scope": "user", "api_key": KEY},
    ),
    "generate": ("/generate/", {"requirement": "x" * 60, "key_choice": "platform"}),
    "api_token": ("/settings/api-tokens/", {"name": "ci", "scope": "read"}),
    "branding": ("/settings/branding/", {"brand_name": "Evil"}),
    "checkout": ("/settings/billing/checkout/", {"plan": "basic"}),
    "delete_org": ("/settings/organization/delete/", {"confirm": "Acme"}),
}
ALLOWED = {
    # role → writes it may attempt (the view then validates the input)
    Role.VIEWER: set(),
    Role.BILLING_MANAGER: {"checkout"},
    Role.MEMBER: {"personal_key", "generate"},
}
READS = ["/settings/team/", "/settings/api-keys/", "/generations/", "/generate/"]


def _rows(org: Organization) -> dict[str, int]:
    return {
        "invitations": Invitation.objects.filter(organization=org).count(),
        "keys": ProviderKey.objects.filter(organization=org).count(),
        "generations": Generation.objects.filter(organization=org).count(),
        "tokens": ApiToken.objects.filter(organization=org).count(),
        "branding": OrganizationBranding.objects.filter(organization=org).count(),
        "orgs": Organization.objects.filter(pk=org.pk).count(),
    }


@pytest.mark.parametrize("role", list(ALLOWED))
@pytest.mark.parametrize("write", list(WRITES))
def test_write_pages_refuse_roles_without_the_capability(tenant, role, write):
    plan_assign(tenant.org, "enterprise")  # the plan allows everything; only the role decides
    user = UserFactory()
    MembershipFactory(organization=tenant.org, user=user, role=role)
    client = Client()
    client.force_login(user)
    before = _rows(tenant.org)
    url, data = WRITES[write]
    response = client.post(url, data)
    if write in ALLOWED[role]:
        assert response.status_code != 403
    else:
        assert response.status_code == 403
        assert _rows(tenant.org) == before


@pytest.mark.parametrize("role", [Role.VIEWER, Role.BILLING_MANAGER])
def test_read_only_roles_can_still_read(tenant, role):
    user = UserFactory()
    MembershipFactory(organization=tenant.org, user=user, role=role)
    client = Client()
    client.force_login(user)
    for url in READS:
        assert client.get(url).status_code == 200, url
