"""Billing reads. ``entitlements_for`` is the one answer to "what may this organisation do",
used by views, the API, generation and the admin alike."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from django.conf import settings
from django.db.models import Sum
from django.utils import timezone

from accounts.models import Organization
from billing.models import (
    BillingAccount,
    CreditEntry,
    DailyUsage,
    Plan,
    StripePrice,
    UsageCounter,
)
from billing.plans import CREDIT_LOOKUP_KEY, CREDIT_PRICE_CENTS, DEFAULT_PLANS

PAST_DUE_STATUSES = frozenset({"past_due", "unpaid"})
LIVE_SUBSCRIPTION_STATUSES = frozenset({"active", "trialing", "past_due", "unpaid"})


@dataclass(frozen=True)
class Entitlements:
    plan_slug: str
    plan_name: str
    generations_per_period: int | None  # None = unlimited
    advanced_models: bool
    api_access: bool
    max_members: int | None  # None = unlimited
    custom_templates: bool
    white_label: bool
    # Added by billing (defaults keep older constructors working):
    plan_source: str = "free"
    subscription_status: str = ""
    past_due: bool = False  # read access stays; new platform-key generations are refused
    daily_cap: int | None = None

    def allows(self, feature: Feature) -> bool:
        """The plan gate: does this plan include ``feature``?"""
        return bool(getattr(self, _FEATURE_NEEDS[feature]))


class Feature(StrEnum):
    """What a plan may include: the plan gates, each asked through ``Entitlements.allows``
    (or ``plan_allows``) and refused with ``plan_refusal``'s message."""

    API_ACCESS = "api_access"
    WEBHOOKS = "webhooks"  # they come with API access
    ADVANCED_MODELS = "advanced_models"
    CUSTOM_TEMPLATES = "custom_templates"
    WHITE_LABEL = "white_label"


# The plan gates in one table: which entitlement each feature needs.
_FEATURE_NEEDS: dict[Feature, str] = {
    Feature.API_ACCESS: "api_access",
    Feature.WEBHOOKS: "api_access",
    Feature.ADVANCED_MODELS: "advanced_models",
    Feature.CUSTOM_TEMPLATES: "custom_templates",
    Feature.WHITE_LABEL: "white_label",
}
_REFUSALS: dict[Feature, str] = {
    Feature.WEBHOOKS: (
        "Webhooks come with the Professional and Enterprise plans (you are on {plan})."
    ),
    Feature.ADVANCED_MODELS: (
        "Advanced models need the Professional or Enterprise plan. Choose a standard model "
        "or upgrade (/pricing/)."
    ),
    Feature.CUSTOM_TEMPLATES: "Custom templates are part of the Professional and Enterprise plans.",
    Feature.WHITE_LABEL: "White-label branding is part of the Enterprise plan.",
}


def plan_refusal(feature: Feature, *, plan_name: str) -> str:
    """Why the plan ``plan_name`` does not allow ``feature`` (shown to the user)."""
    if feature == Feature.API_ACCESS:
        included = " and ".join(plans_with_api_access())
        return (
            f"API access is included in the {included} plans; this organisation is on "
            f"{plan_name}. Upgrade to {plans_with_api_access()[0]} to use the API."
        )
    return _REFUSALS[feature].format(plan=plan_name)


def plans_with_api_access() -> list[str]:
    """Names of the plans that include the API, cheapest first (for error messages)."""
    names = [plan.name for plan in plans_for_pricing() if plan.api_access and plan.name]
    return names or ["Professional", "Enterprise"]


@dataclass(frozen=True)
class PlanRow:
    slug: str
    name: str
    price_cents: int | None  # None = custom
    generations: int | None
    models: str
    api_access: bool
    members: int | None
    custom_templates: bool
    white_label: bool
    purchasable: bool = False  # has a Stripe lookup key (Subscribe button)


def _plan_row(plan: Plan) -> PlanRow:
    return PlanRow(
        slug=plan.slug,
        name=plan.name,
        price_cents=plan.price_cents,
        generations=plan.generations_per_period,
        models=plan.models_label,
        api_access=plan.api_access,
        members=plan.max_members,
        custom_templates=plan.custom_templates,
        white_label=plan.white_label,
        purchasable=bool(plan.stripe_lookup_key),
    )


def plans_for_pricing() -> list[PlanRow]:
    return [_plan_row(p) for p in Plan.objects.filter(is_public=True)]


def free_plan() -> Plan:
    """The Free plan row, or its contract defaults if the table was emptied."""
    plan = Plan.objects.filter(slug="free").first()
    return plan if plan is not None else Plan(**DEFAULT_PLANS[0])


def billing_account_of(organization) -> BillingAccount | None:
    return BillingAccount.objects.select_related("plan").filter(organization=organization).first()


def entitlements_from(account: BillingAccount | None) -> Entitlements:
    plan = account.plan if account is not None and account.plan_id else free_plan()
    generations = plan.generations_per_period
    members = plan.max_members
    source, status, cap = "free", "", settings.BILLING_DAILY_CAP
    if account is not None:
        if account.generations_override is not None:
            generations = account.generations_override
        if generations is not None:
            generations += account.comped_generations
        if account.max_members_override is not None:
            members = account.max_members_override
        source, status = account.plan_source, account.subscription_status
        if account.daily_cap is not None:
            cap = account.daily_cap
    return Entitlements(
        plan_slug=plan.slug,
        plan_name=plan.name,
        generations_per_period=generations,
        advanced_models=plan.advanced_models,
        api_access=plan.api_access,
        max_members=members,
        custom_templates=plan.custom_templates,
        white_label=plan.white_label,
        plan_source=source,
        subscription_status=status,
        past_due=source == BillingAccount.PlanSource.STRIPE and status in PAST_DUE_STATUSES,
        daily_cap=cap,
    )


def entitlements_for(organization) -> Entitlements:
    return entitlements_from(billing_account_of(organization))


def plan_allows(organization: Organization, feature: Feature) -> bool:
    """The plan gate for an organisation (reads its billing account and plan)."""
    return entitlements_for(organization).allows(feature)


# --- periods ----------------------------------------------------------------------------


def add_months(dt: datetime, months: int) -> datetime:
    month0 = dt.month - 1 + months
    year, month = dt.year + month0 // 12, month0 % 12 + 1
    day = min(dt.day, calendar.monthrange(year, month)[1])
    return dt.replace(year=year, month=month, day=day)


def calendar_month(now: datetime) -> tuple[datetime, datetime]:
    start = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return start, add_months(start, 1)


def current_period(account: BillingAccount | None, now: datetime) -> tuple[datetime, datetime]:
    """The quota period containing ``now``: the subscription's period for Stripe plans
    (rolled forward month by month if the renewal webhook is late), else the calendar
    month (Free, comped and operator-assigned plans)."""
    if (
        account is not None
        and account.plan_source == BillingAccount.PlanSource.STRIPE
        and account.current_period_start is not None
        and account.current_period_end is not None
        and account.current_period_start <= now
    ):
        anchor = account.current_period_start
        start, end = anchor, account.current_period_end
        months = 0
        while now >= end:
            months += 1
            start, end = add_months(anchor, months), add_months(anchor, months + 1)
        return start, end
    return calendar_month(now)


def credits_balance(organization) -> int:
    value = (
        BillingAccount.objects.filter(organization=organization)
        .values_list("credit_balance", flat=True)
        .first()
    )
    return value or 0


def usage_for(organization) -> dict:
    """Contract shape of ``GET /api/v1/usage/``: plan, period_start, period_end (aware
    datetimes), used, limit (None = unlimited), credits."""
    account = billing_account_of(organization)
    ent = entitlements_from(account)
    start, end = current_period(account, timezone.now())
    used = (
        UsageCounter.objects.filter(organization=organization, period_start=start)
        .values_list("used", flat=True)
        .first()
    )
    return {
        "plan": ent.plan_slug,
        "period_start": start,
        "period_end": end,
        "used": used or 0,
        "limit": ent.generations_per_period,
        "credits": account.credit_balance if account is not None else 0,
    }


def usage_daily_history(organization, *, days: int = 30) -> list[tuple[date, int]]:
    """Platform generations per day for the last ``days`` days (zeros included)."""
    today = timezone.now().date()
    first = today - timedelta(days=days - 1)
    counts = dict(
        DailyUsage.objects.filter(organization=organization, day__gte=first).values_list(
            "day", "count"
        )
    )
    return [
        (first + timedelta(days=i), counts.get(first + timedelta(days=i), 0)) for i in range(days)
    ]


def credit_entries_for(organization, *, limit: int = 20):
    return CreditEntry.objects.filter(organization=organization)[:limit]


def trailing_daily_average(organization_id: int, day: date, *, window: int = 7) -> float:
    total = DailyUsage.objects.filter(
        organization_id=organization_id, day__gte=day - timedelta(days=window), day__lt=day
    ).aggregate(total=Sum("count"))["total"]
    return (total or 0) / window


def credit_price() -> tuple[int, str]:
    """Unit amount (cents) and currency of one generation credit."""
    price = StripePrice.objects.filter(lookup_key=CREDIT_LOOKUP_KEY).first()
    if price is not None:
        return price.unit_amount, price.currency
    return CREDIT_PRICE_CENTS, "usd"
