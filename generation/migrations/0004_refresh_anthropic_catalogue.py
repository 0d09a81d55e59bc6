"""Refresh the Anthropic part of the catalogue.

claude-3-5-haiku-latest and claude-opus-4-1 are not known to the pinned SDK (retired), and
the SDK marks claude-sonnet-4-5 end-of-life on 2026-11-30. Default to claude-haiku-4-5 and
offer Sonnet 4.6 / Opus 4.6 as advanced models. List prices in US cents per million tokens;
operators keep them current in the admin.
"""

from __future__ import annotations

from django.db import migrations

RETIRED = ["claude-3-5-haiku-latest", "claude-opus-4-1", "claude-sonnet-4-5"]
ADDED = [
    # name, label, class, input ¢/M, output ¢/M, order
    ("claude-sonnet-4-6", "Claude Sonnet 4.6", "advanced", 300, 1500, 25),
    ("claude-opus-4-6", "Claude Opus 4.6", "advanced", 500, 2500, 35),
]


def refresh(apps, schema_editor):
    LlmModel = apps.get_model("generation", "LlmModel")
    anthropic = LlmModel.objects.filter(provider="anthropic")
    anthropic.filter(name__in=RETIRED).update(active=False, is_default=False)
    for name, label, model_class, pin, pout, order in ADDED:
        LlmModel.objects.get_or_create(
            provider="anthropic",
            name=name,
            defaults={
                "label": label,
                "model_class": model_class,
                "input_cents_per_million": pin,
                "output_cents_per_million": pout,
                "sort_order": order,
            },
        )
    if not anthropic.filter(is_default=True).exists():
        anthropic.filter(name="claude-haiku-4-5").update(is_default=True, active=True)


def restore(apps, schema_editor):
    LlmModel = apps.get_model("generation", "LlmModel")
    anthropic = LlmModel.objects.filter(provider="anthropic")
    anthropic.filter(name__in=[a[0] for a in ADDED]).delete()
    anthropic.update(is_default=False)
    anthropic.filter(name__in=RETIRED).update(active=True)
    anthropic.filter(name="claude-3-5-haiku-latest").update(is_default=True)


class Migration(migrations.Migration):
    dependencies = [("generation", "0003_generation_notice")]
    operations = [migrations.RunPython(refresh, restore)]
