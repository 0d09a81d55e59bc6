from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
import time_machine
from django.test import Client

from accounts import services
from accounts.models import Role
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def _event(org, actor, action, when=None, **metadata):
    if when is None:
        return services.audit_record(
            organization=org, actor=actor, action=action, metadata=metadata
        )
    with time_machine.travel(when, tick=False):
        return services.audit_record(
            organization=org, actor=actor, action=action, metadata=metadata
        )


def _csv(response) -> list[dict]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


@pytest.fixture
def events(tenant):
    _event(tenant.org, tenant.owner, "membership.role_changed", datetime(2026, 3, 1, 9, tzinfo=UTC))
    _event(tenant.org, tenant.member, "key.stored", datetime(2026, 3, 5, 23, 59, tzinfo=UTC))
    _event(tenant.org, tenant.owner, "invitation.created", datetime(2026, 3, 10, 0, 0, tzinfo=UTC))
    _event(
        tenant.outsider_org, tenant.outsider, "globex.secret_plan", datetime(2026, 3, 5, tzinfo=UTC)
    )
    return tenant


def test_owner_sees_the_audit_log(events, owner_client: Client):
    page = owner_client.get("/settings/audit/")
    assert page.status_code == 200
    for action in (b"membership.role_changed", b"key.stored", b"invitation.created"):
        assert action in page.content


@pytest.mark.parametrize(
    ("role", "status"),
    [
        (Role.OWNER, 200),
        (Role.ADMIN, 200),
        (Role.MEMBER, 403),
        (Role.VIEWER, 403),
        (Role.BILLING_MANAGER, 403),
    ],
)
def test_audit_log_is_for_owners_and_admins_only(events, role, status):
    user = UserFactory()
    MembershipFactory(organization=events.org, user=user, role=role)
    client = Client()
    client.force_login(user)
    assert client.get("/settings/audit/").status_code == status
    assert client.get("/settings/audit/export.csv").status_code == status


def test_outsider_sees_nothing_of_another_org(events, outsider_client: Client):
    page = outsider_client.get("/settings/audit/").content
    assert b"globex.secret_plan" in page
    assert b"key.stored" not in page and b"alice@acme.test" not in page
    rows = _csv(outsider_client.get("/settings/audit/export.csv"))
    assert {r["action"] for r in rows} == {"globex.secret_plan"}


def test_filters_by_action_prefix_actor_and_inclusive_dates(events, owner_client: Client):
    def actions(**params):
        return {r["action"] for r in _csv(owner_client.get("/settings/audit/export.csv", params))}

    assert actions(action="membership") == {"membership.role_changed"}
    assert actions(actor="bob@") == {"key.stored"}
    assert actions(since="2026-03-02", until="2026-03-05") == {"key.stored"}  # 23:59 on the 5th
    assert actions(since="2026-03-06") == {"invitation.created"}
    assert actions(until="2026-03-01") == {"membership.role_changed"}
    page = owner_client.get("/settings/audit/", {"actor": "alice", "action": "invitation"})
    assert b"<code>invitation.created</code>" in page.content
    assert b"<code>key.stored</code>" not in page.content


@pytest.mark.parametrize(
    ("params", "field_message"),
    [
        ({"since": "yesterday"}, b"Enter a date as YYYY-MM-DD."),
        ({"until": "2026-13-45"}, b"Enter a date as YYYY-MM-DD."),
        ({"since": "2026-03-10", "until": "2026-03-01"}, b"The end date is before the start date."),
        ({"action": "DROP TABLE;"}, b"Actions look like"),
        ({"actor": "x" * 300}, b"at most 254 characters"),
    ],
)
def test_bad_filter_input_is_400_with_a_field_message(
    events, owner_client: Client, params, field_message
):
    for url in ("/settings/audit/", "/settings/audit/export.csv"):
        response = owner_client.get(url, params)
        assert response.status_code == 400
        assert field_message in response.content
        assert b'class="field-error"' in response.content


def test_pages_of_fifty_keep_the_filters(tenant, owner_client: Client):
    for i in range(60):
        _event(tenant.org, tenant.owner, "bulk.thing", n=i)
    first = owner_client.get("/settings/audit/", {"action": "bulk"})
    assert first.content.count(b"<code>bulk.thing</code>") == 50
    assert b"Page 1 of 2" in first.content
    assert b"action=bulk&amp;page=2" in first.content
    second = owner_client.get("/settings/audit/", {"action": "bulk", "page": 2})
    assert second.content.count(b"<code>bulk.thing</code>") == 10
    # a nonsense page number falls back to a real page rather than erroring
    assert owner_client.get("/settings/audit/", {"page": "zzz"}).status_code == 200


def test_csv_export_streams_all_matching_rows_and_neutralises_formulas(
    tenant, owner_client: Client
):
    for i in range(120):
        _event(tenant.org, tenant.owner, "bulk.thing", n=i)
    _event(tenant.org, tenant.owner, "label.set", **{'=HYPERLINK("http://evil")': "x"})
    response = owner_client.get("/settings/audit/export.csv")
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv"
    assert response["Content-Disposition"].startswith('attachment; filename="audit-')
    rows = _csv(response)
    assert len([r for r in rows if r["action"] == "bulk.thing"]) == 120
    formula = next(r for r in rows if r["action"] == "label.set")
    assert formula["details"].startswith("'=HYPERLINK")
    assert not any(cell.startswith("=") for r in rows for cell in r.values())


def test_audit_metadata_never_shows_a_secret(tenant, owner_client: Client):
    canary = "sk-proj-CANARYauditCANARY1234567890"
    _event(tenant.org, tenant.owner, "key.stored", api_key=canary, note=f"stored {canary}")
    assert canary.encode() not in owner_client.get("/settings/audit/").content
    assert (
        canary
        not in b"".join(owner_client.get("/settings/audit/export.csv").streaming_content).decode()
    )


def test_audit_page_query_count_is_bounded(
    tenant, owner_client: Client, django_assert_max_num_queries
):
    for i in range(30):
        _event(tenant.org, tenant.owner, "bulk.thing", n=i)
    with django_assert_max_num_queries(12):
        assert owner_client.get("/settings/audit/").status_code == 200
