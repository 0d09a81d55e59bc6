"""Outgoing webhook tables: endpoints (with their sealed signing secrets), events and
deliveries. The signing secret is sealed under the organisation's data key by the key
vault (``keys.services.organization_secret_seal``), so it is never stored in plaintext,
survives master-key rotation untouched and dies with the organisation's data key."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import Organization


class EventType(models.TextChoices):
    GENERATION_SUCCEEDED = "generation.succeeded", "Generation succeeded"
    GENERATION_FAILED = "generation.failed", "Generation failed"
    GENERATION_NEEDS_INPUT = "generation.needs_input", "Generation needs input"
    USAGE_LIMIT_REACHED = "usage.limit_reached", "Usage limit reached"


class WebhookEndpoint(models.Model):
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.URLField(max_length=500)
    description = models.CharField(max_length=200, blank=True)
    events = models.JSONField(default=list)
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=200, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    # 01 || nonce || AES-GCM under the organisation's data key; see the module docstring.
    secret_ciphertext = models.BinaryField(editable=False)
    secret_version = models.PositiveIntegerField(default=1, editable=False)
    secret_rotated_at = models.DateTimeField(null=True, blank=True)
    previous_secret_ciphertext = models.BinaryField(null=True, blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    # First failed attempt of the current run of failures (cleared by any success).
    failing_since = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.url


class WebhookEvent(models.Model):
    """Something that happened, stored once (``dedup_key`` is unique: a signal sent twice
    for the same fact, e.g. by a redelivered run, makes one event)."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="webhook_events"
    )
    public_id = models.CharField(max_length=40, unique=True, editable=False)
    type = models.CharField(max_length=40, choices=EventType.choices)
    dedup_key = models.CharField(max_length=200, unique=True, editable=False)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.type} {self.public_id}"

    @staticmethod
    def new_public_id() -> str:
        return "evt_" + uuid.uuid4().hex


class WebhookDelivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    first_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    resend_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["endpoint", "status", "next_attempt_at"], name="webhook_due"),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint_id} ({self.status})"
