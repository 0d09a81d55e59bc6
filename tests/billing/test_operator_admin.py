"""Operators in the admin: every organisation has its billing account from birth, search
finds it by organisation name, and an operator with change permission gives back N
generations or grants N credits (with a reason, audited) through plain forms. A view-only
staff user is refused."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps as global_apps
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from accounts.models import AuditEvent, Organization
from accounts.services import organization_create
from billing import selectors, services
from billing.models import BillingAccount, CreditEntry, UsageCounter
from tests.billing.conftest import give_plan
from tests.factories import OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/billing/billingaccount/"


def _staff(*codenames: str, email: str = "ops@crewbuilder.test") -> Client:
    staff = UserFactory(email=email, is_staff=True)
    for codename in codenames:
        staff.user_permissions.add(Permission.objects.get(codename=codename))
    client = Client()
    client.force_login(staff)
    return client


@pytest.fixture
def operator() -> Client:
    return _staff("view_billingaccount", "change_billingaccount")


@pytest.fixture
def viewer_staff() -> Client:
    return _staff("view_billingaccount", email="readonly@crewbuilder.test")


def _use(org: Organization, n: int) -> None:
    """n CrewBuilder AI generations counted this period, through the quota service."""
    account = selectors.billing_account_of(org)
    start, end = selectors.current_period(account, timezone.now())
    for _ in range(n):
        assert services.quota_reserve(
            organization_id=org.pk, period_start=start, period_end=end, limit=None
        )


def _used(org: Organization) -> int:
    return selectors.usage_for(org)["used"]


def _url(org: Organization, suffix: str = "change/") -> str:
    return f"{CHANGELIST}{BillingAccount.objects.get(organization=org).pk}/{suffix}"


# --- from birth ---------------------------------------------------------------------------


def test_every_way_of_creating_an_organisation_opens_its_billing_account(tenant):
    founder = UserFactory(email="founder@initech.test")
    team = organization_create(name="Initech", owner=founder)
    holding = Organization.objects.create(name="Guest workspace")
    superuser = UserFactory(email="root@crewbuilder.test", is_staff=True, is_superuser=True)
    admin = Client()
    admin.force_login(superuser)
    response = admin.post(
        "/admin/accounts/organization/add/",
        {
            "name": "Added by an operator",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    added = Organization.objects.get(name="Added by an operator")
    for org in (tenant.org, tenant.outsider_org, team, holding, added):
        account = BillingAccount.objects.get(organization=org)
        assert (account.plan_id, account.plan_source, account.credit_balance) == (None, "free", 0)


def test_backfill_migration_opens_missing_accounts_in_batches(monkeypatch):
    migration = importlib.import_module("billing.migrations.0005_billing_accounts_backfill")
    orgs = [OrganizationFactory() for _ in range(5)]
    BillingAccount.objects.filter(organization__in=orgs[:4]).delete()  # made before birth
    kept = BillingAccount.objects.get(organization=orgs[4])
    monkeypatch.setattr(migration, "BATCH", 2)
    migration.open_missing_accounts(global_apps, None)
    assert BillingAccount.objects.filter(organization__in=orgs).count() == 5
    assert BillingAccount.objects.get(organization=orgs[4]).pk == kept.pk  # untouched
    migration.open_missing_accounts(global_apps, None)  # re-running changes nothing
    assert BillingAccount.objects.filter(organization__in=orgs).count() == 5


# --- finding an account -------------------------------------------------------------------


def test_operator_finds_a_billing_account_by_organisation_name(tenant, operator):
    page = operator.get(CHANGELIST, {"q": "acme"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "Acme" in html and "Globex" not in html
    assert "1 result" in html


def test_accounts_are_not_added_by_hand_and_need_no_javascript(tenant, operator):
    assert operator.get(f"{CHANGELIST}add/").status_code == 403
    page = operator.get(_url(tenant.org))
    html = page.content.decode()
    assert page.status_code == 200
    assert "autocomplete" not in html and "select2" not in html
    assert "Give back generations" in html and "Grant credits" in html


def test_operator_changes_the_plan_on_the_change_form_and_it_is_audited(plans, tenant, operator):
    response = operator.post(
        _url(tenant.org),
        {
            "plan": plans["enterprise"].pk,
            "plan_source": "manual",
            "comped_generations": 0,
            "anomaly_flagged_at_0": "",
            "anomaly_flagged_at_1": "",
        },
    )
    assert response.status_code == 302, response.content[:3000]
    assert selectors.entitlements_for(tenant.org).plan_slug == "enterprise"
    assert AuditEvent.objects.filter(
        action="billing.plan_assigned", organization=tenant.org
    ).exists()


# --- give back generations ----------------------------------------------------------------


def test_operator_gives_back_generations_with_a_reason_and_it_is_audited(plans, tenant, operator):
    give_plan(tenant.org, "basic")
    _use(tenant.org, 3)
    form = operator.get(_url(tenant.org, "give-back/"))
    assert form.status_code == 200
    assert "3 of 10 CrewBuilder AI generations" in form.content.decode()

    response = operator.post(
        _url(tenant.org, "give-back/"), {"quantity": 2, "reason": "charged twice on 3 May"}
    )
    assert response.status_code == 302
    assert response["Location"] == _url(tenant.org)
    assert _used(tenant.org) == 1
    event = AuditEvent.objects.get(action="billing.usage_given_back", organization=tenant.org)
    assert event.actor.email == "ops@crewbuilder.test"
    assert event.metadata["quantity"] == 2
    assert event.metadata["reason"] == "charged twice on 3 May"
    assert event.metadata["used_after"] == 1
    assert _used(tenant.outsider_org) == 0  # nobody else's counter moved


def test_giving_back_more_than_was_used_is_refused_and_changes_nothing(plans, tenant, operator):
    _use(tenant.org, 1)
    response = operator.post(_url(tenant.org, "give-back/"), {"quantity": 5, "reason": "oops"})
    assert response.status_code == 400
    assert "Only 1 generation used this period" in response.content.decode()
    assert _used(tenant.org) == 1
    assert not AuditEvent.objects.filter(action="billing.usage_given_back").exists()


@pytest.mark.parametrize(
    "data, message",
    [
        ({"quantity": 1, "reason": ""}, "This field is required."),
        ({"quantity": 0, "reason": "x"}, "greater than or equal to 1"),
        ({"quantity": "two", "reason": "x"}, "Enter a whole number."),
    ],
)
def test_bad_adjustment_input_gets_a_field_error(plans, tenant, operator, data, message):
    _use(tenant.org, 2)
    for suffix in ("give-back/", "grant-credits/"):
        response = operator.post(_url(tenant.org, suffix), data)
        assert response.status_code == 400
        assert message in response.content.decode()
    assert _used(tenant.org) == 2
    assert selectors.credits_balance(tenant.org) == 0


def test_give_back_never_takes_the_counter_below_zero():
    org = OrganizationFactory()
    with pytest.raises(services.BillingError, match="Only 0 generations used"):
        services.usage_give_back(organization=org, quantity=1, reason="x", actor=None)
    assert not UsageCounter.objects.filter(organization=org, used__lt=0).exists()


# --- grant credits ------------------------------------------------------------------------


def test_operator_grants_n_credits_at_once_with_a_reason(plans, tenant, operator):
    response = operator.post(
        _url(tenant.org, "grant-credits/"), {"quantity": 3, "reason": "goodwill, ticket 42"}
    )
    assert response.status_code == 302
    assert selectors.credits_balance(tenant.org) == 3
    entry = CreditEntry.objects.get(organization=tenant.org)
    assert (entry.kind, entry.delta, entry.note) == ("grant", 3, "goodwill, ticket 42")
    event = AuditEvent.objects.get(action="billing.credits_granted", organization=tenant.org)
    assert event.metadata == {"quantity": 3, "note": "goodwill, ticket 42"}
    assert event.actor.email == "ops@crewbuilder.test"


def test_operator_grants_credits_to_several_accounts_from_the_list(plans, tenant, operator):
    ids = [
        BillingAccount.objects.get(organization=tenant.org).pk,
        BillingAccount.objects.get(organization=tenant.outsider_org).pk,
    ]
    confirm = operator.post(CHANGELIST, {"action": "grant_credits", "_selected_action": ids})
    assert confirm.status_code == 200
    assert "Each of these organisations receives the credits" in confirm.content.decode()
    done = operator.post(
        CHANGELIST,
        {
            "action": "grant_credits",
            "_selected_action": ids,
            "apply": "1",
            "quantity": 2,
            "reason": "outage on 4 May",
        },
    )
    assert done.status_code == 302
    assert selectors.credits_balance(tenant.org) == 2
    assert selectors.credits_balance(tenant.outsider_org) == 2


# --- view-only staff ----------------------------------------------------------------------


def test_view_only_staff_can_look_but_not_adjust(plans, tenant, viewer_staff):
    _use(tenant.org, 2)
    assert viewer_staff.get(_url(tenant.org)).status_code == 200
    for suffix in ("give-back/", "grant-credits/"):
        assert viewer_staff.get(_url(tenant.org, suffix)).status_code == 403
        response = viewer_staff.post(_url(tenant.org, suffix), {"quantity": 1, "reason": "x"})
        assert response.status_code == 403
    ids = [BillingAccount.objects.get(organization=tenant.org).pk]
    viewer_staff.post(
        CHANGELIST,
        {
            "action": "grant_credits",
            "_selected_action": ids,
            "apply": "1",
            "quantity": 5,
            "reason": "x",
        },
    )
    assert "grant_credits" not in viewer_staff.get(CHANGELIST).content.decode()
    assert _used(tenant.org) == 2
    assert selectors.credits_balance(tenant.org) == 0
    assert not AuditEvent.objects.filter(
        action__in=["billing.usage_given_back", "billing.credits_granted"]
    ).exists()
