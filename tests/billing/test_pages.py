from __future__ import annotations

import uuid

import pytest
from django.test import Client

from accounts.models import AuditEvent, Invitation, Role
from billing import services
from billing.models import BillingAccount, DailyUsage, Plan
from tests.billing.conftest import give_plan
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _use(org, n: int) -> None:
    for _ in range(n):
        services.charge_reserve(organization=org, generation_id=uuid.uuid4(), key_source="platform")


def test_owner_sees_plan_usage_credits_and_an_svg_chart(plans, tenant, owner_client: Client):
    give_plan(tenant.org, "professional")
    _use(tenant.org, 15)
    services.credits_grant(organization=tenant.org, actor=None, quantity=2)
    page = owner_client.get("/settings/billing/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Usage this month: <strong>15/50</strong> generations" in html
    assert "Professional" in html
    assert "You have <strong>2</strong> credits" in html
    assert "<svg" in html and "15 CrewBuilder AI generations" in html
    assert '<script src="http' not in html  # no CDN


def test_member_sees_usage_but_no_billing_controls(plans, tenant, member_client: Client, settings):
    settings.STRIPE_SECRET_KEY = "sk_test_configured"
    give_plan(tenant.org, "basic")
    html = member_client.get("/settings/billing/").content.decode()
    assert "Usage this month: <strong>0/10</strong>" in html
    assert "Only an owner or a billing manager can change the plan." in html
    assert "Buy credits" not in html


def test_owner_with_stripe_sees_subscribe_and_buy_buttons(
    plans, tenant, owner_client: Client, settings
):
    settings.STRIPE_SECRET_KEY = "sk_test_configured"
    html = owner_client.get("/settings/billing/").content.decode()
    assert "Buy credits" in html
    assert "Switch to Professional" in html


def test_outsider_sees_only_their_own_organisation(plans, tenant, outsider_client: Client):
    give_plan(tenant.org, "professional")
    _use(tenant.org, 7)
    html = outsider_client.get("/settings/billing/").content.decode()
    assert "Globex" in html and "Acme" not in html
    assert "Usage this month: <strong>0/0</strong>" in html


def test_anonymous_is_sent_to_sign_in(plans, client: Client):
    response = client.get("/settings/billing/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_billing_page_query_count_is_bounded(
    plans, tenant, owner_client: Client, django_assert_max_num_queries
):
    give_plan(tenant.org, "professional")
    _use(tenant.org, 3)
    for i in range(5):
        services.credits_grant(organization=tenant.org, actor=None, quantity=1 + i)
    with django_assert_max_num_queries(16):
        assert owner_client.get("/settings/billing/").status_code == 200


def test_past_due_banner(plans, tenant, owner_client: Client):
    give_plan(tenant.org, "basic")
    BillingAccount.objects.filter(organization=tenant.org).update(
        plan_source="stripe", subscription_status="past_due"
    )
    assert b"Your last payment failed" in owner_client.get("/settings/billing/").content


def test_pricing_is_read_from_the_database(plans, client: Client, settings):
    settings.STRIPE_SECRET_KEY = ""
    Plan.objects.filter(slug="basic").update(name="Starter", price_cents=4900)
    html = client.get("/pricing/").content.decode()
    assert "Starter" in html and "$49" in html
    assert "Online payment is not configured" in html
    assert "Subscribe to" not in html


def test_pricing_shows_subscribe_buttons_when_stripe_is_configured(
    plans, tenant, owner_client: Client, settings
):
    settings.STRIPE_SECRET_KEY = "sk_test_configured"
    html = owner_client.get("/pricing/").content.decode()
    assert 'action="/settings/billing/checkout/"' in html
    assert "Subscribe to Professional" in html and "Subscribe to Basic" in html
    assert "Subscribe to Enterprise" not in html  # custom plan: contact us
    anon = Client().get("/pricing/").content.decode()
    assert "Subscribe to Basic" in anon and "/accounts/signup/" in anon


# --- seats -------------------------------------------------------------------------------------


def _invite(client: Client, email: str):
    return client.post("/settings/team/", {"email": email, "role": "member"})


def test_free_plan_allows_one_member(plans, tenant, outsider_client: Client):
    response = _invite(outsider_client, "dave@globex.test")
    assert response.status_code == 400
    assert b"Your plan allows 1 member" in response.content
    assert not Invitation.objects.exists()


def test_professional_allows_ten_members_including_pending_invitations(
    plans, tenant, owner_client: Client
):
    give_plan(tenant.org, "professional")
    for i in range(8):  # alice + bob + 8 pending = 10
        assert _invite(owner_client, f"p{i}@acme.test").status_code == 302
    response = _invite(owner_client, "eleventh@acme.test")
    assert response.status_code == 400
    assert b"Your plan allows 10 members" in response.content


def test_operator_seat_override_wins_over_the_plan(plans, tenant, owner_client: Client):
    give_plan(tenant.org, "basic")
    assert _invite(owner_client, "x@acme.test").status_code == 400
    BillingAccount.objects.filter(organization=tenant.org).update(max_members_override=3)
    assert _invite(owner_client, "x@acme.test").status_code == 302


def test_enterprise_has_unlimited_seats(plans, tenant, owner_client: Client):
    give_plan(tenant.org, "enterprise")
    for i in range(12):
        assert _invite(owner_client, f"e{i}@acme.test").status_code == 302


# --- admin -------------------------------------------------------------------------------------


@pytest.fixture
def staff_client(db) -> Client:
    admin = UserFactory(email="ops@crewbuilder.test", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)
    return client


def test_operator_assigns_a_plan_in_the_admin_and_it_is_audited(
    plans, tenant, staff_client: Client
):
    account = BillingAccount.objects.get(organization=tenant.org)  # opened with the org
    response = staff_client.post(
        f"/admin/billing/billingaccount/{account.pk}/change/",
        {
            "plan": plans["enterprise"].pk,
            "plan_source": "manual",
            "comped_generations": 0,
        },
    )
    assert response.status_code == 302, response.content[:2000]
    account.refresh_from_db()
    assert (account.plan.slug, account.plan_source) == ("enterprise", "manual")
    assert AuditEvent.objects.filter(
        action="billing.plan_assigned", organization=tenant.org
    ).exists()


def test_admin_lists_flagged_accounts(plans, tenant, staff_client: Client, settings):
    from django.utils import timezone

    settings.BILLING_ANOMALY_MIN_COUNT = 5
    DailyUsage.objects.create(organization=tenant.org, day=timezone.now().date(), count=30)
    services.usage_anomaly_scan()
    page = staff_client.get("/admin/billing/billingaccount/?anomaly=yes")
    assert page.status_code == 200
    assert b"Acme" in page.content
    assert staff_client.get("/admin/billing/stripeevent/").status_code == 200


def test_billing_manager_may_manage_billing_and_viewer_may_only_look(plans, tenant, settings):
    from tests.factories import MembershipFactory

    settings.STRIPE_SECRET_KEY = "sk_test_configured"
    manager = UserFactory(email="bm@acme.test")
    viewer = UserFactory(email="viewer@acme.test")
    MembershipFactory(organization=tenant.org, user=manager, role=Role.BILLING_MANAGER)
    MembershipFactory(organization=tenant.org, user=viewer, role=Role.VIEWER)
    assert "Buy credits" in tenant.client_for(manager).get("/settings/billing/").content.decode()
    viewer_client = tenant.client_for(viewer)
    html = viewer_client.get("/settings/billing/").content.decode()
    assert "Usage this month" in html and "Buy credits" not in html
    assert viewer_client.post("/settings/billing/credits/", {"quantity": 1}).status_code == 403


def test_admin_action_grants_a_credit_with_an_audit_row(plans, tenant, staff_client: Client):
    account = services.billing_account_for(tenant.org)
    response = staff_client.post(
        "/admin/billing/billingaccount/",
        {
            "action": "grant_credits",
            "_selected_action": [account.pk],
            "apply": "1",
            "quantity": 1,
            "reason": "goodwill",
        },
    )
    assert response.status_code == 302
    from billing import selectors

    assert selectors.credits_balance(tenant.org) == 1
    assert AuditEvent.objects.filter(
        action="billing.credits_granted", organization=tenant.org
    ).exists()


def test_hourly_anomaly_scan_is_scheduled_and_runs(plans, tenant, settings):
    from django.utils import timezone

    from billing.tasks import usage_anomaly_scan_task

    schedule = settings.CELERY_BEAT_SCHEDULE["billing-usage-anomaly-scan"]
    assert schedule["task"] == usage_anomaly_scan_task.name
    settings.BILLING_ANOMALY_MIN_COUNT = 5
    DailyUsage.objects.create(organization=tenant.org, day=timezone.now().date(), count=50)
    assert usage_anomaly_scan_task.apply().get() == 1


def test_usage_chart_is_plain_svg_with_escaped_labels():
    from datetime import date

    from crewbuilder.reporting.charts import daily_usage_svg

    svg = str(
        daily_usage_svg([(date(2026, 3, 1), 2), (date(2026, 3, 2), 0), (date(2026, 3, 3), 5)])
    )
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count("<rect") == 3
    assert "7 CrewBuilder AI generations from 2026-03-01 to 2026-03-03; busiest day 5" in svg
    assert "<script" not in svg and "http://www.w3.org/2000/svg" in svg
    empty = str(daily_usage_svg([]))
    assert "<rect" not in empty and empty.endswith("</svg>")
