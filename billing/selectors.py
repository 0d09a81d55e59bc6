"""Billing reads. ``entitlements_for`` is the one answer to "what may this organisation do"
(placeholder until the billing issue stores plans and subscriptions in the database)."""

from __future__ import annotations

from dataclasses import dataclass


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


PLANS: list[PlanRow] = [
    PlanRow("free", "Free", 0, 0, "—", False, 1, False, False),
    PlanRow("basic", "Basic", 9900, 10, "standard", False, 1, False, False),
    PlanRow(
        "professional", "Professional", 29900, 50, "standard + advanced", True, 10, True, False
    ),
    PlanRow("enterprise", "Enterprise", None, None, "all", True, None, True, True),
]


def plans_for_pricing() -> list[PlanRow]:
    return PLANS


def entitlements_for(organization) -> Entitlements:
    return Entitlements(
        plan_slug="free",
        plan_name="Free",
        generations_per_period=0,
        advanced_models=False,
        api_access=False,
        max_members=None,
        custom_templates=False,
        white_label=False,
    )
