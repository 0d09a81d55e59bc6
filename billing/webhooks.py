"""Stripe webhook events: stored by unique id, handled exactly once.

``stripe_event_receive`` is the one entry point (webhook view, ``billing_reconcile``,
admin "reprocess"). The event row is inserted and locked in the same transaction as the
handler's effects, so a duplicate delivery — even one racing the first on another
connection — waits for the first to commit and then sees it processed: 200, no effect.
A handler failure rolls the effects back, records the error on the row and re-raises so
the view answers 5xx and Stripe retries.

Out-of-order events: subscription state is re-fetched from Stripe when possible (so any
event applies the current truth); from a payload alone, an event older than the state
already applied is ignored (``BillingAccount.subscription_synced_at``).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import Organization
from accounts.services import audit_record
from billing import services
from billing import stripe_gateway as gateway
from billing.models import BillingAccount, Plan, StripeEvent, StripePrice
from billing.signals import guest_credit_purchased

logger = logging.getLogger("crewbuilder.billing")

ENDED_STATUSES = frozenset({"canceled", "incomplete_expired"})
SUBSCRIPTION_EVENTS = frozenset(
    {
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
    }
)


def _ts(value) -> datetime | None:
    return datetime.fromtimestamp(int(value), tz=UTC) if value else None


def _invoice_subscription_id(invoice: dict) -> str:
    sub = invoice.get("subscription")
    if not sub:
        details = (invoice.get("parent") or {}).get("subscription_details") or {}
        sub = details.get("subscription")
    if isinstance(sub, dict):
        sub = sub.get("id")
    return sub or ""


def _subscription_id_of(event: dict) -> str:
    obj = event["data"]["object"]
    etype = event["type"]
    if etype in SUBSCRIPTION_EVENTS:
        return obj.get("id", "")
    if etype.startswith("invoice."):
        return _invoice_subscription_id(obj)
    if etype == "checkout.session.completed" and obj.get("mode") == "subscription":
        sub = obj.get("subscription")
        return sub.get("id", "") if isinstance(sub, dict) else (sub or "")
    return ""


def _payment_intent_id_of(event: dict) -> str:
    obj = event["data"]["object"]
    if not event["type"].startswith("checkout.session.") or obj.get("mode") != "payment":
        return ""
    pi = obj.get("payment_intent")
    return (pi.get("id", "") if isinstance(pi, dict) else pi) or ""


class Unverifiable(Exception):  # noqa: N818 - reads as a state
    """Stripe does not know the object the event is about (404 on re-fetch), or there is
    nothing to re-fetch where money would be granted: the payload alone is not trusted."""


def _prefetch(event: dict) -> dict | None:
    """Current state from Stripe, fetched outside any lock: the subscription for
    subscription/invoice/checkout events, the PaymentIntent for a credits Checkout. None
    when Stripe is not configured (nothing to verify against: development only — production
    refuses a webhook secret without a Stripe key). Raises ``Unverifiable`` when Stripe
    answers 404 or a paid credits Checkout names no PaymentIntent; a network/5xx error
    propagates (the event fails with a 5xx and Stripe retries)."""
    if not gateway.is_configured():
        return None
    sub_id = _subscription_id_of(event)
    pi_id = "" if sub_id else _payment_intent_id_of(event)
    try:
        if sub_id:
            return gateway.subscription_retrieve(sub_id)
        if pi_id:
            return gateway.payment_intent_retrieve(pi_id)
    except gateway.NotFound:
        kind = "subscription" if sub_id else "payment intent"
        raise Unverifiable(f"Stripe does not know the {kind} {sub_id or pi_id}") from None
    obj = event["data"]["object"]
    if (
        event["type"].startswith("checkout.session.")
        and obj.get("mode") == "payment"
        and obj.get("payment_status") == "paid"
    ):
        raise Unverifiable("a paid Checkout Session without a payment intent to verify")
    return None


UNVERIFIED_PREFIX = "unverified: "


def _event_row(event: dict, *, status: str, error: str = "") -> tuple[StripeEvent, bool]:
    """The event's stored row and whether this call created it (with ``status`` and
    ``error``; a row that exists is returned as it is)."""
    return StripeEvent.objects.get_or_create(
        event_id=event["id"],
        defaults={
            "type": event.get("type", "")[:100],
            "stripe_created": _ts(event.get("created")) or timezone.now(),
            "livemode": bool(event.get("livemode")),
            "payload": event,
            "status": status,
            "error": error,
        },
    )


def _park_unverified(event: dict, reason: str) -> str:
    """Keep an event whose object Stripe does not know as failed, for an operator, without
    applying anything from its payload; audit it (once per event). The webhook answers 200
    so Stripe stops retrying; "Reprocess failed events" / ``billing_reconcile`` try again."""
    note = f"{UNVERIFIED_PREFIX}{reason}; nothing was applied from the payload"[:2000]
    with transaction.atomic():
        row, created = _event_row(event, status=StripeEvent.Status.FAILED, error=note)
        row = StripeEvent.objects.select_for_update().get(pk=row.pk)
        if row.status in (StripeEvent.Status.PROCESSED, StripeEvent.Status.IGNORED):
            return "duplicate"
        first_time = created or not row.error.startswith(UNVERIFIED_PREFIX)
        if not created:
            StripeEvent.objects.filter(pk=row.pk).update(
                status=StripeEvent.Status.FAILED,
                error=note,
                attempts=F("attempts") + 1,
                processed_at=timezone.now(),
            )
        if first_time:
            audit_record(
                organization=_organization_named_by(event),
                actor=None,
                action="billing.webhook_unverified",
                target=None,
                metadata={
                    "event_id": event["id"],
                    "type": event.get("type", ""),
                    "reason": reason,
                },
            )
    logger.warning(
        "stripe event not applied: its object is unknown to Stripe",
        extra={"event_id": event["id"], "type": event.get("type"), "reason": reason},
    )
    return "unverified"


def _organization_named_by(event: dict) -> Organization | None:
    """The organisation an event claims to be about (for the audit row only)."""
    obj = event["data"]["object"]
    customer = obj.get("customer")
    customer_id = customer.get("id") if isinstance(customer, dict) else customer
    if isinstance(customer_id, str) and customer_id:
        account = (
            BillingAccount.objects.select_related("organization")
            .filter(stripe_customer_id=customer_id)
            .first()
        )
        if account is not None:
            return account.organization
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    org_uuid = obj.get("client_reference_id") or metadata.get("organization_uuid")
    if isinstance(org_uuid, str) and org_uuid:
        try:
            return Organization.objects.filter(uuid=org_uuid).first()
        except (ValueError, ValidationError):
            return None
    return None


def stripe_event_receive(*, event: dict) -> str:
    """Store and handle one verified event. Returns the outcome ("processed", "ignored",
    "duplicate", or "unverified" when Stripe does not know the event's object — parked as
    failed, nothing applied); raises on a real failure after recording it."""
    event_id = event["id"]
    done = (StripeEvent.Status.PROCESSED, StripeEvent.Status.IGNORED)
    if StripeEvent.objects.filter(event_id=event_id, status__in=done).exists():
        return "duplicate"
    try:
        try:
            fresh = _prefetch(event)
        except Unverifiable as exc:
            return _park_unverified(event, str(exc))
        with transaction.atomic():
            row, created = _event_row(event, status=StripeEvent.Status.RECEIVED)
            row = StripeEvent.objects.select_for_update().get(pk=row.pk)
            if row.status in done:
                return "duplicate"
            status, note = _dispatch(event, fresh)
            row.status = status
            row.error = note
            row.processed_at = timezone.now()
            if not created:
                row.attempts = F("attempts") + 1
            row.save(update_fields=["status", "error", "processed_at", "attempts"])
            return status
    except Exception as exc:
        _record_failure(event, exc)
        raise


def _record_failure(event: dict, exc: Exception) -> None:
    message = f"{type(exc).__name__}: {getattr(exc, 'message', '') or exc}"[:2000]
    with transaction.atomic():
        row, created = _event_row(event, status=StripeEvent.Status.FAILED, error=message)
        if not created and row.status not in (
            StripeEvent.Status.PROCESSED,
            StripeEvent.Status.IGNORED,
        ):
            StripeEvent.objects.filter(pk=row.pk).update(
                status=StripeEvent.Status.FAILED, error=message, attempts=F("attempts") + 1
            )
    logger.error("stripe event failed", extra={"event_id": event["id"], "type": event.get("type")})


def _dispatch(event: dict, fresh: dict | None) -> tuple[str, str]:
    handler = HANDLERS.get(event.get("type", ""))
    if handler is None:
        return StripeEvent.Status.IGNORED, "event type not handled"
    return handler(event, fresh)


# --- helpers -----------------------------------------------------------------------------


def _account_for(*, customer_id: str | None, org_uuid: str | None) -> BillingAccount | None:
    """Lock the billing account by Stripe customer id, or by our organisation uuid."""
    account = None
    if customer_id:
        account = (
            BillingAccount.objects.select_for_update()
            .filter(stripe_customer_id=customer_id)
            .first()
        )
    if account is None and org_uuid:
        org = Organization.objects.filter(uuid=org_uuid).first()
        if org is not None:
            services.billing_account_for(org)
            account = BillingAccount.objects.select_for_update().get(organization=org)
            if customer_id and not account.stripe_customer_id:
                account.stripe_customer_id = customer_id
                account.save(update_fields=["stripe_customer_id"])
    return account


def _plan_for_subscription(sub: dict) -> Plan | None:
    items = ((sub.get("items") or {}).get("data")) or []
    for item in items:
        price = item.get("price") or item.get("plan") or {}
        lookup = price.get("lookup_key")
        if not lookup and price.get("id"):
            lookup = (
                StripePrice.objects.filter(price_id=price["id"])
                .values_list("lookup_key", flat=True)
                .first()
            )
        if lookup:
            plan = Plan.objects.filter(stripe_lookup_key=lookup).first()
            if plan is not None:
                return plan
    slug = (sub.get("metadata") or {}).get("plan")
    return Plan.objects.filter(slug=slug).first() if slug else None


def _period_of(sub: dict) -> tuple[datetime | None, datetime | None]:
    start, end = sub.get("current_period_start"), sub.get("current_period_end")
    if not start:
        items = ((sub.get("items") or {}).get("data")) or [{}]
        start, end = items[0].get("current_period_start"), items[0].get("current_period_end")
    return _ts(start), _ts(end)


def _apply_subscription(sub: dict, *, event_created: datetime, refetched: bool) -> tuple[str, str]:
    customer = sub.get("customer")
    customer_id = customer.get("id") if isinstance(customer, dict) else customer
    account = _account_for(
        customer_id=customer_id, org_uuid=(sub.get("metadata") or {}).get("organization_uuid")
    )
    if account is None:
        return StripeEvent.Status.IGNORED, "unknown customer"
    if (
        not refetched
        and account.subscription_synced_at is not None
        and event_created < account.subscription_synced_at
    ):
        return StripeEvent.Status.IGNORED, "older than the state already applied"
    status = sub.get("status", "")
    sub_id = sub.get("id", "")
    current = account.stripe_subscription_id
    if current and current != sub_id and status in ENDED_STATUSES:
        return StripeEvent.Status.IGNORED, "an earlier subscription ended"
    old_plan = account.plan.slug if account.plan is not None else "free"
    account.stripe_subscription_id = sub_id
    account.subscription_status = status
    account.cancel_at_period_end = bool(sub.get("cancel_at_period_end"))
    if status in ENDED_STATUSES:
        account.plan = None
        account.plan_source = BillingAccount.PlanSource.FREE
        account.current_period_start = account.current_period_end = None
    elif status != "incomplete":
        plan = _plan_for_subscription(sub)
        if plan is not None:
            account.plan = plan
        account.plan_source = BillingAccount.PlanSource.STRIPE
        account.current_period_start, account.current_period_end = _period_of(sub)
    synced = max(event_created, account.subscription_synced_at or event_created)
    account.subscription_synced_at = synced
    account.updated_at = timezone.now()
    account.save()
    new_plan = account.plan.slug if account.plan is not None else "free"
    if new_plan != old_plan:
        audit_record(
            organization=account.organization,
            actor=None,
            action="billing.plan_changed",
            target=account.organization,
            metadata={"from": old_plan, "to": new_plan, "subscription_status": status},
        )
    return StripeEvent.Status.PROCESSED, f"subscription {status}"


# --- handlers ----------------------------------------------------------------------------


def _on_subscription(event: dict, fresh: dict | None) -> tuple[str, str]:
    sub = fresh or event["data"]["object"]
    return _apply_subscription(
        sub, event_created=_ts(event.get("created")) or timezone.now(), refetched=bool(fresh)
    )


def _on_checkout_completed(event: dict, fresh: dict | None) -> tuple[str, str]:
    session = event["data"]["object"]
    metadata = session.get("metadata") or {}
    org_uuid = session.get("client_reference_id") or metadata.get("organization_uuid")
    account = _account_for(customer_id=session.get("customer"), org_uuid=org_uuid)
    if account is None:
        return StripeEvent.Status.IGNORED, "unknown organisation"
    if session.get("mode") == "payment":
        if session.get("payment_status") != "paid":
            return StripeEvent.Status.IGNORED, "payment not settled yet"
        if fresh is not None and fresh.get("status") != "succeeded":
            return StripeEvent.Status.IGNORED, f"payment intent {fresh.get('status')}"
        quantity = int(metadata.get("credits") or 0)
        if quantity <= 0:
            return StripeEvent.Status.IGNORED, "not a credits purchase"
        payment_intent = session.get("payment_intent")
        if isinstance(payment_intent, dict):
            payment_intent = payment_intent.get("id")
        purchase = services.credits_purchase_record(
            organization=account.organization,
            checkout_session_id=session["id"],
            payment_intent_id=payment_intent,
            quantity=quantity,
            amount_cents=int(session.get("amount_total") or 0),
            currency=session.get("currency") or "usd",
        )
        note = f"{quantity} credit(s)" if purchase else "already credited"
        if metadata.get("guest_pass"):
            note += "; " + _start_guest_generation(account.organization)
        return StripeEvent.Status.PROCESSED, note
    if session.get("mode") == "subscription":
        if fresh is not None:
            return _apply_subscription(
                fresh, event_created=_ts(event.get("created")) or timezone.now(), refetched=True
            )
        # Without a re-fetch the subscription events carry the state; remember the id.
        sub_id = _subscription_id_of(event)
        if sub_id and not account.stripe_subscription_id:
            account.stripe_subscription_id = sub_id
            account.save(update_fields=["stripe_subscription_id"])
        return StripeEvent.Status.PROCESSED, "subscription linked"
    return StripeEvent.Status.IGNORED, f"mode {session.get('mode')}"


def _start_guest_generation(organization) -> str:
    notes = [
        str(note)
        for _receiver, note in guest_credit_purchased.send(
            sender=guest_credit_purchased, organization=organization
        )
        if note
    ]
    return "; ".join(notes) or "guest generation not started: nothing starts it"


def _on_invoice(event: dict, fresh: dict | None) -> tuple[str, str]:
    invoice = event["data"]["object"]
    if fresh is not None:
        return _apply_subscription(
            fresh, event_created=_ts(event.get("created")) or timezone.now(), refetched=True
        )
    sub_id = _invoice_subscription_id(invoice)
    account = _account_for(customer_id=invoice.get("customer"), org_uuid=None)
    if account is None or not sub_id or account.stripe_subscription_id != sub_id:
        return StripeEvent.Status.IGNORED, "not the current subscription"
    created = _ts(event.get("created")) or timezone.now()
    if account.subscription_synced_at is not None and created < account.subscription_synced_at:
        return StripeEvent.Status.IGNORED, "older than the state already applied"
    paid = event["type"] == "invoice.paid"
    account.subscription_status = "active" if paid else "past_due"
    account.subscription_synced_at = created
    account.save(update_fields=["subscription_status", "subscription_synced_at"])
    return StripeEvent.Status.PROCESSED, account.subscription_status


def _on_charge_refunded(event: dict, fresh: dict | None) -> tuple[str, str]:
    charge = event["data"]["object"]
    payment_intent = charge.get("payment_intent")
    if isinstance(payment_intent, dict):
        payment_intent = payment_intent.get("id")
    if not payment_intent:
        return StripeEvent.Status.IGNORED, "no payment intent"
    purchase = services.credits_refund_record(
        payment_intent_id=payment_intent,
        amount_refunded=int(charge.get("amount_refunded") or 0),
        amount=int(charge.get("amount") or 0),
    )
    if purchase is None:
        return StripeEvent.Status.IGNORED, "not a credits purchase"
    return StripeEvent.Status.PROCESSED, f"{purchase.credits_refunded} credit(s) refunded"


HANDLERS = {
    "checkout.session.completed": _on_checkout_completed,
    "checkout.session.async_payment_succeeded": _on_checkout_completed,
    "customer.subscription.created": _on_subscription,
    "customer.subscription.updated": _on_subscription,
    "customer.subscription.deleted": _on_subscription,
    "invoice.paid": _on_invoice,
    "invoice.payment_failed": _on_invoice,
    "charge.refunded": _on_charge_refunded,
}


def stripe_events_reconcile(*, since: datetime) -> dict[str, int]:
    """Replay recent events (``billing_reconcile``): events Stripe has that we never
    stored or that failed are handled now; processed ones are skipped by their id."""
    counts: dict[str, int] = {
        "seen": 0,
        "processed": 0,
        "ignored": 0,
        "duplicate": 0,
        "failed": 0,
        "unverified": 0,
    }
    events = (
        gateway.events_list(created_gte=int(since.timestamp())) if gateway.is_configured() else []
    )
    seen = {e["id"] for e in events}
    stored_failed = StripeEvent.objects.filter(status=StripeEvent.Status.FAILED).exclude(
        event_id__in=seen
    )
    for event in [*events, *(row.payload for row in stored_failed)]:
        counts["seen"] += 1
        try:
            outcome = stripe_event_receive(event=event)
        except Exception:  # noqa: BLE001 - recorded on the event row; keep replaying the rest
            counts["failed"] += 1
            continue
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts
