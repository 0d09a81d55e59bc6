"""Every call to Stripe goes through this module (the only one importing ``stripe``).

Writes go through ``_write``: the operation and its idempotency key are stored (committed)
before the first attempt, and a retry of the same logical operation after a crash or a
network failure reuses that key, so Stripe never performs it twice. Reads return plain
dicts so the rest of the app never handles SDK objects.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import stripe
from django.conf import settings
from django.utils import timezone

from billing.models import StripeOperation
from crewbuilder.errors import RETRY_AFTER_UNAVAILABLE, ApplicationError

logger = logging.getLogger("crewbuilder.billing")

WEBHOOK_TOLERANCE_SECONDS = 300
# Stripe keeps idempotency keys for at least 24 hours; only reuse a key well inside that.
IDEMPOTENCY_KEY_REUSE = timedelta(hours=23)


class GatewayError(ApplicationError):
    """Stripe refused or could not be reached. ``message`` is safe to show;
    ``stripe_status`` is Stripe's HTTP status (None when it could not be reached)."""

    status = 503
    code = "payment_provider_unavailable"
    retry_after = RETRY_AFTER_UNAVAILABLE

    def __init__(self, message: str, *, retryable: bool = False, stripe_status: int | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.stripe_status = stripe_status


class NotFound(GatewayError):
    pass


class SignatureInvalid(Exception):
    pass


class MalformedEvent(Exception):
    """A correctly signed webhook body that is not a Stripe event object."""


def is_configured() -> bool:
    return bool(settings.STRIPE_SECRET_KEY)


def _client() -> stripe.StripeClient:
    if not is_configured():
        raise GatewayError("Stripe is not configured.")
    base = {"api": settings.STRIPE_API_BASE} if settings.STRIPE_API_BASE else None
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY,
        base_addresses=base,
        max_network_retries=settings.STRIPE_MAX_NETWORK_RETRIES,
    )


def _plain(obj: Any) -> dict:
    """An SDK object as a plain JSON-compatible dict."""
    return json.loads(str(obj)) if not isinstance(obj, dict) else obj


def _translate(exc: stripe.StripeError) -> GatewayError:
    status = getattr(exc, "http_status", None)
    retryable = isinstance(exc, stripe.APIConnectionError | stripe.RateLimitError) or (
        status is not None and status >= 500
    )
    # user_message is Stripe's safe text; never echo the request or key.
    message = getattr(exc, "user_message", None) or type(exc).__name__
    cls = NotFound if status == 404 else GatewayError
    return cls(f"Stripe: {message}", retryable=retryable, stripe_status=status)


def _write(
    *, kind: str, scope: str, organization=None, call: Callable[[dict], Any], reuse: bool = True
) -> dict:
    """Run one Stripe write with a stored idempotency key.

    ``scope`` names the logical operation (e.g. ``customer:<org uuid>``). When ``reuse`` is
    set, a recent unfinished or retryable-failed operation with the same scope lends its key.
    """
    now = timezone.now()
    op = None
    if reuse:
        op = (
            StripeOperation.objects.filter(scope=scope, created_at__gte=now - IDEMPOTENCY_KEY_REUSE)
            .filter(
                status__in=[StripeOperation.Status.PENDING, StripeOperation.Status.FAILED],
            )
            .exclude(status=StripeOperation.Status.FAILED, retryable=False)
            .order_by("-created_at")
            .first()
        )
    if op is None:
        op = StripeOperation.objects.create(kind=kind, scope=scope, organization=organization)
    StripeOperation.objects.filter(pk=op.pk).update(
        attempts=op.attempts + 1, status=StripeOperation.Status.PENDING, updated_at=now
    )
    try:
        result = _plain(call({"idempotency_key": op.idempotency_key}))
    except stripe.StripeError as exc:
        error = _translate(exc)
        StripeOperation.objects.filter(pk=op.pk).update(
            status=StripeOperation.Status.FAILED,
            error=error.message[:255],
            retryable=error.retryable,
            updated_at=timezone.now(),
        )
        logger.warning("stripe write failed", extra={"kind": kind, "status": error.stripe_status})
        raise error from None
    StripeOperation.objects.filter(pk=op.pk).update(
        status=StripeOperation.Status.SUCCEEDED,
        stripe_id=str(result.get("id", ""))[:255],
        error="",
        updated_at=timezone.now(),
    )
    return result


def _read(call: Callable[[], Any]) -> dict:
    try:
        return _plain(call())
    except stripe.StripeError as exc:
        raise _translate(exc) from None


# --- customers and subscriptions -------------------------------------------------------


def customer_create(*, organization, email: str) -> dict:
    params = {
        "name": organization.name[:200],
        "email": email,
        "metadata": {"organization_uuid": str(organization.uuid)},
    }
    return _write(
        kind="customer.create",
        scope=f"customer:{organization.uuid}",
        organization=organization,
        call=lambda opts: _client().v1.customers.create(params=params, options=opts),
    )


def subscription_retrieve(subscription_id: str) -> dict:
    return _read(lambda: _client().v1.subscriptions.retrieve(subscription_id))


def subscription_cancel(*, subscription_id: str, organization=None) -> dict:
    return _write(
        kind="subscription.cancel",
        scope=f"subscription_cancel:{subscription_id}",
        organization=organization,
        call=lambda opts: _client().v1.subscriptions.cancel(subscription_id, options=opts),
    )


def payment_intent_retrieve(payment_intent_id: str) -> dict:
    return _read(lambda: _client().v1.payment_intents.retrieve(payment_intent_id))


def events_list(*, created_gte: int, limit: int = 100) -> list[dict]:
    """Recent events (for ``billing_reconcile``), oldest first."""
    client = _client()
    events: list[dict] = []
    params: dict = {"created": {"gte": created_gte}, "limit": limit}
    while True:
        page = _read(lambda p=params: client.v1.events.list(params=p))
        events.extend(page.get("data", []))
        if not page.get("has_more") or not page.get("data"):
            break
        params = {**params, "starting_after": page["data"][-1]["id"]}
    return sorted(events, key=lambda e: (e.get("created", 0), e.get("id", "")))


# --- Checkout and the Customer Portal (thin: Stripe hosts the pages) --------------------


def checkout_session_create(
    *,
    organization,
    customer_id: str | None,
    mode: str,
    price_id: str,
    quantity: int,
    success_url: str,
    cancel_url: str,
    metadata: dict[str, str],
) -> dict:
    params: dict = {
        "mode": mode,
        "client_reference_id": str(organization.uuid),
        "line_items": [{"price": price_id, "quantity": quantity}],
        "success_url": success_url,
        "cancel_url": cancel_url,
        "metadata": metadata,
    }
    if customer_id:
        params["customer"] = customer_id
    if mode == "subscription":
        params["subscription_data"] = {"metadata": metadata}
    else:
        params["payment_intent_data"] = {"metadata": metadata}
    # Each click is its own Checkout Session; the key still guards the SDK's own retries.
    return _write(
        kind=f"checkout.{mode}",
        scope=f"checkout:{organization.uuid}",
        organization=organization,
        reuse=False,
        call=lambda opts: _client().v1.checkout.sessions.create(params=params, options=opts),
    )


def portal_session_create(*, organization, customer_id: str, return_url: str) -> dict:
    params = {"customer": customer_id, "return_url": return_url}
    return _write(
        kind="portal.create",
        scope=f"portal:{organization.uuid}",
        organization=organization,
        reuse=False,
        call=lambda opts: _client().v1.billing_portal.sessions.create(params=params, options=opts),
    )


# --- Products and Prices (billing_sync) ---------------------------------------------------


def prices_by_lookup_keys(lookup_keys: list[str]) -> dict[str, dict]:
    page = _read(
        lambda: _client().v1.prices.list(
            params={"lookup_keys": lookup_keys, "active": True, "limit": 100}
        )
    )
    return {p["lookup_key"]: p for p in page.get("data", []) if p.get("lookup_key")}


def product_create(*, name: str, key: str) -> dict:
    params = {"name": name, "metadata": {"crewbuilder_key": key}}
    return _write(
        kind="product.create",
        scope=f"product:{key}:{name}",
        call=lambda opts: _client().v1.products.create(params=params, options=opts),
    )


def price_create(
    *, product_id: str, lookup_key: str, unit_amount: int, currency: str, recurring: bool
) -> dict:
    params: dict = {
        "product": product_id,
        "lookup_key": lookup_key,
        "unit_amount": unit_amount,
        "currency": currency,
        # Moves the lookup key from an older Price when the amount changed.
        "transfer_lookup_key": True,
    }
    if recurring:
        params["recurring"] = {"interval": "month"}
    return _write(
        kind="price.create",
        scope=f"price:{lookup_key}:{unit_amount}:{currency}",
        call=lambda opts: _client().v1.prices.create(params=params, options=opts),
    )


# --- webhooks ---------------------------------------------------------------------------


def _signature_timestamp(header: str) -> int | None:
    """The ``t=`` of a Stripe-Signature header (the first one, as Stripe's SDK reads it)."""
    for item in header.split(","):
        name, _, value = item.strip().partition("=")
        if name == "t":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def webhook_event_construct(*, payload: bytes, signature: str | None, secret: str) -> dict:
    """Verify the Stripe-Signature header (HMAC-SHA256) and parse the event.

    There is no way to skip verification: an empty secret is refused. The timestamp must be
    within ``WEBHOOK_TOLERANCE_SECONDS`` of now on *both* sides (the SDK only refuses old
    ones; a signed delivery dated in the future could otherwise be replayed until then).
    A validly signed body that is not an event object (``[]``, a string, an event without
    ``data.object``) raises ``MalformedEvent``."""
    if not secret:
        raise SignatureInvalid("webhook secret is not configured")
    try:
        stripe.WebhookSignature.verify_header(
            payload, signature or "", secret, tolerance=WEBHOOK_TOLERANCE_SECONDS
        )
    except stripe.SignatureVerificationError as exc:
        raise SignatureInvalid("bad signature") from exc
    except ValueError as exc:  # not UTF-8
        raise SignatureInvalid("malformed payload") from exc
    timestamp = _signature_timestamp(signature or "")
    if timestamp is None or timestamp > timezone.now().timestamp() + WEBHOOK_TOLERANCE_SECONDS:
        raise SignatureInvalid("timestamp outside the tolerance")
    try:
        event = json.loads(payload)
    except (ValueError, RecursionError) as exc:
        raise MalformedEvent("the body is not JSON") from exc
    if not (
        isinstance(event, dict)
        and isinstance(event.get("id"), str)
        and event["id"]
        and isinstance(event.get("type"), str)
        and isinstance(event.get("data"), dict)
        and isinstance(event["data"].get("object"), dict)
    ):
        raise MalformedEvent("the body is not a Stripe event")
    return event
