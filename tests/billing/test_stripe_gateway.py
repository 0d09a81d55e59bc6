"""The Stripe seam against real HTTP: localstripe for customers, subscriptions and
payment intents; the fake server (tests/billing/fake_stripe.py) for Checkout, the
Customer Portal and Prices, which localstripe does not implement."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request

import pytest
from django.core.management import call_command
from django.test import Client

from accounts.models import AuditEvent
from billing import checkout, selectors, services
from billing import stripe_gateway as gateway
from billing.models import BillingAccount, Plan, StripeOperation, StripePrice
from tests.billing.conftest import deliver, event

pytestmark = pytest.mark.django_db

PRO = "crewbuilder_professional_monthly"


def _ls(base: str, path: str, params: dict | None = None, method: str = "POST") -> dict:
    """Set up localstripe state with plain HTTP (tests do not import stripe)."""
    data = None
    if params is not None:
        data = urllib.parse.urlencode(params).encode()
    req = urllib.request.Request(  # noqa: S310 - loopback test server
        base + path,
        data=data,
        method=method,
        headers={"Authorization": "Bearer sk_test_localstripe"},
    )
    with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310 - loopback test server
        return json.loads(resp.read())


def _paying_customer(base: str, customer_id: str) -> str:
    pm = _ls(
        base,
        "/v1/payment_methods",
        {
            "type": "card",
            "card[number]": "4242424242424242",
            "card[exp_month]": "12",
            "card[exp_year]": "2030",
            "card[cvc]": "123",
        },
    )
    _ls(base, f"/v1/payment_methods/{pm['id']}/attach", {"customer": customer_id})
    _ls(
        base, f"/v1/customers/{customer_id}", {"invoice_settings[default_payment_method]": pm["id"]}
    )
    return pm["id"]


def _pro_plan_at_localstripe(base: str) -> str:
    plan_id = f"plan_pro_{int(time.time() * 1000)}"
    product = _ls(base, "/v1/products", {"name": "CrewBuilder Professional"})
    _ls(
        base,
        "/v1/plans",
        {
            "id": plan_id,
            "product": product["id"],
            "amount": "29900",
            "currency": "usd",
            "interval": "month",
        },
    )
    StripePrice.objects.create(lookup_key=PRO, price_id=plan_id, unit_amount=29900, recurring=True)
    return plan_id


# --- localstripe: customers, subscriptions, payment intents ---------------------------------


def test_customer_is_created_once_with_a_stored_idempotency_key(plans, tenant, localstripe):
    account = checkout.billing_customer_ensure(organization=tenant.org, actor=tenant.owner)
    assert account.stripe_customer_id.startswith("cus_")
    customer = _ls(localstripe, f"/v1/customers/{account.stripe_customer_id}", method="GET")
    assert customer["metadata"]["organization_uuid"] == str(tenant.org.uuid)
    op = StripeOperation.objects.get(kind="customer.create")
    assert op.status == "succeeded" and op.idempotency_key.startswith("cb-")
    assert op.stripe_id == account.stripe_customer_id
    checkout.billing_customer_ensure(organization=tenant.org, actor=tenant.owner)
    assert StripeOperation.objects.count() == 1


def test_subscription_event_applies_the_refetched_state_not_the_stale_payload(
    plans, tenant, localstripe
):
    account = checkout.billing_customer_ensure(organization=tenant.org, actor=tenant.owner)
    _paying_customer(localstripe, account.stripe_customer_id)
    plan_id = _pro_plan_at_localstripe(localstripe)
    sub = _ls(
        localstripe,
        "/v1/subscriptions",
        {"customer": account.stripe_customer_id, "items[0][plan]": plan_id},
    )
    assert sub["status"] == "active"
    # The payload is stale (Stripe sent "incomplete" first); the re-fetch says active.
    stale = {
        "id": sub["id"],
        "object": "subscription",
        "customer": account.stripe_customer_id,
        "status": "incomplete",
    }
    assert deliver(event("customer.subscription.created", stale)).status_code == 200
    ent = selectors.entitlements_for(tenant.org)
    assert (ent.plan_slug, ent.subscription_status) == ("professional", "active")
    account.refresh_from_db()
    assert int(account.current_period_start.timestamp()) == sub["current_period_start"]
    # Cancelled at Stripe; an old "active" event arriving late cannot resurrect the plan.
    _ls(localstripe, f"/v1/subscriptions/{sub['id']}", method="DELETE")
    late = {**stale, "status": "active"}
    deliver(event("customer.subscription.updated", late, created=int(time.time()) - 600))
    assert selectors.entitlements_for(tenant.org).plan_slug == "free"


def test_organisation_deletion_cancels_the_subscription_at_stripe(plans, tenant, localstripe):
    account = checkout.billing_customer_ensure(organization=tenant.org, actor=tenant.owner)
    _paying_customer(localstripe, account.stripe_customer_id)
    plan_id = _pro_plan_at_localstripe(localstripe)
    sub = _ls(
        localstripe,
        "/v1/subscriptions",
        {"customer": account.stripe_customer_id, "items[0][plan]": plan_id},
    )
    deliver(
        event(
            "customer.subscription.created",
            {"id": sub["id"], "customer": account.stripe_customer_id},
        )
    )
    assert selectors.entitlements_for(tenant.org).plan_slug == "professional"
    services.subscription_cancel_for_deletion(organization=tenant.org, actor=tenant.owner)
    assert _ls(localstripe, f"/v1/subscriptions/{sub['id']}", method="GET")["status"] == "canceled"
    assert selectors.entitlements_for(tenant.org).plan_slug == "free"
    assert AuditEvent.objects.filter(action="billing.subscription_canceled").exists()
    op = StripeOperation.objects.get(kind="subscription.cancel")
    assert op.status == "succeeded"
    # a second call (retry of the deletion job) is a no-op
    services.subscription_cancel_for_deletion(organization=tenant.org, actor=tenant.owner)
    assert StripeOperation.objects.filter(kind="subscription.cancel").count() == 1


def test_subscription_cancel_for_deletion_is_a_noop_when_billing_is_off(plans, tenant, settings):
    settings.STRIPE_SECRET_KEY = ""
    BillingAccount.objects.filter(organization=tenant.org).update(
        stripe_subscription_id="sub_x", subscription_status="active"
    )
    services.subscription_cancel_for_deletion(organization=tenant.org, actor=tenant.owner)
    assert not StripeOperation.objects.exists()


def test_credits_are_granted_only_for_a_succeeded_payment_intent(plans, tenant, localstripe):
    account = checkout.billing_customer_ensure(organization=tenant.org, actor=tenant.owner)
    pm = _paying_customer(localstripe, account.stripe_customer_id)
    paid = _ls(
        localstripe,
        "/v1/payment_intents",
        {
            "amount": "1000",
            "currency": "usd",
            "customer": account.stripe_customer_id,
            "payment_method": pm,
            "confirm": "true",
        },
    )
    unpaid = _ls(
        localstripe,
        "/v1/payment_intents",
        {"amount": "500", "currency": "usd", "customer": account.stripe_customer_id},
    )
    assert paid["status"] == "succeeded" and unpaid["status"] != "succeeded"

    def session(sid: str, pi: str, credits: int) -> dict:
        return {
            "id": sid,
            "mode": "payment",
            "payment_status": "paid",
            "payment_intent": pi,
            "customer": account.stripe_customer_id,
            "client_reference_id": str(tenant.org.uuid),
            "amount_total": 500 * credits,
            "currency": "usd",
            "metadata": {"credits": str(credits)},
        }

    deliver(event("checkout.session.completed", session("cs_1", paid["id"], 2)))
    deliver(event("checkout.session.completed", session("cs_2", unpaid["id"], 1)))
    assert selectors.credits_balance(tenant.org) == 2


# --- fake server: Checkout, portal, prices ----------------------------------------------------


def _synced(fake) -> None:
    call_command("billing_sync")


def test_billing_sync_creates_products_and_prices_by_lookup_key_once(plans, fake_stripe):
    call_command("billing_sync")
    keys = set(StripePrice.objects.values_list("lookup_key", flat=True))
    assert keys == {"crewbuilder_basic_monthly", PRO, "crewbuilder_generation_credit"}
    created = fake_stripe.posts("/v1/prices")
    assert len(created) == 3
    pro = next(r for r in created if r.params["lookup_key"] == PRO)
    assert (pro.params["unit_amount"], pro.params["recurring[interval]"]) == ("29900", "month")
    credit = next(r for r in created if r.params["lookup_key"] == "crewbuilder_generation_credit")
    assert credit.params["unit_amount"] == "500" and "recurring[interval]" not in credit.params
    assert all(
        r.headers.get("Idempotency-Key") for r in fake_stripe.posts("/v1/products") + created
    )
    call_command("billing_sync")
    assert len(fake_stripe.posts("/v1/prices")) == 3  # found by lookup key, nothing new
    # an operator changes the price: a new Price takes over the lookup key, same product
    Plan.objects.filter(slug="professional").update(price_cents=31900)
    call_command("billing_sync")
    new = fake_stripe.posts("/v1/prices")[-1]
    assert (new.params["unit_amount"], new.params["transfer_lookup_key"]) == ("31900", "true")
    assert new.params["product"] == pro.params["product"]
    assert StripePrice.objects.get(lookup_key=PRO).unit_amount == 31900


def test_owner_subscribes_through_checkout(plans, tenant, owner_client: Client, fake_stripe):
    _synced(fake_stripe)
    response = owner_client.post("/settings/billing/checkout/", {"plan": "professional"})
    assert response.status_code == 303
    assert response["Location"].startswith("https://checkout.stripe.test/c/pay/cs_test_")
    [req] = fake_stripe.posts("/v1/checkout/sessions")
    assert req.params["mode"] == "subscription"
    assert req.params["line_items[0][price]"] == StripePrice.objects.get(lookup_key=PRO).price_id
    assert req.params["client_reference_id"] == str(tenant.org.uuid)
    assert req.params["subscription_data[metadata][plan]"] == "professional"
    account = BillingAccount.objects.get(organization=tenant.org)
    assert req.params["customer"] == account.stripe_customer_id
    op = StripeOperation.objects.get(kind="checkout.subscription")
    assert req.headers["Idempotency-Key"] == op.idempotency_key
    assert AuditEvent.objects.filter(action="billing.checkout_started", actor=tenant.owner).exists()


def test_member_cannot_start_checkout_or_open_the_portal(
    plans, tenant, member_client: Client, fake_stripe
):
    _synced(fake_stripe)
    before = len(fake_stripe.requests)
    assert member_client.post("/settings/billing/checkout/", {"plan": "basic"}).status_code == 403
    assert member_client.post("/settings/billing/credits/", {"quantity": 1}).status_code == 403
    assert member_client.post("/settings/billing/portal/").status_code == 403
    assert len(fake_stripe.requests) == before


def test_buying_credits_uses_payment_mode_checkout(
    plans, tenant, owner_client: Client, fake_stripe
):
    _synced(fake_stripe)
    response = owner_client.post("/settings/billing/credits/", {"quantity": 3})
    assert response.status_code == 303
    [req] = fake_stripe.posts("/v1/checkout/sessions")
    assert (req.params["mode"], req.params["line_items[0][quantity]"]) == ("payment", "3")
    assert req.params["payment_intent_data[metadata][credits]"] == "3"
    bad = owner_client.post("/settings/billing/credits/", {"quantity": 0})
    assert bad.status_code == 400
    assert b"greater than or equal to 1" in bad.content


def test_portal_redirects_to_stripe(plans, tenant, owner_client: Client, fake_stripe):
    response = owner_client.post("/settings/billing/portal/")
    assert response.status_code == 303
    assert response["Location"].startswith("https://billing.stripe.test/p/session/")
    [req] = fake_stripe.posts("/v1/billing_portal/sessions")
    assert req.params["return_url"].endswith("/settings/billing/")


def test_a_failed_write_is_retried_with_the_same_idempotency_key(plans, tenant, fake_stripe):
    fake_stripe.fail_next(1)
    with pytest.raises(gateway.GatewayError):
        checkout.billing_customer_ensure(organization=tenant.org, actor=tenant.owner)
    op = StripeOperation.objects.get()
    assert (op.status, op.retryable) == ("failed", True)
    account = checkout.billing_customer_ensure(organization=tenant.org, actor=tenant.owner)
    first, second = fake_stripe.posts("/v1/customers")
    assert (
        first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"] == op.idempotency_key
    )
    op.refresh_from_db()
    assert (op.status, op.attempts, op.stripe_id) == ("succeeded", 2, account.stripe_customer_id)


def test_checkout_without_synced_prices_explains_what_to_do(
    plans, tenant, owner_client: Client, fake_stripe
):
    response = owner_client.post("/settings/billing/checkout/", {"plan": "basic"})
    assert response.status_code == 400
    assert b"billing_sync" in response.content


def test_stripe_unreachable_is_a_502_page_not_a_500(
    plans, tenant, owner_client: Client, fake_stripe
):
    _synced(fake_stripe)
    fake_stripe.fail_next(5)
    response = owner_client.post("/settings/billing/checkout/", {"plan": "basic"})
    assert response.status_code == 502
    assert b"Stripe could not be reached" in response.content


def test_unconfigured_billing_says_so_and_calls_nothing(
    plans, tenant, owner_client: Client, settings
):
    settings.STRIPE_SECRET_KEY = ""
    page = owner_client.get("/settings/billing/")
    assert b"Stripe is not configured" in page.content
    response = owner_client.post("/settings/billing/checkout/", {"plan": "basic"})
    assert response.status_code == 400
    assert b"not configured" in response.content
    assert not StripeOperation.objects.exists()


def test_reconcile_replays_events_listed_by_stripe_once(plans, tenant, localstripe):
    account = checkout.billing_customer_ensure(organization=tenant.org, actor=tenant.owner)
    _paying_customer(localstripe, account.stripe_customer_id)
    plan_id = _pro_plan_at_localstripe(localstripe)
    _ls(
        localstripe,
        "/v1/subscriptions",
        {"customer": account.stripe_customer_id, "items[0][plan]": plan_id},
    )
    # No webhook reached us (endpoint down); the reconcile command catches up.
    assert selectors.entitlements_for(tenant.org).plan_slug == "free"
    call_command("billing_reconcile", "--hours", "1")
    assert selectors.entitlements_for(tenant.org).plan_slug == "professional"
    from billing.models import StripeEvent

    stored = StripeEvent.objects.get(type="customer.subscription.created", status="processed")
    processed = StripeEvent.objects.filter(status="processed").count()
    call_command("billing_reconcile", "--hours", "1")
    assert StripeEvent.objects.filter(status="processed").count() == processed
    stored.refresh_from_db()
    assert stored.attempts == 1


def test_a_retried_deletion_after_stripe_already_cancelled_still_completes(
    plans, tenant, fake_stripe
):
    BillingAccount.objects.filter(organization=tenant.org).update(
        plan=plans["professional"],
        plan_source="stripe",
        stripe_customer_id="cus_del",
        stripe_subscription_id="sub_del",
        subscription_status="active",
    )
    # cancelled at Stripe by a first attempt whose database transaction then rolled back
    fake_stripe.subscriptions["sub_del"] = {
        "id": "sub_del",
        "object": "subscription",
        "status": "canceled",
    }
    services.subscription_cancel_for_deletion(organization=tenant.org, actor=tenant.owner)
    assert [r.method for r in fake_stripe.requests] == ["DELETE", "GET"]
    assert selectors.entitlements_for(tenant.org).plan_slug == "free"
    # a subscription that is still live at Stripe but refuses cancellation is an error
    BillingAccount.objects.filter(organization=tenant.org).update(subscription_status="active")
    fake_stripe.subscriptions["sub_del"]["status"] = "active"
    fake_stripe.fail_next(1)
    with pytest.raises(gateway.GatewayError):
        services.subscription_cancel_for_deletion(organization=tenant.org, actor=tenant.owner)
