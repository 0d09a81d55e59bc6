"""Outgoing webhook writes: endpoints (create, change, rotate the secret, delete), events
(published from generation's and billing's signals), delivery with retries, resend and
disabling endpoints that keep failing. The rules (docs/webhooks.md) live here only; pages,
the API and Celery tasks call these functions."""

from __future__ import annotations

import http.client
import json
import logging
import random
import threading
from dataclasses import dataclass
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, connections, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.models import Membership, Organization, Role, User
from accounts.permissions import Cap, can
from accounts.services import audit_record, role_of
from billing.selectors import Feature, entitlements_for, plan_refusal
from crewbuilder.metrics import WEBHOOK_DELIVERIES, WEBHOOK_DELIVERY_SECONDS
from crewbuilder.redaction import redact
from crewbuilder.webhooks import signing, transport
from crewbuilder.webhooks.models import (
    EventType,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from keys.services import DecryptionFailed, organization_secret_open, organization_secret_seal

logger = logging.getLogger("crewbuilder.webhooks")

SECRET_PURPOSE = "webhook-signing-secret"  # noqa: S105 - a label, not a secret
MAX_ENDPOINTS = 10
MAX_OVERLAP_HOURS = 168
BACKOFF_BASE_SECONDS = 30
BACKOFF_MAX_SECONDS = 6 * 3600
FLUSH_TASK = "webhooks.flush_endpoint"


@dataclass(frozen=True)
class EndpointWithSecret:
    endpoint: WebhookEndpoint
    secret: str  # shown once, never stored in plaintext


# --------------------------------------------------------------------------- permissions


def webhooks_allowed(organization: Organization) -> tuple[bool, str]:
    """Webhooks come with API access: billing's entitlements decide (one rule)."""
    entitlements = entitlements_for(organization)
    return entitlements.allows(Feature.WEBHOOKS), entitlements.plan_name


def _require_manage(*, actor: User, organization: Organization) -> None:
    if not can(role_of(user=actor, organization=organization), Cap.MANAGE_API_TOKENS):
        raise PermissionDenied("Only owners and admins can manage webhooks.")
    allowed, plan_name = webhooks_allowed(organization)
    if not allowed:
        raise PermissionDenied(plan_refusal(Feature.WEBHOOKS, plan_name=plan_name))


def _clean_events(events) -> list[str]:
    if not isinstance(events, list | tuple) or not events:
        raise ValidationError({"events": ["Choose at least one event."]})
    unknown = [e for e in events if e not in EventType.values]
    if unknown:
        raise ValidationError(
            {
                "events": [
                    f"Unknown event {unknown[0]!r}; choose from {', '.join(EventType.values)}."
                ]
            }
        )
    return [e for e in EventType.values if e in events]  # canonical order, no duplicates


def _clean_description(description: str) -> str:
    description = (description or "").strip()
    if len(description) > 200:
        raise ValidationError({"description": ["Keep the description under 200 characters."]})
    return description


def _binding(endpoint: WebhookEndpoint, version: int) -> str:
    return f"endpoint={endpoint.pk}|version={version}"


def _seal(endpoint: WebhookEndpoint, secret: str, version: int) -> bytes:
    return organization_secret_seal(
        organization=endpoint.organization,
        purpose=SECRET_PURPOSE,
        binding=_binding(endpoint, version),
        plaintext=secret,
    )


def _audit(endpoint: WebhookEndpoint, *, actor: User | None, action: str, **metadata) -> None:
    audit_record(
        organization=endpoint.organization,
        actor=actor,
        action=f"webhook_endpoint.{action}",
        target=endpoint,
        metadata={"url": endpoint.url, **metadata},
    )


# --------------------------------------------------------------------------- endpoints


@transaction.atomic
def webhook_endpoint_create(
    *, organization: Organization, actor: User, url: str, events, description: str = ""
) -> EndpointWithSecret:
    _require_manage(actor=actor, organization=organization)
    url = transport.url_validate(url)
    events = _clean_events(events)
    description = _clean_description(description)
    if WebhookEndpoint.objects.filter(organization=organization).count() >= MAX_ENDPOINTS:
        raise ValidationError(
            {"url": [f"An organisation can have at most {MAX_ENDPOINTS} endpoints."]}
        )
    now = timezone.now()
    endpoint = WebhookEndpoint.objects.create(
        organization=organization,
        url=url,
        events=events,
        description=description,
        secret_ciphertext=b"",
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    secret = signing.secret_generate()
    endpoint.secret_ciphertext = _seal(endpoint, secret, endpoint.secret_version)
    endpoint.save(update_fields=["secret_ciphertext"])
    _audit(endpoint, actor=actor, action="created", events=events)
    return EndpointWithSecret(endpoint=endpoint, secret=secret)


@transaction.atomic
def webhook_endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    actor: User,
    url: str | None = None,
    events=None,
    description: str | None = None,
    enabled: bool | None = None,
) -> WebhookEndpoint:
    _require_manage(actor=actor, organization=endpoint.organization)
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    changed: dict = {}
    if url is not None:
        endpoint.url = transport.url_validate(url)
        changed["url"] = endpoint.url
    if events is not None:
        endpoint.events = _clean_events(events)
        changed["events"] = endpoint.events
    if description is not None:
        endpoint.description = _clean_description(description)
    if enabled is not None and enabled != endpoint.enabled:
        endpoint.enabled = enabled
        changed["enabled"] = enabled
        if enabled:
            # Re-enabled: forget the failure streak; what is pending goes out again now.
            endpoint.disabled_reason, endpoint.disabled_at, endpoint.failing_since = "", None, None
            WebhookDelivery.objects.filter(
                endpoint=endpoint, status=WebhookDelivery.Status.PENDING
            ).update(next_attempt_at=timezone.now())
        else:
            endpoint.disabled_reason, endpoint.disabled_at = "Disabled by a member.", timezone.now()
    endpoint.updated_at = timezone.now()
    endpoint.save()
    _audit(endpoint, actor=actor, action="updated", **changed)
    if enabled:
        transaction.on_commit(lambda: webhook_endpoint_flush_enqueue(endpoint_id=endpoint.pk))
    return endpoint


@transaction.atomic
def webhook_endpoint_rotate_secret(
    *, endpoint: WebhookEndpoint, actor: User, overlap_hours: int = 24
) -> EndpointWithSecret:
    """A new secret, shown once. For ``overlap_hours`` the old one keeps signing too (both
    ``v1`` values in the header); 0 retires it at once."""
    _require_manage(actor=actor, organization=endpoint.organization)
    if not isinstance(overlap_hours, int) or isinstance(overlap_hours, bool):
        raise ValidationError({"overlap_hours": ["Give a whole number of hours."]})
    if not 0 <= overlap_hours <= MAX_OVERLAP_HOURS:
        raise ValidationError(
            {"overlap_hours": [f"Choose between 0 and {MAX_OVERLAP_HOURS} hours."]}
        )
    endpoint = (
        WebhookEndpoint.objects.select_for_update()
        .select_related("organization")
        .get(pk=endpoint.pk)
    )
    now = timezone.now()
    old_secret = _open_secret(endpoint, endpoint.secret_ciphertext, endpoint.secret_version)
    secret = signing.secret_generate()
    endpoint.secret_version += 1
    if overlap_hours:
        # The old secret is sealed again under the new version's binding for the overlap.
        endpoint.previous_secret_ciphertext = organization_secret_seal(
            organization=endpoint.organization,
            purpose=SECRET_PURPOSE,
            binding=_binding(endpoint, endpoint.secret_version) + "|previous",
            plaintext=old_secret,
        )
        endpoint.previous_secret_expires_at = now + timedelta(hours=overlap_hours)
    else:
        endpoint.previous_secret_ciphertext, endpoint.previous_secret_expires_at = None, None
    endpoint.secret_ciphertext = _seal(endpoint, secret, endpoint.secret_version)
    endpoint.secret_rotated_at = now
    endpoint.updated_at = now
    endpoint.save()
    _audit(endpoint, actor=actor, action="secret_rotated", overlap_hours=overlap_hours)
    return EndpointWithSecret(endpoint=endpoint, secret=secret)


@transaction.atomic
def webhook_endpoint_delete(*, endpoint: WebhookEndpoint, actor: User) -> None:
    _require_manage(actor=actor, organization=endpoint.organization)
    _audit(endpoint, actor=actor, action="deleted")
    endpoint.delete()


def _open_secret(endpoint: WebhookEndpoint, sealed: bytes, version: int, suffix: str = "") -> str:
    return organization_secret_open(
        organization_id=endpoint.organization_id,
        purpose=SECRET_PURPOSE,
        binding=_binding(endpoint, version) + suffix,
        sealed=bytes(sealed),
    )


def _signing_secrets(endpoint: WebhookEndpoint, now) -> list[str]:
    """The secrets that sign now: the current one, plus the previous during the overlap."""
    found = [_open_secret(endpoint, endpoint.secret_ciphertext, endpoint.secret_version)]
    if (
        endpoint.previous_secret_ciphertext
        and endpoint.previous_secret_expires_at
        and endpoint.previous_secret_expires_at > now
    ):
        found.append(
            _open_secret(
                endpoint,
                endpoint.previous_secret_ciphertext,
                endpoint.secret_version,
                "|previous",
            )
        )
    return found


# --------------------------------------------------------------------------- events


def webhook_event_publish(
    *, organization_id: int, event_type: str, data: dict, dedup_key: str
) -> WebhookEvent | None:
    """Store an event once and queue a delivery to every enabled endpoint subscribed to it.
    Nothing is stored when no endpoint wants it or the plan has no webhooks. Called after
    the commit of what it reports (the signals are sent on commit)."""
    organization = Organization.objects.filter(pk=organization_id).first()
    if organization is None or not webhooks_allowed(organization)[0]:
        return None
    endpoints = [
        e
        for e in WebhookEndpoint.objects.filter(organization=organization, enabled=True)
        if event_type in e.events
    ]
    if not endpoints:
        return None
    now = timezone.now()
    try:
        with transaction.atomic():
            event = WebhookEvent.objects.create(
                organization=organization,
                public_id=WebhookEvent.new_public_id(),
                type=event_type,
                dedup_key=dedup_key[:200],
                data=data,
                created_at=now,
            )
            WebhookDelivery.objects.bulk_create(
                WebhookDelivery(event=event, endpoint=e, next_attempt_at=now, created_at=now)
                for e in endpoints
            )
            for endpoint in endpoints:
                transaction.on_commit(
                    lambda pk=endpoint.pk: webhook_endpoint_flush_enqueue(endpoint_id=pk)
                )
    except IntegrityError:
        return None  # the same fact was already published (a redelivered run, a re-sent signal)
    return event


def _body(event: WebhookEvent) -> bytes:
    return json.dumps(
        {
            "id": event.public_id,
            "type": event.type,
            "created": event.created_at.isoformat(),
            "sequence": event.pk,
            "organization": str(event.organization.uuid),
            "data": event.data,
        },
        separators=(",", ":"),
        sort_keys=True,
    ).encode()


# --------------------------------------------------------------------------- delivery


def backoff_seconds(attempts: int) -> float:
    """Seconds before attempt ``attempts + 1``: 30 s doubling, at most 6 h, ±10 % jitter."""
    base = min(BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0), BACKOFF_MAX_SECONDS)
    return base * random.uniform(0.9, 1.1)  # noqa: S311 - jitter, not security


def webhook_endpoint_flush(*, endpoint_id: int) -> int:
    """Send every delivery of the endpoint that is due, oldest event first, one at a time.
    Returns the number of attempts made. Only one flush per endpoint runs at a time (the
    endpoint row is locked with SKIP LOCKED; a second flush finds it taken and returns)."""
    attempts = 0
    while True:
        with transaction.atomic():
            endpoint = (
                WebhookEndpoint.objects.select_for_update(skip_locked=True)
                .select_related("organization")
                .filter(pk=endpoint_id, enabled=True)
                .first()
            )
            if endpoint is None:
                return attempts
            now = timezone.now()
            delivery = (
                WebhookDelivery.objects.select_related("event", "event__organization")
                .filter(
                    endpoint=endpoint,
                    status=WebhookDelivery.Status.PENDING,
                    next_attempt_at__lte=now,
                )
                .order_by("event_id", "id")
                .first()
            )
            if delivery is None:
                return attempts
            _attempt(endpoint, delivery, now)
            attempts += 1


def _attempt(endpoint: WebhookEndpoint, delivery: WebhookDelivery, now) -> None:
    """One attempt (inside the flush's transaction, which holds the endpoint's lock; the
    row lock is on the endpoint only, so pages and the API stay responsive)."""
    event = delivery.event
    body = _body(event)
    status_code, error, outcome = None, "", "failed"
    try:
        secrets_ = _signing_secrets(endpoint, now)
        timestamp = int(now.timestamp())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "CrewBuilder-Webhooks/1.0",
            signing.HEADER: signing.signature_header(
                secrets_=secrets_, timestamp=timestamp, body=body
            ),
            "CrewBuilder-Event-Id": event.public_id,
            "CrewBuilder-Event-Type": event.type,
        }
        reply = transport.post(url=endpoint.url, body=body, headers=headers)
        WEBHOOK_DELIVERY_SECONDS.observe(reply.seconds)
        status_code = reply.status
        if 200 <= reply.status < 300:
            outcome = "delivered"
        else:
            error = f"HTTP {reply.status}: {redact(reply.body_excerpt)}"[:300]
    except transport.Blocked as exc:
        outcome, error = "blocked", f"Blocked: {exc}"[:300]
    except DecryptionFailed:
        error = "The signing secret could not be decrypted (is its master key configured?)."
    except (OSError, ValueError) as exc:  # connection, TLS, timeout, bad response line
        error = f"{type(exc).__name__}: {redact(str(exc))}"[:300]
    except http.client.HTTPException as exc:  # a malformed answer from the receiver
        error = f"Bad HTTP response: {type(exc).__name__}"
    except Exception:  # a bug of ours: logged in full, the customer sees a plain note
        logger.exception("webhook delivery %s: unexpected error", delivery.pk)
        error = "Unexpected error on our side; it has been logged."
    WEBHOOK_DELIVERIES.labels(outcome=outcome).inc()
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.first_attempt_at = delivery.first_attempt_at or now
    delivery.last_status_code = status_code
    delivery.last_error = error
    if outcome == "delivered":
        delivery.status = WebhookDelivery.Status.SUCCEEDED
        delivery.delivered_at = timezone.now()
        delivery.next_attempt_at = None
        endpoint.failing_since = None
        endpoint.save(update_fields=["failing_since"])
    else:
        # Give up only once attempts have been failing for the whole window (so a delivery
        # is tried for at least CREWBUILDER_WEBHOOK_RETRY_HOURS, the last gap included).
        window = timedelta(hours=settings.CREWBUILDER_WEBHOOK_RETRY_HOURS)
        if now - delivery.first_attempt_at >= window:
            delivery.status = WebhookDelivery.Status.FAILED
            delivery.next_attempt_at = None
        else:
            delivery.next_attempt_at = now + timedelta(seconds=backoff_seconds(delivery.attempts))
        if endpoint.failing_since is None:
            endpoint.failing_since = now
            endpoint.save(update_fields=["failing_since"])
        elif now - endpoint.failing_since >= timedelta(
            days=settings.CREWBUILDER_WEBHOOK_DISABLE_AFTER_DAYS
        ):
            _disable_failing(endpoint, now)
    delivery.save()
    logger.info(
        "webhook delivery %s attempt %s: %s %s",
        delivery.pk,
        delivery.attempts,
        outcome,
        status_code or error[:80],
    )


def _disable_failing(endpoint: WebhookEndpoint, now) -> None:
    days = settings.CREWBUILDER_WEBHOOK_DISABLE_AFTER_DAYS
    endpoint.enabled = False
    endpoint.disabled_at = now
    endpoint.disabled_reason = f"Every delivery failed for {days} days."
    endpoint.save(update_fields=["enabled", "disabled_at", "disabled_reason"])
    _audit(endpoint, actor=None, action="disabled", reason=endpoint.disabled_reason)
    transaction.on_commit(lambda: _notify_disabled(endpoint.pk))


def _notify_disabled(endpoint_id: int) -> None:
    endpoint = WebhookEndpoint.objects.select_related("organization").filter(pk=endpoint_id).first()
    if endpoint is None:
        return
    recipients = list(
        Membership.objects.filter(organization=endpoint.organization, role=Role.OWNER)
        .values_list("user__email", flat=True)
        .order_by("user__email")
    )
    if not recipients:
        return
    context = {
        "endpoint": endpoint,
        "organization": endpoint.organization,
        "days": settings.CREWBUILDER_WEBHOOK_DISABLE_AFTER_DAYS,
        "settings_url": settings.SITE_URL.rstrip("/") + f"/settings/webhooks/{endpoint.pk}/",
    }
    send_mail(
        subject=render_to_string("emails/webhook_disabled_subject.txt", context).strip(),
        message=render_to_string("emails/webhook_disabled_body.txt", context),
        from_email=None,
        recipient_list=recipients,
    )


@transaction.atomic
def webhook_delivery_resend(*, delivery: WebhookDelivery, actor: User) -> WebhookDelivery:
    """Send an event to the endpoint again (a new delivery in the log, due now)."""
    endpoint = delivery.endpoint
    _require_manage(actor=actor, organization=endpoint.organization)
    if not endpoint.enabled:
        raise ValidationError({"endpoint": ["Enable the endpoint before resending to it."]})
    now = timezone.now()
    again = WebhookDelivery.objects.create(
        event=delivery.event,
        endpoint=endpoint,
        next_attempt_at=now,
        resend_of=delivery,
        created_at=now,
    )
    _audit(endpoint, actor=actor, action="resent", event=delivery.event.public_id)
    transaction.on_commit(lambda: webhook_endpoint_flush_enqueue(endpoint_id=endpoint.pk))
    return again


def webhook_endpoints_due() -> list[int]:
    """Enabled endpoints with a delivery due now (the beat job flushes them)."""
    return list(
        WebhookEndpoint.objects.filter(
            Q(deliveries__status=WebhookDelivery.Status.PENDING)
            & Q(deliveries__next_attempt_at__lte=timezone.now()),
            enabled=True,
        )
        .values_list("pk", flat=True)
        .distinct()
        .order_by("pk")
    )


def webhook_endpoint_flush_enqueue(*, endpoint_id: int) -> None:
    """Run a flush where the deployment runs background work: the Celery worker, a
    thread of the web process (the embedded default) or inline (tests)."""
    runner = settings.CREWBUILDER_WEBHOOK_RUNNER
    if runner == "celery":
        # By name: the task module imports this one.
        current_app.send_task(FLUSH_TASK, args=[endpoint_id])
    elif runner == "thread":
        threading.Thread(target=_flush_in_thread, args=(endpoint_id,), daemon=True).start()
    else:
        webhook_endpoint_flush(endpoint_id=endpoint_id)


def _flush_in_thread(endpoint_id: int) -> None:
    try:
        webhook_endpoint_flush(endpoint_id=endpoint_id)
    finally:
        connections.close_all()
