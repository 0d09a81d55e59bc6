from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection

from billing import selectors, services
from billing.models import BillingAccount, CreditEntry, GenerationCharge, UsageCounter
from tests.billing.conftest import give_plan
from tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db


def _reserve(org, key_source="platform", model_class="standard"):
    return services.charge_reserve(
        organization=org, generation_id=uuid.uuid4(), key_source=key_source, model_class=model_class
    )


def test_own_keys_cost_nothing_and_fallback_is_free(plans):
    org = OrganizationFactory()
    for source in ("one_time", "user", "organization", "stored"):
        assert _reserve(org, source).charged_as == "own_key"
    assert _reserve(org, "fallback").charged_as == "none"
    assert selectors.usage_for(org)["used"] == 0


def test_free_plan_platform_generation_is_402_with_buy_and_upgrade_links(plans):
    org = OrganizationFactory()
    with pytest.raises(services.PaymentRequired) as exc:
        _reserve(org)
    assert exc.value.status == 402
    assert "/settings/billing/" in exc.value.message and "/pricing/" in exc.value.message
    assert exc.value.links == {"buy": services.BUY_URL, "upgrade": services.UPGRADE_URL}
    assert not GenerationCharge.objects.exists()


def test_basic_plan_quota_then_credit_then_402(plans):
    org = OrganizationFactory()
    give_plan(org, "basic")
    services.credits_grant(organization=org, actor=None, quantity=1)
    results = [_reserve(org).charged_as for _ in range(11)]
    assert results == ["quota"] * 10 + ["credit"]
    with pytest.raises(services.PaymentRequired):
        _reserve(org)
    usage = selectors.usage_for(org)
    assert (usage["used"], usage["limit"], usage["credits"]) == (10, 10, 0)
    kinds = list(CreditEntry.objects.filter(organization=org).values_list("kind", "delta"))
    assert sorted(kinds) == sorted([("grant", 1), ("consume", -1)])


def test_reserve_is_idempotent_per_generation(plans):
    org = OrganizationFactory()
    give_plan(org, "basic")
    gid = uuid.uuid4()
    for _ in range(3):
        services.charge_reserve(organization=org, generation_id=gid, key_source="platform")
    assert selectors.usage_for(org)["used"] == 1


def test_failure_releases_quota_exactly_once(plans):
    org = OrganizationFactory()
    give_plan(org, "basic")
    gid = uuid.uuid4()
    services.charge_reserve(organization=org, generation_id=gid, key_source="platform")
    _reserve(org)
    assert selectors.usage_for(org)["used"] == 2
    for _ in range(3):
        services.charge_release(organization=org, generation_id=gid, charged_as="quota")
    assert selectors.usage_for(org)["used"] == 1
    assert GenerationCharge.objects.get(generation_id=gid).status == "released"


def test_failure_gives_the_credit_back_once(plans):
    org = OrganizationFactory()
    services.credits_grant(organization=org, actor=None, quantity=1)
    gid = uuid.uuid4()
    charge = services.charge_reserve(organization=org, generation_id=gid, key_source="platform")
    assert charge.charged_as == "credit"
    assert selectors.credits_balance(org) == 0
    services.charge_release(organization=org, generation_id=gid, charged_as="credit")
    services.charge_release(organization=org, generation_id=gid, charged_as="credit")
    assert selectors.credits_balance(org) == 1
    assert CreditEntry.objects.filter(generation_id=gid, kind="release").count() == 1


def test_commit_is_final_and_a_later_release_gives_nothing_back(plans):
    org = OrganizationFactory()
    give_plan(org, "basic")
    gid = uuid.uuid4()
    services.charge_reserve(organization=org, generation_id=gid, key_source="platform")
    services.charge_commit(organization=org, generation_id=gid, charged_as="quota")
    services.charge_release(organization=org, generation_id=gid, charged_as="quota")
    assert selectors.usage_for(org)["used"] == 1
    assert GenerationCharge.objects.get(generation_id=gid).status == "committed"


def test_advanced_model_needs_professional(plans):
    org = OrganizationFactory()
    give_plan(org, "basic")
    with pytest.raises(services.PlanNotAllowed) as exc:
        _reserve(org, model_class="advanced")
    assert exc.value.status == 403
    assert selectors.usage_for(org)["used"] == 0
    give_plan(org, "professional")
    assert _reserve(org, model_class="advanced").charged_as == "quota"


def test_past_due_subscription_blocks_platform_but_not_own_keys(plans):
    org = OrganizationFactory()
    give_plan(org, "professional")
    BillingAccount.objects.filter(organization=org).update(
        plan_source="stripe", subscription_status="past_due"
    )
    with pytest.raises(services.PaymentRequired) as exc:
        _reserve(org)
    assert "payment failed" in exc.value.message
    assert _reserve(org, "user").charged_as == "own_key"
    assert selectors.entitlements_for(org).past_due is True


def test_enterprise_is_unlimited_and_operator_overrides_apply(plans):
    org = OrganizationFactory()
    give_plan(org, "enterprise")
    for _ in range(60):
        _reserve(org)
    assert selectors.usage_for(org)["limit"] is None
    assert selectors.usage_for(org)["used"] == 60
    BillingAccount.objects.filter(organization=org).update(generations_override=61)
    _reserve(org)
    with pytest.raises(services.PaymentRequired):
        _reserve(org)
    # comped generations add to the period's allowance
    BillingAccount.objects.filter(organization=org).update(comped_generations=1)
    assert selectors.entitlements_for(org).generations_per_period == 62
    assert _reserve(org).charged_as == "quota"


def test_daily_cap_refuses_with_429_and_does_not_touch_quota(plans, settings):
    org = OrganizationFactory()
    give_plan(org, "professional")
    BillingAccount.objects.filter(organization=org).update(daily_cap=2)
    _reserve(org)
    _reserve(org)
    with pytest.raises(services.DailyCapReached) as exc:
        _reserve(org)
    assert exc.value.status == 429
    assert isinstance(exc.value, services.PaymentRequired)
    assert selectors.usage_for(org)["used"] == 2


def test_anomaly_flag_when_a_day_exceeds_the_trailing_average(plans, settings):
    from billing.models import DailyUsage

    settings.BILLING_ANOMALY_FACTOR = 5
    settings.BILLING_ANOMALY_MIN_COUNT = 10
    calm, spiky = OrganizationFactory(), OrganizationFactory()
    today = datetime(2026, 3, 10, tzinfo=UTC).date()
    for org in (calm, spiky):
        for d in range(1, 8):
            DailyUsage.objects.create(organization=org, day=today - timedelta(days=d), count=4)
    DailyUsage.objects.create(organization=calm, day=today, count=12)
    DailyUsage.objects.create(organization=spiky, day=today, count=40)
    assert services.usage_anomaly_scan(day=today) == [spiky.pk]
    account = BillingAccount.objects.get(organization=spiky)
    assert account.anomaly_flagged_at is not None
    assert "40 platform generations" in account.anomaly_note
    assert not BillingAccount.objects.filter(
        organization=calm, anomaly_flagged_at__isnull=False
    ).exists()


def test_calendar_month_rollover_for_operator_plans(plans):
    org = OrganizationFactory()
    give_plan(org, "basic")
    with time_machine.travel(datetime(2026, 1, 31, 23, 59, tzinfo=UTC), tick=False):
        for _ in range(10):
            _reserve(org)
        with pytest.raises(services.PaymentRequired):
            _reserve(org)
        usage = selectors.usage_for(org)
        assert usage["period_start"] == datetime(2026, 1, 1, tzinfo=UTC)
        assert usage["period_end"] == datetime(2026, 2, 1, tzinfo=UTC)
    with time_machine.travel(datetime(2026, 2, 1, 0, 1, tzinfo=UTC), tick=False):
        assert selectors.usage_for(org)["used"] == 0
        assert _reserve(org).charged_as == "quota"
    assert UsageCounter.objects.filter(organization=org).count() == 2


def test_subscription_period_rollover_follows_the_anchor_when_the_renewal_is_late(plans):
    org = OrganizationFactory()
    give_plan(org, "basic")
    BillingAccount.objects.filter(organization=org).update(
        plan_source="stripe",
        subscription_status="active",
        current_period_start=datetime(2026, 1, 15, 12, tzinfo=UTC),
        current_period_end=datetime(2026, 2, 15, 12, tzinfo=UTC),
    )
    with time_machine.travel(datetime(2026, 2, 15, 11, tzinfo=UTC), tick=False):
        for _ in range(10):
            _reserve(org)
        with pytest.raises(services.PaymentRequired):
            _reserve(org)
    # renewal webhook not arrived yet: the next period still starts on the anchor day
    with time_machine.travel(datetime(2026, 2, 15, 13, tzinfo=UTC), tick=False):
        usage = selectors.usage_for(org)
        assert usage["period_start"] == datetime(2026, 2, 15, 12, tzinfo=UTC)
        assert usage["period_end"] == datetime(2026, 3, 15, 12, tzinfo=UTC)
        assert _reserve(org).charged_as == "quota"


def test_release_after_rollover_gives_back_to_the_period_it_was_taken_from(plans):
    org = OrganizationFactory()
    give_plan(org, "basic")
    gid = uuid.uuid4()
    with time_machine.travel(datetime(2026, 1, 31, 23, 59, tzinfo=UTC), tick=False):
        services.charge_reserve(organization=org, generation_id=gid, key_source="platform")
    with time_machine.travel(datetime(2026, 2, 1, 0, 5, tzinfo=UTC), tick=False):
        _reserve(org)
        services.charge_release(organization=org, generation_id=gid, charged_as="quota")
        assert selectors.usage_for(org)["used"] == 1
    jan = UsageCounter.objects.get(organization=org, period_start=datetime(2026, 1, 1, tzinfo=UTC))
    assert jan.used == 0


def test_usage_for_has_the_contract_keys(plans):
    org = OrganizationFactory()
    give_plan(org, "professional")
    usage = selectors.usage_for(org)
    assert set(usage) == {"plan", "period_start", "period_end", "used", "limit", "credits"}
    assert (usage["plan"], usage["limit"], usage["used"], usage["credits"]) == (
        "professional",
        50,
        0,
        0,
    )


# --- concurrency (real Postgres) --------------------------------------------------------


def _race(n: int, fn) -> list:
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = fn()
        except Exception as exc:  # collected and asserted by the test
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return results


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_twenty_concurrent_reservations_with_one_left_exactly_one_succeeds(postgres):
    services.plans_seed()
    org = OrganizationFactory()
    give_plan(org, "basic")
    for _ in range(9):
        _reserve(org)
    results = _race(20, lambda: _reserve(org).charged_as)
    assert results.count("quota") == 1
    assert all(isinstance(r, services.PaymentRequired) for r in results if r != "quota")
    assert selectors.usage_for(org)["used"] == 10
    assert GenerationCharge.objects.filter(organization=org).count() == 10


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_credit_consumption_never_goes_below_zero(postgres):
    services.plans_seed()
    org = OrganizationFactory()
    services.credits_grant(organization=org, actor=None, quantity=3)
    results = _race(12, lambda: _reserve(org).charged_as)
    assert results.count("credit") == 3
    assert selectors.credits_balance(org) == 0


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_releases_give_back_once(postgres):
    services.plans_seed()
    org = OrganizationFactory()
    give_plan(org, "basic")
    gid = uuid.uuid4()
    services.charge_reserve(organization=org, generation_id=gid, key_source="platform")
    _reserve(org)
    _race(
        8, lambda: services.charge_release(organization=org, generation_id=gid, charged_as="quota")
    )
    assert selectors.usage_for(org)["used"] == 1


def test_deleting_an_organisation_removes_its_billing_rows(plans):
    from billing.models import CreditEntry, CreditPurchase

    org = OrganizationFactory()
    give_plan(org, "basic")
    _reserve(org)
    services.credits_purchase_record(
        organization=org,
        checkout_session_id="cs_del",
        payment_intent_id="pi_del",
        quantity=2,
        amount_cents=1000,
        currency="usd",
    )
    services.credits_refund_record(payment_intent_id="pi_del", amount_refunded=500, amount=1000)
    org.delete()  # admin deletion: the ledger must not block the cascade
    assert not CreditEntry.objects.exists() and not CreditPurchase.objects.exists()
    assert not UsageCounter.objects.exists() and not GenerationCharge.objects.exists()
