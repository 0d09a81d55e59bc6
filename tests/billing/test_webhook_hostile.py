"""Issue 12 item 3: hostile Stripe webhook deliveries, with real signatures.

- The timestamp tolerance is two-sided: a delivery dated an hour ahead is refused.
- A validly signed body that is not an event object (``[]``, a string, an event whose
  ``data`` is not an object) is a 400, never a 500.
- An event about an object Stripe does not know (404 on re-fetch from localstripe: an
  unknown PaymentIntent or subscription) is never applied from its payload: no credits, no
  plan. It is parked as failed for an operator, answered 200 so Stripe stops retrying,
  and audited once.
"""

from __future__ import annotations

import json
import time

import pytest
from django.core.management import call_command
from django.test import Client

from accounts.models import AuditEvent
from billing import checkout, selectors
from billing.models import StripeEvent
from tests.billing.conftest import WEBHOOK_SECRET, deliver, event, sign
from tests.billing.test_stripe_gateway import _ls, _paying_customer, _pro_plan_at_localstripe

pytestmark = pytest.mark.django_db

PRO = "crewbuilder_professional_monthly"


def _post_raw(payload: bytes, *, timestamp: int | None = None):
    return Client().post(
        "/billing/webhook/",
        data=payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=sign(payload, WEBHOOK_SECRET, timestamp),
    )


def _credits_session(org, customer_id: str, pi: str | None, credits: int = 3) -> dict:
    return {
        "id": f"cs_test_{int(time.time() * 1000)}",
        "object": "checkout.session",
        "mode": "payment",
        "payment_status": "paid",
        "customer": customer_id,
        "client_reference_id": str(org.uuid),
        "payment_intent": pi,
        "amount_total": 500 * credits,
        "currency": "usd",
        "metadata": {"organization_uuid": str(org.uuid), "credits": str(credits)},
    }


# --- signatures and shape ------------------------------------------------------------------


@pytest.mark.parametrize("offset", [3600, 301])
def test_a_delivery_dated_in_the_future_is_refused(
    plans, tenant, webhook_secret, offset, time_machine
):
    # the clock stands still, so "301 s ahead" is still 301 s ahead when the view checks it
    time_machine.move_to(int(time.time()), tick=False)
    evt = event("checkout.session.completed", _credits_session(tenant.org, "cus_x", "pi_x"))
    response = deliver(evt, timestamp=int(time.time()) + offset)
    assert response.status_code == 400
    assert not StripeEvent.objects.exists()
    assert selectors.credits_balance(tenant.org) == 0


def test_a_delivery_within_the_tolerance_either_side_is_accepted(plans, webhook_secret):
    for offset in (-290, 0, 290):
        evt = event("customer.created", {"id": "cus_1", "object": "customer"})
        assert deliver(evt, timestamp=int(time.time()) + offset).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        b"[]",
        b'"evt_1"',
        b"null",
        b"42",
        b"{}",
        b'{"id": "evt_1", "type": "invoice.paid", "data": []}',
        b'{"id": "evt_1", "type": "invoice.paid", "data": {"object": []}}',
        b'{"id": ["evt_1"], "type": "invoice.paid", "data": {"object": {}}}',
        b'{"id": "evt_1", "type": 7, "data": {"object": {}}}',
        b"[" * 1100 + b"]" * 1100,
        b"\xff\xfe not utf-8",
    ],
)
def test_a_validly_signed_body_that_is_not_an_event_is_a_400(plans, webhook_secret, body):
    response = _post_raw(body)
    assert response.status_code == 400
    assert not StripeEvent.objects.exists()


# --- objects Stripe does not know (localstripe answers 404) --------------------------------


def test_credits_for_an_unknown_payment_intent_are_never_granted(plans, tenant, localstripe):
    account = checkout.billing_customer_ensure(organization=tenant.org, actor=tenant.owner)
    evt = event(
        "checkout.session.completed",
        _credits_session(tenant.org, account.stripe_customer_id, "pi_doesnotexist000"),
    )
    response = deliver(evt)
    assert response.status_code == 200  # Stripe stops retrying
    assert selectors.credits_balance(tenant.org) == 0
    stored = StripeEvent.objects.get(event_id=evt["id"])
    assert stored.status == "failed" and stored.error.startswith("unverified:")
    assert "pi_doesnotexist000" in stored.error
    audit = AuditEvent.objects.get(action="billing.webhook_unverified")
    assert audit.organization == tenant.org
    assert audit.metadata["event_id"] == evt["id"]
    # Stripe (or an attacker replaying it) sends it again: still nothing, audited once.
    assert deliver(evt).status_code == 200
    assert selectors.credits_balance(tenant.org) == 0
    assert AuditEvent.objects.filter(action="billing.webhook_unverified").count() == 1
    # An operator's replay does not apply it either.
    call_command("billing_reconcile", "--hours", "1")
    assert selectors.credits_balance(tenant.org) == 0
    assert StripeEvent.objects.get(event_id=evt["id"]).status == "failed"


def test_a_paid_checkout_without_a_payment_intent_is_not_granted(plans, tenant, localstripe):
    account = checkout.billing_customer_ensure(organization=tenant.org, actor=tenant.owner)
    evt = event(
        "checkout.session.completed", _credits_session(tenant.org, account.stripe_customer_id, None)
    )
    assert deliver(evt).status_code == 200
    assert selectors.credits_balance(tenant.org) == 0
    assert StripeEvent.objects.get(event_id=evt["id"]).status == "failed"


@pytest.mark.parametrize(
    "etype", ["customer.subscription.created", "customer.subscription.updated", "invoice.paid"]
)
def test_an_unknown_subscription_never_turns_a_free_organisation_professional(
    plans, tenant, localstripe, etype
):
    account = checkout.billing_customer_ensure(organization=tenant.org, actor=tenant.owner)
    _pro_plan_at_localstripe(localstripe)
    forged = {
        "id": "sub_doesnotexist000",
        "object": "subscription",
        "customer": account.stripe_customer_id,
        "status": "active",
        "items": {"data": [{"price": {"id": "price_x", "lookup_key": PRO}}]},
        "metadata": {"organization_uuid": str(tenant.org.uuid)},
    }
    if etype == "invoice.paid":
        account.stripe_subscription_id = "sub_doesnotexist000"
        account.subscription_status = "past_due"
        account.save()
        obj = {
            "id": "in_1",
            "object": "invoice",
            "customer": account.stripe_customer_id,
            "subscription": "sub_doesnotexist000",
        }
    else:
        obj = forged
    evt = event(etype, obj)
    assert deliver(evt).status_code == 200
    ent = selectors.entitlements_for(tenant.org)
    assert ent.plan_slug == "free"
    assert ent.subscription_status != "active"
    assert StripeEvent.objects.get(event_id=evt["id"]).status == "failed"
    assert AuditEvent.objects.filter(
        action="billing.webhook_unverified", organization=tenant.org
    ).exists()


def test_known_objects_are_still_applied_from_stripes_answer(plans, tenant, localstripe):
    account = checkout.billing_customer_ensure(organization=tenant.org, actor=tenant.owner)
    pm = _paying_customer(localstripe, account.stripe_customer_id)
    paid = _ls(
        localstripe,
        "/v1/payment_intents",
        {
            "amount": "1500",
            "currency": "usd",
            "customer": account.stripe_customer_id,
            "payment_method": pm,
            "confirm": "true",
        },
    )
    evt = event(
        "checkout.session.completed",
        _credits_session(tenant.org, account.stripe_customer_id, paid["id"]),
    )
    assert deliver(evt).status_code == 200
    assert selectors.credits_balance(tenant.org) == 3
    assert not AuditEvent.objects.filter(action="billing.webhook_unverified").exists()
    assert json.loads(json.dumps(StripeEvent.objects.get().payload))["id"] == evt["id"]
