"""The default plans (contract table). Seeded by a data migration and by ``billing_sync``;
operators edit them in the admin afterwards, so seeding never overwrites existing rows."""

from __future__ import annotations

DEFAULT_PLANS: list[dict] = [
    {
        "slug": "free",
        "name": "Free",
        "price_cents": 0,
        "generations_per_period": 0,
        "advanced_models": False,
        "api_access": False,
        "max_members": 1,
        "custom_templates": False,
        "white_label": False,
        "stripe_lookup_key": "",
        "sort_order": 0,
    },
    {
        "slug": "basic",
        "name": "Basic",
        "price_cents": 9900,
        "generations_per_period": 10,
        "advanced_models": False,
        "api_access": False,
        "max_members": 1,
        "custom_templates": False,
        "white_label": False,
        "stripe_lookup_key": "crewbuilder_basic_monthly",
        "sort_order": 10,
    },
    {
        "slug": "professional",
        "name": "Professional",
        "price_cents": 29900,
        "generations_per_period": 50,
        "advanced_models": True,
        "api_access": True,
        "max_members": 10,
        "custom_templates": True,
        "white_label": False,
        "stripe_lookup_key": "crewbuilder_professional_monthly",
        "sort_order": 20,
    },
    {
        "slug": "enterprise",
        "name": "Enterprise",
        "price_cents": None,
        "generations_per_period": None,
        "advanced_models": True,
        "api_access": True,
        "max_members": None,
        "custom_templates": True,
        "white_label": True,
        "stripe_lookup_key": "",
        "sort_order": 30,
    },
]

CREDIT_LOOKUP_KEY = "crewbuilder_generation_credit"
CREDIT_PRICE_CENTS = 500
CREDIT_PRODUCT_NAME = "CrewBuilder AI generation credit"
