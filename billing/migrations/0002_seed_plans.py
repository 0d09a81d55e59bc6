# Seeds the contract's plans; existing rows (edited by operators) are left alone.
from __future__ import annotations

from django.db import migrations

PLANS = [
    ("free", "Free", 0, 0, False, False, 1, False, False, "", 0),
    ("basic", "Basic", 9900, 10, False, False, 1, False, False, "crewbuilder_basic_monthly", 10),
    (
        "professional",
        "Professional",
        29900,
        50,
        True,
        True,
        10,
        True,
        False,
        "crewbuilder_professional_monthly",
        20,
    ),
    ("enterprise", "Enterprise", None, None, True, True, None, True, True, "", 30),
]


def seed(apps, schema_editor):
    Plan = apps.get_model("billing", "Plan")
    for slug, name, price, gens, adv, api, members, tpl, wl, lookup, order in PLANS:
        Plan.objects.get_or_create(
            slug=slug,
            defaults={
                "name": name,
                "price_cents": price,
                "generations_per_period": gens,
                "advanced_models": adv,
                "api_access": api,
                "max_members": members,
                "custom_templates": tpl,
                "white_label": wl,
                "stripe_lookup_key": lookup,
                "sort_order": order,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
