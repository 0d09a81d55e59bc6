"""API token lifecycle: created once and shown once, stored as prefix + hash, revoked
immediately, expiry, creator leaving, plan downgrade, scope, last-used bookkeeping, and
the /settings/api-tokens/ page for owners, members and outsiders."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from accounts.models import ApiToken, AuditEvent, Membership, Role
from accounts.services import membership_change_role, membership_remove
from crewbuilder.api.tokens import api_token_authenticate, api_token_create, api_token_revoke
from tests.api.conftest import ApiClient, assign_plan, error_of
from tests.factories import MembershipFactory, UserFactory

USAGE = "/api/v1/usage/"
PAGE = "/settings/api-tokens/"


# --- creation and storage -------------------------------------------------------------


def test_created_token_has_prefix_and_only_its_hash_is_stored(api):
    raw = api.owner_raw
    row = api.owner_token
    assert raw.startswith("cb_") and len(raw) > 40
    assert raw[3:15] == row.prefix
    assert row.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    stored = ApiToken.objects.filter(pk=row.pk).values().get()
    assert all(raw not in str(value) for value in stored.values())
    secret_part = raw[15:]
    assert all(secret_part not in str(value) for value in stored.values())


def test_token_authenticates_as_its_creator_in_its_organisation(api):
    token = api_token_authenticate(raw=api.owner_raw)
    assert token is not None
    assert token.organization == api.tenant.org
    assert token.created_by == api.tenant.owner
    assert token.creator_role == Role.OWNER


@pytest.mark.parametrize(
    "raw",
    ["", "cb_", "cb_short", "xx_0123456789abcdefghijklmnopqrstuvwxyz", "cb_" + "0" * 60],
)
def test_malformed_or_unknown_tokens_do_not_authenticate(api, raw):
    assert api_token_authenticate(raw=raw) is None


def test_right_prefix_with_wrong_secret_is_rejected(api):
    forged = api.owner_raw[:15] + "A" * (len(api.owner_raw) - 15)
    assert api_token_authenticate(raw=forged) is None
    response = ApiClient(forged).get(USAGE)
    assert response.status_code == 401
    assert error_of(response)["code"] == "invalid_token"


def test_token_in_query_string_is_not_accepted(api):
    response = ApiClient().get(USAGE, {"token": api.owner_raw, "access_token": api.owner_raw})
    assert response.status_code == 401


def test_non_bearer_authorization_is_rejected(api):
    response = ApiClient(headers={"Authorization": f"Token {api.owner_raw}"}).get(USAGE)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_member_cannot_create_tokens(api):
    with pytest.raises(PermissionDenied):
        api_token_create(organization=api.tenant.org, actor=api.tenant.member, name="x")


def test_token_name_scope_and_expiry_are_validated(api):
    with pytest.raises(ValidationError) as exc:
        api_token_create(
            organization=api.tenant.org,
            actor=api.tenant.owner,
            name=" ",
            scope="admin",
            expires_at=timezone.now() - timedelta(days=1),
        )
    assert set(exc.value.message_dict) == {"name", "scope", "expires_at"}


def test_create_and_revoke_are_audited_without_the_token(api):
    api_token_revoke(token=api.owner_token, actor=api.tenant.owner)
    events = AuditEvent.objects.filter(
        organization=api.tenant.org, action__startswith="api_token."
    ).values_list("action", "metadata", "target_label")
    actions = [action for action, _, _ in events]
    assert "api_token.created" in actions and "api_token.revoked" in actions
    assert all(api.owner_raw not in str(event) for event in events)


# --- the token stops working ------------------------------------------------------------


def test_revoked_token_stops_working_on_the_next_request(api):
    client = api.owner
    assert client.get(USAGE).status_code == 200
    api_token_revoke(token=api.owner_token, actor=api.tenant.owner)
    response = client.get(USAGE)
    assert response.status_code == 401
    assert error_of(response)["code"] == "invalid_token"


def test_expired_token_stops_working(api):
    token, raw = api_token_create(
        organization=api.tenant.org,
        actor=api.tenant.owner,
        name="short-lived",
        expires_at=timezone.now() + timedelta(hours=1),
    )
    assert ApiClient(raw).get(USAGE).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        assert ApiClient(raw).get(USAGE).status_code == 401


def test_token_stops_when_its_creator_leaves_the_organisation(api, tenant):
    admin = UserFactory(email="dana@acme.test")
    MembershipFactory(organization=tenant.org, user=admin, role=Role.ADMIN)
    token, raw = api_token_create(organization=tenant.org, actor=admin, name="Dana's")
    assert ApiClient(raw).get(USAGE).status_code == 200

    membership_remove(
        membership=Membership.objects.get(organization=tenant.org, user=admin), actor=tenant.owner
    )

    assert ApiClient(raw).get(USAGE).status_code == 401
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert AuditEvent.objects.filter(
        action="api_token.revoked",
        target_id=str(token.pk),
        metadata__reason="creator left the organisation",
        actor=None,
    ).exists()
    # alice's own tokens are untouched
    assert api.owner.get(USAGE).status_code == 200


def test_token_without_its_creators_membership_is_rejected_even_if_not_revoked(api, tenant):
    admin = UserFactory(email="erin@acme.test")
    MembershipFactory(organization=tenant.org, user=admin, role=Role.ADMIN)
    _, raw = api_token_create(organization=tenant.org, actor=admin, name="Erin's")
    # a membership row deleted behind the services' back (e.g. a bulk admin delete)
    Membership.objects.filter(organization=tenant.org, user=admin).delete()
    assert ApiClient(raw).get(USAGE).status_code == 401


def test_plan_downgrade_gives_403_naming_the_plan_with_api_access(api, tenant):
    assign_plan(tenant.org, "basic")
    response = api.owner.get(USAGE)
    assert response.status_code == 403
    error = error_of(response)
    assert error["code"] == "plan_not_allowed"
    assert "Professional" in error["message"] and "Basic" in error["message"]
    assign_plan(tenant.org, "professional")
    assert api.owner.get(USAGE).status_code == 200


def test_free_organisation_cannot_create_a_token_and_is_told_which_plan_has_it(tenant):
    with pytest.raises(PermissionDenied, match="Professional"):
        api_token_create(organization=tenant.org, actor=tenant.owner, name="x")


def test_read_scope_cannot_write(api):
    response = api.reader.post_json(
        "/api/v1/keys/", {"provider": "openai", "api_key": "sk-" + "a" * 40}
    )
    assert response.status_code == 403
    assert error_of(response)["code"] == "insufficient_scope"
    assert api.reader.get(USAGE).status_code == 200


def test_token_follows_its_creators_current_role(api, tenant):
    admin = UserFactory(email="fay@acme.test")
    MembershipFactory(organization=tenant.org, user=admin, role=Role.ADMIN)
    _, raw = api_token_create(organization=tenant.org, actor=admin, name="Fay's")
    membership_change_role(
        membership=Membership.objects.get(organization=tenant.org, user=admin),
        actor=tenant.owner,
        role=Role.VIEWER,
    )
    response = ApiClient(raw).post_json(
        "/api/v1/keys/", {"provider": "openai", "api_key": "sk-" + "b" * 40}
    )
    assert response.status_code == 403
    assert ApiClient(raw).get(USAGE).status_code == 200


def test_last_used_is_written_at_most_once_a_minute(api, django_assert_num_queries):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        assert api_token_authenticate(raw=api.owner_raw) is not None
        api.owner_token.refresh_from_db()
        assert api.owner_token.last_used_at == start
    with time_machine.travel(start + timedelta(seconds=30), tick=False):
        with django_assert_num_queries(1):  # the lookup only, no UPDATE
            api_token_authenticate(raw=api.owner_raw)
        api.owner_token.refresh_from_db()
        assert api.owner_token.last_used_at == start
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        api_token_authenticate(raw=api.owner_raw)
        api.owner_token.refresh_from_db()
        assert api.owner_token.last_used_at == start + timedelta(seconds=61)


# --- the settings page --------------------------------------------------------------------


def test_page_creates_a_token_and_shows_it_exactly_once(api, owner_client):
    response = owner_client.post(PAGE, {"name": "Zapier", "scope": "read"})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    raw = response.context["new_token"]
    assert raw.startswith("cb_") and raw in response.content.decode()
    token = ApiToken.objects.get(name="Zapier")
    assert token.scope == ApiToken.Scope.READ and token.created_by == api.tenant.owner
    assert ApiClient(raw).get(USAGE).status_code == 200

    page = response.content.decode()
    assert "onclick" not in page and "onsubmit" not in page  # the CSP forbids inline handlers
    assert 'data-copy-target="new-token-value"' in page

    listing = owner_client.get(PAGE).content.decode()
    assert raw not in listing
    assert "Zapier" in listing and f"cb_{token.prefix}" in listing
    assert "alice@acme.test" in listing  # created by


def test_page_sets_an_optional_expiry_date(api, owner_client):
    day = (timezone.now() + timedelta(days=10)).date()
    owner_client.post(PAGE, {"name": "Temp", "scope": "read_write", "expires_on": day.isoformat()})
    token = ApiToken.objects.get(name="Temp")
    assert token.expires_at.date() == day


def test_page_rejects_a_past_expiry_with_a_field_error(api, owner_client):
    response = owner_client.post(PAGE, {"name": "Old", "scope": "read", "expires_on": "2000-01-01"})
    assert response.status_code == 400
    assert "after today" in response.content.decode()
    assert not ApiToken.objects.filter(name="Old").exists()


def test_page_revokes_a_token(api, owner_client):
    response = owner_client.post(f"{PAGE}{api.owner_token.pk}/revoke/")
    assert response.status_code == 302
    assert api.owner.get(USAGE).status_code == 401


def test_member_cannot_see_or_use_the_page(api, member_client):
    assert member_client.get(PAGE).status_code == 403
    assert member_client.post(PAGE, {"name": "x", "scope": "read"}).status_code == 403
    assert member_client.post(f"{PAGE}{api.owner_token.pk}/revoke/").status_code == 403
    assert api.owner.get(USAGE).status_code == 200


def test_outsider_cannot_revoke_another_organisations_token(api, outsider_client):
    assert outsider_client.post(f"{PAGE}{api.owner_token.pk}/revoke/").status_code == 404
    assert api.owner.get(USAGE).status_code == 200


def test_outsider_page_lists_only_their_own_tokens(api, outsider_client):
    body = outsider_client.get(PAGE).content.decode()
    assert "Globex CI" in body
    assert "Dashboard" not in body and api.owner_token.prefix not in body


def test_page_on_a_plan_without_api_names_the_plan_to_upgrade_to(tenant, owner_client):
    response = owner_client.get(PAGE)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Professional" in body and "Create token" not in body
    assert owner_client.post(PAGE, {"name": "x", "scope": "read"}).status_code == 403
