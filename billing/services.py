"""Billing writes: charging generations against quota or credits, the credits ledger and
plan assignment (Stripe Checkout, the portal and prices live in ``billing.checkout``).

Contract used by generation and the API (names are stable):

- ``charge_reserve`` is called inside the transaction that creates a generation, before it
  is queued. It returns how the generation is paid for, or raises ``PaymentRequired``
  (HTTP 402) / ``PlanNotAllowed`` (HTTP 403).
- ``charge_commit`` is called once when the generation succeeds.
- ``charge_release`` is called when it fails; it gives back exactly what was reserved and
  is safe to call more than once (idempotent per generation).

Every counter changes through one conditional UPDATE (``… WHERE used < limit``), so two
concurrent reservations can never both take the last generation.
"""

from __future__ import annotations

import logging
import math
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from accounts.models import Organization, User
from accounts.services import audit_record
from billing import selectors
from billing import stripe_gateway as gateway
from billing.models import (
    BillingAccount,
    CreditEntry,
    CreditPurchase,
    DailyUsage,
    GenerationCharge,
    Plan,
    UsageCounter,
)
from billing.selectors import Feature, plan_refusal
from billing.signals import usage_limit_reached_on_commit
from billing.tenancy import Tenant
from crewbuilder.errors import ApplicationError
from crewbuilder.metrics import CREDITS_CONSUMED, QUOTA_REFUSALS

logger = logging.getLogger("crewbuilder.billing")

BUY_URL = "/settings/billing/#credits"
UPGRADE_URL = "/pricing/"


class BillingError(ApplicationError):
    code = "billing_error"
    status = 400

    def __init__(self, message: str = "", **links: str):
        super().__init__(message)
        self.links = links


class PaymentRequired(BillingError):
    """No plan quota and no credit left (402)."""

    code = "payment_required"
    status = 402


class DailyCapReached(PaymentRequired):
    """The organisation's daily cap on CrewBuilder AI generations is reached (429).

    A PaymentRequired subclass so callers mapping only the documented exceptions still
    refuse the generation; ``status`` says 429."""

    code = "daily_cap_reached"
    status = 429

    @property
    def retry_after(self) -> int:
        """Seconds until the UTC day rolls over, when the cap resets."""
        now = timezone.now()
        tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        return max(1, math.ceil((tomorrow - now).total_seconds()))


class PlanNotAllowed(BillingError):
    """The plan does not include this (e.g. an advanced model on Basic) (403)."""

    code = "plan_not_allowed"
    status = 403


class BillingNotConfigured(BillingError):
    """Online billing is not configured; an operator assigns plans in the admin."""

    code = "billing_not_configured"
    status = 400


@dataclass(frozen=True)
class Charge:
    charged_as: str  # "quota" | "credit" | "own_key" | "none"


OWN_KEY_SOURCES = {"one_time", "user", "organization", "stored"}


def billing_account_for(organization: Organization) -> BillingAccount:
    account, _ = BillingAccount.objects.get_or_create(organization=organization)
    return account


def billing_account_open(*, organization: Organization) -> BillingAccount:
    """Open an organisation's billing account (Free, no credits) when it is created, so
    operators find every organisation under *Billing accounts*. Idempotent."""
    return billing_account_for(organization)


# --- quota and daily cap ------------------------------------------------------------------


def _quota_take(counter: QuerySet[UsageCounter], *, limit: int | None) -> tuple[bool, bool]:
    """(taken, took_last): one guarded ``used = used + 1`` UPDATE, or two when at most one
    generation is left, so that exactly the reservation moving the counter from
    ``limit - 1`` to ``limit`` knows it took the period's last generation."""
    if limit is None:
        return bool(counter.update(used=F("used") + 1)), False
    if counter.filter(used__lt=limit - 1).update(used=F("used") + 1):
        return True, False
    if counter.filter(used=limit - 1).update(used=F("used") + 1):
        return True, True
    return False, False


def quota_reserve(
    *, organization_id: int, period_start: datetime, period_end: datetime, limit: int | None
) -> bool:
    """Take one generation from the period's counter with a conditional UPDATE
    (``used = used + 1 WHERE used < limit``), so concurrent reservations can never pass the
    limit. The counter row is created on first use."""
    if limit is not None and limit <= 0:
        return False
    counter = UsageCounter.objects.filter(
        organization_id=organization_id, period_start=period_start
    )
    taken, took_last = _quota_take(counter, limit=limit)
    if not taken:
        UsageCounter.objects.get_or_create(
            organization_id=organization_id,
            period_start=period_start,
            defaults={"period_end": period_end},
        )
        # Created now (or concurrently by someone else): try the guarded UPDATE once more.
        taken, took_last = _quota_take(counter, limit=limit)
    if took_last and limit is not None:
        # This reservation took the period's last generation: announce it after commit.
        usage_limit_reached_on_commit(
            organization_id=organization_id,
            period_start=period_start,
            period_end=period_end,
            limit=limit,
        )
    return taken


def quota_give_back(*, organization_id: int, period_start: datetime) -> None:
    UsageCounter.objects.filter(
        organization_id=organization_id, period_start=period_start, used__gt=0
    ).update(used=F("used") - 1)


@transaction.atomic
def usage_give_back(
    *, organization: Organization, quantity: int, reason: str, actor: User | None
) -> int:
    """An operator gives back ``quantity`` CrewBuilder AI generations of the current period
    ("charged twice, give back 1"): one conditional UPDATE that never takes the counter
    below zero, audited with the reason. Returns the generations used afterwards."""
    reason = reason.strip()
    if quantity <= 0:
        raise BillingError("Give back at least one generation.")
    if not reason:
        raise BillingError("Say why the generations are given back (it goes in the audit log).")
    account = selectors.billing_account_of(organization)
    start, _ = selectors.current_period(account, timezone.now())
    counter = UsageCounter.objects.filter(organization=organization, period_start=start)
    if not counter.filter(used__gte=quantity).update(used=F("used") - quantity):
        used = counter.values_list("used", flat=True).first() or 0
        raise BillingError(
            f"Only {used} generation{'s' if used != 1 else ''} used this period "
            f"(since {start:%Y-%m-%d}); give back at most {used}."
        )
    used_after = counter.values_list("used", flat=True).get()
    audit_record(
        organization=organization,
        actor=actor,
        action="billing.usage_given_back",
        target=organization,
        metadata={
            "quantity": quantity,
            "reason": reason[:200],
            "period_start": start.isoformat(),
            "used_after": used_after,
        },
    )
    return used_after


def daily_reserve(*, organization_id: int, day: date, cap: int | None) -> bool:
    """Count one CrewBuilder AI generation against the day's cap: one guarded
    ``count = count + 1`` UPDATE (``… AND count < cap`` when capped); the day's row is
    created on first use."""
    rows = DailyUsage.objects.filter(organization_id=organization_id, day=day)
    if cap is not None:
        rows = rows.filter(count__lt=cap)
    if rows.update(count=F("count") + 1):
        return True
    if cap is not None and cap <= 0:
        return False
    DailyUsage.objects.get_or_create(organization_id=organization_id, day=day)
    return bool(rows.update(count=F("count") + 1))


# --- credits ledger -----------------------------------------------------------------------


def _credit_apply(
    *,
    organization: Organization,
    delta: int,
    kind: str,
    generation_id=None,
    purchase: CreditPurchase | None = None,
    note: str = "",
    require_balance: bool = False,
) -> CreditEntry | None:
    """Change the balance with one UPDATE and append the ledger entry (same transaction)."""
    rows = BillingAccount.objects.filter(organization=organization)
    if require_balance:
        rows = rows.filter(credit_balance__gte=-delta)
    if not rows.update(credit_balance=F("credit_balance") + delta, updated_at=timezone.now()):
        if require_balance:
            return None
        billing_account_for(organization)
        BillingAccount.objects.filter(organization=organization).update(
            credit_balance=F("credit_balance") + delta
        )
    balance = (
        BillingAccount.objects.filter(organization=organization)
        .values_list("credit_balance", flat=True)
        .get()
    )
    return CreditEntry.objects.create(
        organization=organization,
        kind=kind,
        delta=delta,
        balance_after=balance,
        generation_id=generation_id,
        purchase=purchase,
        note=note[:255],
    )


@transaction.atomic
def credits_grant(
    *, organization: Organization, actor: User | None, quantity: int, note: str = ""
) -> CreditEntry:
    """Operator grant (admin)."""
    if quantity <= 0:
        raise BillingError("Grant at least one credit.")
    entry = _credit_apply(
        organization=organization, delta=quantity, kind=CreditEntry.Kind.GRANT, note=note
    )
    audit_record(
        organization=organization,
        actor=actor,
        action="billing.credits_granted",
        metadata={"quantity": quantity, "note": note[:120]},
    )
    return entry


@transaction.atomic
def credits_purchase_record(
    *,
    organization: Organization,
    checkout_session_id: str,
    payment_intent_id: str | None,
    quantity: int,
    amount_cents: int,
    currency: str,
) -> CreditPurchase | None:
    """Credit a paid Checkout once: a second call for the same Session or PaymentIntent
    changes nothing and returns None."""
    if (
        CreditPurchase.objects.filter(checkout_session_id=checkout_session_id).exists()
        or payment_intent_id
        and CreditPurchase.objects.filter(payment_intent_id=payment_intent_id).exists()
    ):
        return None
    try:
        with transaction.atomic():
            purchase = CreditPurchase.objects.create(
                organization=organization,
                checkout_session_id=checkout_session_id,
                payment_intent_id=payment_intent_id or None,
                quantity=quantity,
                amount_cents=amount_cents,
                currency=currency,
            )
    except IntegrityError:
        return None
    _credit_apply(
        organization=organization,
        delta=quantity,
        kind=CreditEntry.Kind.PURCHASE,
        purchase=purchase,
        note=f"Checkout {checkout_session_id}",
    )
    audit_record(
        organization=organization,
        actor=None,
        action="billing.credits_purchased",
        target=purchase,
        metadata={"quantity": quantity, "amount_cents": amount_cents, "currency": currency},
    )
    return purchase


@transaction.atomic
def credits_refund_record(
    *, payment_intent_id: str, amount_refunded: int, amount: int
) -> CreditPurchase | None:
    """Take back the credits a (partial or full) refund covers. ``amount_refunded`` is
    Stripe's cumulative figure, so replaying the same event changes nothing."""
    purchase = (
        CreditPurchase.objects.select_for_update()
        .select_related("organization")
        .filter(payment_intent_id=payment_intent_id)
        .first()
    )
    if purchase is None:
        return None
    total = amount or purchase.amount_cents or 1
    target = min(purchase.quantity, purchase.quantity * amount_refunded // total)
    delta = target - purchase.credits_refunded
    if delta <= 0:
        return purchase
    purchase.credits_refunded = target
    purchase.save(update_fields=["credits_refunded"])
    # The balance may go negative when refunded credits were already spent: the ledger
    # stays exact and the next purchase settles it.
    _credit_apply(
        organization=purchase.organization,
        delta=-delta,
        kind=CreditEntry.Kind.REFUND,
        purchase=purchase,
        note=f"Refund on {payment_intent_id}",
    )
    audit_record(
        organization=purchase.organization,
        actor=None,
        action="billing.credits_refunded",
        target=purchase,
        metadata={"credits": delta, "amount_refunded": amount_refunded},
    )
    return purchase


# --- charging generations -----------------------------------------------------------------


def _payment_required_message() -> str:
    return (
        "You have no CrewBuilder AI generations left this period and no generation credits. "
        f"Buy a generation for $5 ({BUY_URL}) or upgrade your plan ({UPGRADE_URL}). "
        "Generations on your own OpenAI or Anthropic key are always free."
    )


def charge_reserve(
    *,
    organization: Organization,
    generation_id: uuid.UUID,
    key_source: str,
    model_class: str = "standard",
    tenant: Tenant | None = None,
    new_generation: bool = False,
) -> Charge:
    """Reserve payment for one generation. ``key_source`` is the resolved key's source:
    ``one_time``/``user``/``organization``/``stored`` (own key, free), ``platform``
    (CrewBuilder AI) or ``fallback`` (no LLM used). Idempotent per generation id.

    ``tenant``: the request's tenant, whose billing account (with its plan) is used rather
    than read again. ``new_generation``: the caller (``generation_create``) allocated the
    generation id in its own transaction, so no charge can exist for it yet (the unique
    ``generation_id`` still guards it) and any error raised here rolls that whole
    transaction back: no idempotency lookup and no savepoint of its own."""
    if new_generation:
        return _charge_record(
            organization=organization,
            generation_id=generation_id,
            key_source=key_source,
            model_class=model_class,
            tenant=tenant,
        )
    with transaction.atomic():
        existing = (
            GenerationCharge.objects.filter(generation_id=generation_id)
            .values_list("charged_as", flat=True)
            .first()
        )
        if existing is not None:
            return Charge(existing)
        return _charge_record(
            organization=organization,
            generation_id=generation_id,
            key_source=key_source,
            model_class=model_class,
            tenant=tenant,
        )


def _charge_record(
    *,
    organization: Organization,
    generation_id: uuid.UUID,
    key_source: str,
    model_class: str,
    tenant: Tenant | None,
) -> Charge:
    period_start = None
    if key_source in OWN_KEY_SOURCES:
        charged_as = "own_key"
    elif key_source == "fallback":
        charged_as = "none"
    elif key_source == "platform":
        account = selectors.billing_account_of(organization) if tenant is None else tenant.account
        charged_as, period_start = _reserve_platform(
            organization=organization,
            generation_id=generation_id,
            model_class=model_class,
            account=account,
        )
    else:
        raise BillingError(f"Unknown key source {key_source!r}.")
    GenerationCharge.objects.create(
        generation_id=generation_id,
        organization=organization,
        charged_as=charged_as,
        period_start=period_start,
    )
    return Charge(charged_as)


def _reserve_platform(
    *,
    organization: Organization,
    generation_id: uuid.UUID,
    model_class: str,
    account: BillingAccount | None,
) -> tuple[str, datetime | None]:
    ent = selectors.entitlements_from(account)
    if ent.past_due:
        QUOTA_REFUSALS.labels(reason="past_due").inc()
        raise PaymentRequired(
            "Your last payment failed, so CrewBuilder AI generations are paused. Update your "
            "card in the billing portal (/settings/billing/); your generations stay readable "
            "and your own keys still work.",
            buy=BUY_URL,
            upgrade=UPGRADE_URL,
        )
    if model_class == "advanced" and not ent.allows(Feature.ADVANCED_MODELS):
        QUOTA_REFUSALS.labels(reason="plan_not_allowed").inc()
        raise PlanNotAllowed(
            plan_refusal(Feature.ADVANCED_MODELS, plan_name=ent.plan_name), upgrade=UPGRADE_URL
        )
    now = timezone.now()
    if not daily_reserve(organization_id=organization.pk, day=now.date(), cap=ent.daily_cap):
        QUOTA_REFUSALS.labels(reason="daily_cap").inc()
        raise DailyCapReached(
            f"Your organisation reached today's limit of {ent.daily_cap} CrewBuilder AI "
            "generations. It resets at midnight UTC; generations on your own key are not limited."
        )
    start, end = selectors.current_period(account, now)
    if quota_reserve(
        organization_id=organization.pk,
        period_start=start,
        period_end=end,
        limit=ent.generations_per_period,
    ):
        return "quota", start
    # Plan quota spent: one credit, taken by a conditional UPDATE on the balance.
    if account is not None and _credit_apply(
        organization=organization,
        delta=-1,
        kind=CreditEntry.Kind.CONSUME,
        generation_id=generation_id,
        require_balance=True,
    ):
        transaction.on_commit(CREDITS_CONSUMED.inc)
        return "credit", None
    QUOTA_REFUSALS.labels(reason="no_quota_or_credit").inc()
    raise PaymentRequired(_payment_required_message(), buy=BUY_URL, upgrade=UPGRADE_URL)


def charge_commit(*, organization, generation_id, charged_as: str = "") -> None:
    GenerationCharge.objects.filter(
        generation_id=generation_id, status=GenerationCharge.Status.RESERVED
    ).update(status=GenerationCharge.Status.COMMITTED, settled_at=timezone.now())


@transaction.atomic
def charge_release(*, organization, generation_id, charged_as: str = "") -> None:
    """Give back what the generation's reservation took, exactly once."""
    released = GenerationCharge.objects.filter(
        generation_id=generation_id, status=GenerationCharge.Status.RESERVED
    ).update(status=GenerationCharge.Status.RELEASED, settled_at=timezone.now())
    if not released:
        return
    charge = GenerationCharge.objects.get(generation_id=generation_id)
    if charge.charged_as in ("quota", "credit"):
        # A failed CrewBuilder AI generation does not count towards the daily cap either:
        # a provider outage must not lock an organisation out for the rest of the day.
        DailyUsage.objects.filter(
            organization_id=charge.organization_id, day=charge.created_at.date(), count__gt=0
        ).update(count=F("count") - 1)
    if charge.charged_as == "quota" and charge.period_start is not None:
        quota_give_back(organization_id=charge.organization_id, period_start=charge.period_start)
    elif charge.charged_as == "credit":
        _credit_apply(
            organization=charge.organization,
            delta=1,
            kind=CreditEntry.Kind.RELEASE,
            generation_id=generation_id,
            note="Generation failed",
        )


# --- plans --------------------------------------------------------------------------------


@transaction.atomic
def billing_plan_assign(
    *, organization: Organization, plan: Plan | None, actor: User | None
) -> BillingAccount:
    """Operator assignment (admin, or when billing is unconfigured). Calendar-month quota."""
    account = billing_account_for(organization)
    account = BillingAccount.objects.select_for_update().get(pk=account.pk)
    old = account.plan.slug if account.plan_id else "free"
    account.plan = plan if plan is not None and plan.slug != "free" else None
    account.plan_source = (
        BillingAccount.PlanSource.MANUAL if account.plan_id else BillingAccount.PlanSource.FREE
    )
    account.updated_at = timezone.now()
    account.save(update_fields=["plan", "plan_source", "updated_at"])
    audit_record(
        organization=organization,
        actor=actor,
        action="billing.plan_assigned",
        target=organization,
        metadata={"from": old, "to": plan.slug if plan else "free"},
    )
    return account


def plans_seed() -> None:
    """Create the default plans that are missing (never overwrites operator edits)."""
    from billing.plans import DEFAULT_PLANS

    for row in DEFAULT_PLANS:
        Plan.objects.get_or_create(slug=row["slug"], defaults=row)


def subscription_cancel_for_deletion(*, organization: Organization, actor: User | None) -> None:
    """Cancel the organisation's subscription immediately (GDPR organisation deletion).
    No-op when billing is off or there is nothing to cancel."""
    account = selectors.billing_account_of(organization)
    if account is None or not account.stripe_subscription_id or not gateway.is_configured():
        return
    if account.subscription_status in {"canceled", "incomplete_expired"}:
        return
    sub_id = account.stripe_subscription_id
    try:
        gateway.subscription_cancel(subscription_id=sub_id, organization=organization)
    except gateway.NotFound:
        pass  # already gone at Stripe
    except gateway.GatewayError as exc:
        # A retried deletion (the first attempt's transaction rolled back after Stripe
        # cancelled) gets a refusal for an already-cancelled subscription: check the truth.
        if exc.retryable or gateway.subscription_retrieve(sub_id).get("status") not in (
            "canceled",
            "incomplete_expired",
        ):
            raise
    BillingAccount.objects.filter(pk=account.pk).update(
        subscription_status="canceled",
        plan=None,
        plan_source=BillingAccount.PlanSource.FREE,
        updated_at=timezone.now(),
    )
    audit_record(
        organization=organization,
        actor=actor,
        action="billing.subscription_canceled",
        metadata={"reason": "organization_deleted"},
    )


# --- cost control ---------------------------------------------------------------------------


def usage_anomaly_scan(*, day: date | None = None) -> list[int]:
    """Flag organisations whose platform generations on ``day`` exceed
    BILLING_ANOMALY_FACTOR x their trailing 7-day average. Returns the flagged org ids."""
    day = day or timezone.now().date()
    flagged: list[int] = []
    rows = DailyUsage.objects.filter(day=day, count__gte=settings.BILLING_ANOMALY_MIN_COUNT)
    for row in rows:
        average = selectors.trailing_daily_average(row.organization_id, day)
        if row.count > settings.BILLING_ANOMALY_FACTOR * max(average, 1.0):
            note = f"{row.count} platform generations on {day} (7-day average {average:.1f})"
            account, _ = BillingAccount.objects.get_or_create(organization_id=row.organization_id)
            if account.anomaly_note != note:
                BillingAccount.objects.filter(pk=account.pk).update(
                    anomaly_flagged_at=timezone.now(), anomaly_note=note
                )
                logger.warning("billing usage anomaly", extra={"organization": row.organization_id})
            flagged.append(row.organization_id)
    return flagged
