from __future__ import annotations

import json
import threading
import time
import uuid

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client

from billing import selectors, services
from billing.models import BillingAccount, CreditPurchase, StripeEvent
from tests.billing.conftest import deliver, event, sign
from tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db

PRO = "crewbuilder_professional_monthly"
BASIC = "crewbuilder_basic_monthly"


def _customer(org, customer_id: str = "cus_acme") -> BillingAccount:
    account = services.billing_account_for(org)
    account.stripe_customer_id = customer_id
    account.save()
    return account


def _credits_session(org, *, session_id="cs_test_1", pi="pi_1", credits=2, paid=True) -> dict:
    return {
        "id": session_id,
        "object": "checkout.session",
        "mode": "payment",
        "payment_status": "paid" if paid else "unpaid",
        "customer": "cus_acme",
        "client_reference_id": str(org.uuid),
        "payment_intent": pi,
        "amount_total": 500 * credits,
        "currency": "usd",
        "metadata": {"organization_uuid": str(org.uuid), "credits": str(credits)},
    }


def _subscription(*, status="active", lookup=PRO, sub_id="sub_1", start=None, cancel=False) -> dict:
    start = start or int(time.time()) - 3600
    return {
        "id": sub_id,
        "object": "subscription",
        "customer": "cus_acme",
        "status": status,
        "cancel_at_period_end": cancel,
        "metadata": {},
        "items": {
            "data": [
                {
                    "price": {"id": f"price_{lookup}", "lookup_key": lookup},
                    "current_period_start": start,
                    "current_period_end": start + 30 * 86400,
                }
            ]
        },
    }


# --- signature ----------------------------------------------------------------------------


def test_signed_checkout_for_credits_is_credited(plans, webhook_secret):
    org = OrganizationFactory()
    _customer(org)
    response = deliver(event("checkout.session.completed", _credits_session(org)))
    assert response.status_code == 200
    assert selectors.credits_balance(org) == 2
    stored = StripeEvent.objects.get()
    assert stored.status == "processed" and stored.type == "checkout.session.completed"


def test_bad_signature_is_400_and_nothing_is_stored(plans, webhook_secret):
    org = OrganizationFactory()
    response = deliver(
        event("checkout.session.completed", _credits_session(org)), secret="whsec_wrong"
    )
    assert response.status_code == 400
    assert not StripeEvent.objects.exists()
    assert selectors.credits_balance(org) == 0


def test_stale_timestamp_is_400(plans, webhook_secret):
    org = OrganizationFactory()
    old = int(time.time()) - 301
    response = deliver(event("checkout.session.completed", _credits_session(org)), timestamp=old)
    assert response.status_code == 400
    assert selectors.credits_balance(org) == 0


def test_missing_signature_header_is_400(plans, webhook_secret, client: Client):
    payload = json.dumps(event("invoice.paid", {})).encode()
    response = client.post("/billing/webhook/", data=payload, content_type="application/json")
    assert response.status_code == 400


def test_verification_cannot_be_skipped_without_a_secret(plans, settings):
    settings.STRIPE_WEBHOOK_SECRET = ""
    org = OrganizationFactory()
    response = deliver(event("checkout.session.completed", _credits_session(org)), secret="")
    assert response.status_code == 400
    assert selectors.credits_balance(org) == 0


def test_webhook_needs_no_csrf_token_but_only_accepts_post(plans, webhook_secret):
    client = Client(enforce_csrf_checks=True)
    org = OrganizationFactory()
    assert (
        deliver(
            event("checkout.session.completed", _credits_session(org)), client=client
        ).status_code
        == 200
    )
    assert client.get("/billing/webhook/").status_code == 405


# --- exactly once ------------------------------------------------------------------------


def test_duplicate_delivery_is_200_with_no_effect(plans, webhook_secret):
    org = OrganizationFactory()
    evt = event("checkout.session.completed", _credits_session(org))
    assert deliver(evt).status_code == 200
    second = deliver(evt)
    assert second.status_code == 200
    assert second.content == b"duplicate"
    assert selectors.credits_balance(org) == 2
    assert StripeEvent.objects.count() == 1


def test_same_session_in_another_event_is_credited_once(plans, webhook_secret):
    org = OrganizationFactory()
    session = _credits_session(org)
    deliver(event("checkout.session.completed", session))
    deliver(event("checkout.session.async_payment_succeeded", session))
    # a different session reusing the PaymentIntent is not credited again either
    deliver(event("checkout.session.completed", {**session, "id": "cs_test_other"}))
    assert selectors.credits_balance(org) == 2
    assert CreditPurchase.objects.count() == 1


def test_unpaid_checkout_is_not_credited_until_paid(plans, webhook_secret):
    org = OrganizationFactory()
    session = _credits_session(org, paid=False)
    deliver(event("checkout.session.completed", session))
    assert selectors.credits_balance(org) == 0
    deliver(
        event("checkout.session.async_payment_succeeded", {**session, "payment_status": "paid"})
    )
    assert selectors.credits_balance(org) == 2


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_duplicate_deliveries_take_effect_once(postgres, webhook_secret):
    services.plans_seed()
    org = OrganizationFactory()
    evt = event("checkout.session.completed", _credits_session(org, credits=3))
    payload = json.dumps(evt).encode()
    header = sign(payload)
    n = 8
    barrier = threading.Barrier(n)
    codes: list[int] = []

    def post() -> None:
        try:
            barrier.wait()
            response = Client().post(
                "/billing/webhook/",
                data=payload,
                content_type="application/json",
                HTTP_STRIPE_SIGNATURE=header,
            )
            codes.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert codes == [200] * n
    assert selectors.credits_balance(org) == 3
    assert StripeEvent.objects.count() == 1
    assert CreditPurchase.objects.count() == 1


# --- subscriptions -------------------------------------------------------------------------


def test_subscription_events_set_plan_and_period(plans, webhook_secret):
    org = OrganizationFactory()
    _customer(org)
    start = int(time.time()) - 3600
    deliver(event("customer.subscription.created", _subscription(start=start)))
    account = BillingAccount.objects.get(organization=org)
    assert (account.plan.slug, account.plan_source, account.subscription_status) == (
        "professional",
        "stripe",
        "active",
    )
    assert int(account.current_period_start.timestamp()) == start
    usage = selectors.usage_for(org)
    assert usage["period_start"] == account.current_period_start
    assert selectors.entitlements_for(org).max_members == 10


def test_out_of_order_subscription_events_keep_the_newest_state(plans, webhook_secret):
    org = OrganizationFactory()
    _customer(org)
    now = int(time.time())
    newer = event("customer.subscription.updated", _subscription(lookup=PRO), created=now)
    older = event(
        "customer.subscription.created",
        _subscription(status="incomplete", lookup=BASIC),
        created=now - 60,
    )
    assert deliver(newer).status_code == 200
    assert deliver(older).status_code == 200
    account = BillingAccount.objects.get(organization=org)
    assert (account.plan.slug, account.subscription_status) == ("professional", "active")
    assert StripeEvent.objects.get(event_id=older["id"]).status == "ignored"
    deliver(
        event("customer.subscription.deleted", _subscription(status="canceled"), created=now + 60)
    )
    account.refresh_from_db()
    assert account.plan is None and account.plan_source == "free"
    assert selectors.entitlements_for(org).plan_slug == "free"


def test_deletion_of_an_old_subscription_does_not_cancel_the_new_one(plans, webhook_secret):
    org = OrganizationFactory()
    _customer(org)
    now = int(time.time())
    deliver(event("customer.subscription.created", _subscription(sub_id="sub_new"), created=now))
    deliver(
        event(
            "customer.subscription.deleted",
            _subscription(sub_id="sub_old", status="canceled"),
            created=now + 5,
        )
    )
    assert selectors.entitlements_for(org).plan_slug == "professional"


def test_payment_failed_blocks_platform_generations_until_paid(plans, webhook_secret):
    org = OrganizationFactory()
    _customer(org)
    now = int(time.time())
    deliver(event("customer.subscription.created", _subscription(), created=now - 10))
    invoice = {"id": "in_1", "object": "invoice", "customer": "cus_acme", "subscription": "sub_1"}
    deliver(event("invoice.payment_failed", invoice, created=now))
    assert selectors.entitlements_for(org).past_due
    with pytest.raises(services.PaymentRequired):
        services.charge_reserve(organization=org, generation_id=uuid.uuid4(), key_source="platform")
    # newer API shape: the subscription sits under parent.subscription_details
    paid = {
        "id": "in_1",
        "customer": "cus_acme",
        "parent": {"subscription_details": {"subscription": "sub_1"}},
    }
    deliver(event("invoice.paid", paid, created=now + 10))
    assert not selectors.entitlements_for(org).past_due
    charge = services.charge_reserve(
        organization=org, generation_id=uuid.uuid4(), key_source="platform"
    )
    assert charge.charged_as == "quota"


def test_unknown_event_type_is_stored_and_ignored(plans, webhook_secret):
    response = deliver(event("customer.tax_id.created", {"id": "txi_1"}))
    assert response.status_code == 200
    assert StripeEvent.objects.get().status == "ignored"


# --- refunds ---------------------------------------------------------------------------------


def test_refund_takes_back_credits_once_and_partial_refunds_add_up(plans, webhook_secret):
    org = OrganizationFactory()
    deliver(event("checkout.session.completed", _credits_session(org, credits=4, pi="pi_4")))
    assert selectors.credits_balance(org) == 4
    charge = {"id": "ch_1", "object": "charge", "payment_intent": "pi_4", "amount": 2000}
    deliver(event("charge.refunded", {**charge, "amount_refunded": 1000}))
    assert selectors.credits_balance(org) == 2
    # the same cumulative figure in a new event changes nothing
    deliver(event("charge.refunded", {**charge, "amount_refunded": 1000}))
    assert selectors.credits_balance(org) == 2
    deliver(event("charge.refunded", {**charge, "amount_refunded": 2000}))
    assert selectors.credits_balance(org) == 0
    assert CreditPurchase.objects.get().credits_refunded == 4


def test_refund_of_something_else_is_ignored(plans, webhook_secret):
    deliver(
        event(
            "charge.refunded",
            {"id": "ch_2", "payment_intent": "pi_sub", "amount": 9900, "amount_refunded": 9900},
        )
    )
    assert StripeEvent.objects.get().status == "ignored"


# --- failures and replay ---------------------------------------------------------------------


def _closed_port() -> str:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def test_real_failure_is_500_recorded_and_retried_successfully(plans, webhook_secret, settings):
    org = OrganizationFactory()
    _customer(org)
    settings.STRIPE_SECRET_KEY = "sk_test_unreachable"
    settings.STRIPE_API_BASE = _closed_port()  # the re-fetch cannot reach Stripe
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    evt = event("customer.subscription.updated", _subscription())
    response = deliver(evt)
    assert response.status_code == 500
    stored = StripeEvent.objects.get(event_id=evt["id"])
    assert stored.status == "failed" and "GatewayError" in stored.error
    assert selectors.entitlements_for(org).plan_slug == "free"
    # Stripe retries once we are healthy again (here: handled from the payload)
    settings.STRIPE_SECRET_KEY = ""
    assert deliver(evt).status_code == 200
    stored.refresh_from_db()
    assert (stored.status, stored.attempts) == ("processed", 2)
    assert selectors.entitlements_for(org).plan_slug == "professional"


def test_reconcile_replays_failed_events_safely(plans, webhook_secret, settings):
    org = OrganizationFactory()
    _customer(org)
    settings.STRIPE_SECRET_KEY = "sk_test_unreachable"
    settings.STRIPE_API_BASE = _closed_port()
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    deliver(event("customer.subscription.updated", _subscription()))
    deliver(event("checkout.session.completed", _credits_session(org)))
    settings.STRIPE_SECRET_KEY = ""
    call_command("billing_reconcile", "--hours", "1")
    call_command("billing_reconcile", "--hours", "1")
    assert selectors.entitlements_for(org).plan_slug == "professional"
    assert selectors.credits_balance(org) == 2
    assert set(StripeEvent.objects.values_list("status", flat=True)) == {"processed"}


def test_production_refuses_to_start_with_stripe_but_without_the_webhook_secret(tmp_path):
    import os
    import subprocess
    import sys

    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("STRIPE_", "CREWBUILDER_", "DJANGO_"))
    }
    env.update(
        DJANGO_DEBUG="false",
        CREWBUILDER_TESTING="false",
        CREWBUILDER_ENV_FILE=str(tmp_path / "none.env"),
        DJANGO_SECRET_KEY="x" * 50,
        DJANGO_ALLOWED_HOSTS="example.com",
        CREWBUILDER_SITE_URL="https://example.com",
        CREWBUILDER_ENCRYPTION_KEYS="k1:" + "A" * 43 + "=",
        STRIPE_SECRET_KEY="sk_live_dummy",
    )
    code = "import crewbuilder.settings"
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "STRIPE_WEBHOOK_SECRET is required" in result.stderr
    env["STRIPE_WEBHOOK_SECRET"] = "whsec_dummy"
    ok = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert ok.returncode == 0, ok.stderr[-2000:]


def test_webhook_and_reservation_query_counts_are_bounded(
    plans, webhook_secret, django_assert_max_num_queries
):
    org = OrganizationFactory()
    _customer(org)
    evt = event("checkout.session.completed", _credits_session(org))
    with django_assert_max_num_queries(22):
        assert deliver(evt).status_code == 200
    with django_assert_max_num_queries(1):  # a duplicate is one indexed lookup
        assert deliver(evt).content == b"duplicate"
    services.billing_plan_assign(organization=org, plan=plans["basic"], actor=None)
    services.charge_reserve(organization=org, generation_id=uuid.uuid4(), key_source="platform")
    # steady state (this period's counters exist): two lookups, two conditional UPDATEs,
    # one INSERT, plus the savepoint pair
    with django_assert_max_num_queries(7):
        services.charge_reserve(organization=org, generation_id=uuid.uuid4(), key_source="platform")
