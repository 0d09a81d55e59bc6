"""Billing state: plans, each organisation's billing account, quota counters, the credits
ledger, generation charges and the Stripe event/operation journals.

Money is integer cents plus a currency code. Counters change only through
``billing.services`` (single conditional UPDATEs); the ledger is append-only.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import Organization


class Plan(models.Model):
    """A plan operators can edit in the admin. ``None`` limits mean unlimited."""

    slug = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=80)
    price_cents = models.PositiveIntegerField(
        null=True, blank=True, help_text="Monthly price in cents; empty = custom (operator-set)."
    )
    currency = models.CharField(max_length=3, default="usd")
    generations_per_period = models.PositiveIntegerField(
        null=True, blank=True, help_text="CrewBuilder AI generations per period; empty = unlimited."
    )
    advanced_models = models.BooleanField(default=False)
    api_access = models.BooleanField(default=False)
    max_members = models.PositiveIntegerField(
        null=True, blank=True, help_text="Members incl. pending invitations; empty = unlimited."
    )
    custom_templates = models.BooleanField(default=False)
    white_label = models.BooleanField(default=False)
    stripe_lookup_key = models.CharField(
        max_length=100, blank=True, help_text="Stripe Price lookup key; empty = not sold online."
    )
    is_public = models.BooleanField(default=True, help_text="Shown on /pricing/.")
    sort_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["sort_order", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def models_label(self) -> str:
        if self.slug == "free":
            return "—"
        if self.generations_per_period is None and self.advanced_models:
            return "all"
        return "standard + advanced" if self.advanced_models else "standard"


class StripePrice(models.Model):
    """Stripe Price ids found or created by ``billing_sync``, keyed by lookup key."""

    lookup_key = models.CharField(max_length=100, unique=True)
    price_id = models.CharField(max_length=255)
    product_id = models.CharField(max_length=255, blank=True)
    unit_amount = models.PositiveIntegerField()
    currency = models.CharField(max_length=3, default="usd")
    recurring = models.BooleanField(default=False)
    synced_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.lookup_key} → {self.price_id}"


class BillingAccount(models.Model):
    """The billing side of one organisation; the organisation is the Stripe customer."""

    class PlanSource(models.TextChoices):
        FREE = "free", "Free (no plan)"
        STRIPE = "stripe", "Stripe subscription"
        MANUAL = "manual", "Assigned by an operator"

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, related_name="billing_account"
    )
    plan = models.ForeignKey(Plan, null=True, blank=True, on_delete=models.PROTECT)
    plan_source = models.CharField(
        max_length=10, choices=PlanSource.choices, default=PlanSource.FREE
    )
    stripe_customer_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    stripe_subscription_id = models.CharField(max_length=255, blank=True)
    subscription_status = models.CharField(max_length=32, blank=True)
    current_period_start = models.DateTimeField(null=True, blank=True)
    current_period_end = models.DateTimeField(null=True, blank=True)
    cancel_at_period_end = models.BooleanField(default=False)
    # Stripe's timestamp of the subscription state last applied: older events never win.
    subscription_synced_at = models.DateTimeField(null=True, blank=True)
    # Operator overrides (custom Enterprise limits, comped generations).
    generations_override = models.PositiveIntegerField(
        null=True, blank=True, help_text="Replaces the plan's generations per period."
    )
    comped_generations = models.PositiveIntegerField(
        default=0, help_text="Extra free generations every period."
    )
    max_members_override = models.PositiveIntegerField(null=True, blank=True)
    daily_cap = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Platform generations per day; empty = BILLING_DAILY_CAP setting.",
    )
    credit_balance = models.IntegerField(default=0, editable=False)
    anomaly_flagged_at = models.DateTimeField(null=True, blank=True)
    anomaly_note = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Billing for {self.organization}"


class UsageCounter(models.Model):
    """Platform generations used by one organisation in one billing period."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="usage_counters"
    )
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    used = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-period_start"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "period_start"], name="usage_counter_one_per_period"
            ),
            models.CheckConstraint(condition=Q(used__gte=0), name="usage_counter_used_gte_0"),
        ]

    def __str__(self) -> str:
        return f"{self.organization}: {self.used} from {self.period_start:%Y-%m-%d}"


class DailyUsage(models.Model):
    """Platform generations per organisation per UTC day (daily cap, anomaly detection)."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="daily_usage"
    )
    day = models.DateField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-day"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "day"], name="daily_usage_one_per_day")
        ]

    def __str__(self) -> str:
        return f"{self.organization}: {self.count} on {self.day}"


class CreditPurchase(models.Model):
    """A paid Checkout for generation credits; credited once per Session and PaymentIntent."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="credit_purchases"
    )
    checkout_session_id = models.CharField(max_length=255, unique=True)
    payment_intent_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    quantity = models.PositiveIntegerField()
    amount_cents = models.PositiveIntegerField()
    currency = models.CharField(max_length=3, default="usd")
    credits_refunded = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.quantity} credit(s) for {self.organization}"


class CreditEntry(models.Model):
    """Append-only credits ledger; ``BillingAccount.credit_balance`` is its running sum."""

    class Kind(models.TextChoices):
        PURCHASE = "purchase", "Purchase"
        CONSUME = "consume", "Used by a generation"
        RELEASE = "release", "Returned (generation failed)"
        REFUND = "refund", "Refunded purchase"
        GRANT = "grant", "Granted by an operator"

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="credit_entries"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    delta = models.IntegerField()
    balance_after = models.IntegerField()
    generation_id = models.UUIDField(null=True, blank=True)
    purchase = models.ForeignKey(
        CreditPurchase, null=True, blank=True, on_delete=models.RESTRICT, related_name="entries"
    )
    note = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # A generation consumes at most one credit and gets it back at most once.
            models.UniqueConstraint(
                fields=["generation_id", "kind"],
                condition=Q(generation_id__isnull=False),
                name="credit_entry_once_per_generation",
            ),
        ]
        verbose_name_plural = "credit entries"

    def __str__(self) -> str:
        return f"{self.kind} {self.delta:+d} ({self.organization})"


class GenerationCharge(models.Model):
    """How one generation is paid for; the status moves reserved → committed | released
    exactly once (conditional UPDATE on the status)."""

    class Status(models.TextChoices):
        RESERVED = "reserved", "Reserved"
        COMMITTED = "committed", "Committed"
        RELEASED = "released", "Released"

    generation_id = models.UUIDField(unique=True)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="generation_charges"
    )
    charged_as = models.CharField(max_length=10)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RESERVED)
    # The quota period the generation was counted in (a release gives it back there).
    period_start = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.generation_id}: {self.charged_as} ({self.status})"


class StripeEvent(models.Model):
    """Every webhook event, stored by its unique id before it is handled."""

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSED = "processed", "Processed"
        IGNORED = "ignored", "Ignored"
        FAILED = "failed", "Failed"

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100, db_index=True)
    stripe_created = models.DateTimeField()
    livemode = models.BooleanField(default=False)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=1)
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id} ({self.status})"


def new_idempotency_key() -> str:
    return f"cb-{uuid.uuid4()}"


class StripeOperation(models.Model):
    """A Stripe write and its idempotency key, stored before the first attempt so a retry
    after a crash or timeout reuses the same key."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=60)
    scope = models.CharField(max_length=200, db_index=True)
    idempotency_key = models.CharField(max_length=64, unique=True, default=new_idempotency_key)
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    stripe_id = models.CharField(max_length=255, blank=True)
    error = models.CharField(max_length=255, blank=True)
    retryable = models.BooleanField(default=False)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kind} {self.scope} ({self.status})"


class GuestPass(models.Model):
    """A visitor's generation without registration ("try it"): reachable only through an
    unguessable URL whose token is stored hashed. The generation lives in a holding
    organisation with no members until the visitor signs up and keeps it."""

    class Status(models.TextChoices):
        AWAITING_PAYMENT = "awaiting_payment", "Awaiting payment"
        STARTED = "started", "Generation started"
        CLAIMED = "claimed", "Kept by a signed-up user"

    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, related_name="guest_pass"
    )
    status = models.CharField(max_length=20, choices=Status.choices)
    requirement = models.TextField()
    provider = models.CharField(max_length=20)
    generation_id = models.UUIDField(null=True, blank=True)
    checkout_session_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    claimed_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Guest generation {self.generation_id or '(awaiting payment)'}"
