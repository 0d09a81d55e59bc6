from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from generation import selectors
from generation.analysis import analyse, roles_data
from generation.checks import run_checks
from generation.design import validate_design
from generation.fallback import fallback_design
from generation.models import CrewTemplate, Generation, LlmModel
from generation.renderer import render_project

pytestmark = pytest.mark.django_db


def test_catalogue_is_seeded_with_standard_and_advanced_models_for_both_providers():
    for provider in ("openai", "anthropic"):
        rows = LlmModel.objects.filter(provider=provider, active=True)
        classes = set(rows.values_list("model_class", flat=True))
        assert classes == {"standard", "advanced"}
        assert rows.filter(is_default=True).count() == 1
        assert rows.get(is_default=True).model_class == "standard"
        for row in rows:
            assert isinstance(row.input_cents_per_million, int) and row.input_cents_per_million > 0
            assert row.output_cents_per_million >= row.input_cents_per_million


def test_only_one_default_model_per_provider():
    with pytest.raises(IntegrityError), transaction.atomic():
        LlmModel.objects.create(
            provider="openai",
            name="another",
            input_cents_per_million=1,
            output_cents_per_million=1,
            is_default=True,
        )


def test_cost_is_computed_from_catalogue_prices_and_rounded_up_to_a_cent():
    row = LlmModel.objects.get(provider="openai", name="gpt-4o")  # 250 / 1000 ¢ per M
    assert (row.input_cents_per_million, row.output_cents_per_million) == (250, 1000)
    cost = selectors.llm_cost_cents
    assert cost(provider="openai", model="gpt-4o", input_tokens=0, output_tokens=0) == 0
    # 1M in + 1M out = 1250 ¢ exactly
    assert (
        cost(provider="openai", model="gpt-4o", input_tokens=1_000_000, output_tokens=1_000_000)
        == 1250
    )
    # 1,000 in + 500 out = 0.25 + 0.5 = 0.75 ¢ → 1 ¢
    assert cost(provider="openai", model="gpt-4o", input_tokens=1000, output_tokens=500) == 1
    assert cost(provider="fallback", model="fallback", input_tokens=99, output_tokens=99) == 0


def test_operators_price_changes_apply_to_the_next_cost():
    LlmModel.objects.filter(provider="openai", name="gpt-4o-mini").update(
        input_cents_per_million=1_000_000, output_cents_per_million=0
    )
    assert (
        selectors.llm_cost_cents(
            provider="openai", model="gpt-4o-mini", input_tokens=3, output_tokens=10
        )
        == 3
    )


STARTERS = {"content-marketing", "lead-research", "support-triage"}


def test_three_starter_blueprints_are_seeded_globally():
    starters = CrewTemplate.objects.filter(organization=None, active=True)
    assert STARTERS <= set(starters.values_list("slug", flat=True))
    for template in starters:
        assert template.requirement and template.description


@pytest.mark.parametrize("slug", sorted(STARTERS))
def test_starter_blueprint_is_a_valid_design_that_passes_every_check(slug):
    template = CrewTemplate.objects.get(organization=None, slug=slug)
    validate_design(template.blueprint)
    design = fallback_design(requirement=template.requirement, blueprint=template.blueprint)
    # The blueprint steers the structure (issue 11: it no longer replaces the user's
    # steps): its role titles are used for the kinds of work it covers.
    titles = set(roles_data()["templates"][template.blueprint["name"]]["roles"].values())
    assert titles & {a.role for a in design.agents}
    checks = run_checks(
        files=render_project(design), design=design, analysis=analyse(template.requirement)
    )
    assert [c.name for c in checks if not c.passed] == []


def test_idempotency_key_is_unique_per_organization_only(tenant):
    def make(org, key):
        return Generation.objects.create(
            organization=org,
            requirement="x" * 30,
            provider="fallback",
            model="fallback",
            key_source="platform",
            idempotency_key=key,
        )

    make(tenant.org, "k1")
    make(tenant.outsider_org, "k1")  # another organisation may reuse it
    make(tenant.org, None)
    make(tenant.org, None)  # absent keys never collide
    with pytest.raises(IntegrityError), transaction.atomic():
        make(tenant.org, "k1")


def test_org_template_slug_is_unique_per_org_but_not_across_orgs(tenant):
    CrewTemplate.objects.create(organization=tenant.org, slug="mine", name="Mine")
    CrewTemplate.objects.create(organization=tenant.outsider_org, slug="mine", name="Mine")
    with pytest.raises(IntegrityError), transaction.atomic():
        CrewTemplate.objects.create(organization=tenant.org, slug="mine", name="Again")
