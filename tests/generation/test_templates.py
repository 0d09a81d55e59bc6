"""Crew templates: starter blueprints for everyone, custom ones for plans that include them."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from billing.services import PlanNotAllowed
from generation import selectors, services
from generation.models import CrewTemplate
from tests.fakes.llm import sample_design
from tests.generation.conftest import assign_plan

pytestmark = pytest.mark.django_db

STARTERS = ["content-marketing", "lead-research", "support-triage"]


def test_every_organisation_sees_the_starters(tenant):
    for org in (tenant.org, tenant.outsider_org):
        slugs = list(selectors.crew_templates_for(organization=org).values_list("slug", flat=True))
        assert slugs[:3] == sorted(STARTERS, key=lambda s: CrewTemplate.objects.get(slug=s).name)


def test_custom_templates_need_the_plan(tenant):
    with pytest.raises(PlanNotAllowed):
        services.crew_template_create(organization=tenant.org, actor=tenant.owner, name="Mine")
    assign_plan(tenant.org, "basic")
    with pytest.raises(PlanNotAllowed):
        services.crew_template_create(organization=tenant.org, actor=tenant.owner, name="Mine")
    assert not CrewTemplate.objects.filter(organization=tenant.org).exists()


def test_member_saves_a_template_visible_to_the_organisation_only(tenant):
    assign_plan(tenant.org, "professional")
    template = services.crew_template_create(
        organization=tenant.org,
        actor=tenant.member,
        name="Market watch",
        description="Weekly market report",
        requirement="Watch the EV battery market and report weekly to executives.",
        blueprint=sample_design(),
    )
    assert (template.slug, template.organization, template.created_by) == (
        "market-watch",
        tenant.org,
        tenant.member,
    )
    assert selectors.crew_template_for(organization=tenant.org, slug="market-watch") == template
    assert (
        selectors.crew_template_for(organization=tenant.outsider_org, slug="market-watch") is None
    )
    with pytest.raises(ValidationError) as exc:
        services.generation_create(
            organization=tenant.outsider_org,
            user=tenant.outsider,
            requirement="Watch the EV battery market and report weekly to executives.",
            key_source="platform",
            provider="openai",
            template="market-watch",
        )
    assert "template" in exc.value.message_dict


def test_a_name_that_collides_gets_a_fresh_slug_never_a_starters(tenant):
    assign_plan(tenant.org, "professional")
    first = services.crew_template_create(
        organization=tenant.org, actor=tenant.owner, name="Lead research"
    )
    second = services.crew_template_create(
        organization=tenant.org, actor=tenant.owner, name="Lead research"
    )
    assert (first.slug, second.slug) == ("lead-research-2", "lead-research-3")
    # the starter stays reachable and unchanged
    assert CrewTemplate.objects.get(organization=None, slug="lead-research").name == "Lead research"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "ok", "requirement": "short"}, "requirement"),
        ({"name": "ok", "blueprint": {"name": "Bad Name", "agents": []}}, "blueprint"),
    ],
)
def test_bad_template_input_is_a_field_error(tenant, kwargs, field):
    assign_plan(tenant.org, "professional")
    with pytest.raises(ValidationError) as exc:
        services.crew_template_create(organization=tenant.org, actor=tenant.owner, **kwargs)
    assert field in exc.value.message_dict
    assert not CrewTemplate.objects.filter(organization=tenant.org).exists()


def test_viewer_cannot_save_templates_and_starters_cannot_be_deleted(tenant, viewer):
    assign_plan(tenant.org, "professional")
    with pytest.raises(PermissionDenied):
        services.crew_template_create(organization=tenant.org, actor=viewer, name="Nope")
    starter = CrewTemplate.objects.get(organization=None, slug="support-triage")
    with pytest.raises(PermissionDenied):
        services.crew_template_delete(template=starter, actor=tenant.owner)
    mine = services.crew_template_create(organization=tenant.org, actor=tenant.owner, name="Mine")
    services.crew_template_delete(template=mine, actor=tenant.member)
    assert not CrewTemplate.objects.filter(pk=mine.pk).exists()


def test_custom_templates_are_kept_but_not_offered_after_a_downgrade(tenant):
    assign_plan(tenant.org, "professional")
    template = services.crew_template_create(
        organization=tenant.org,
        actor=tenant.owner,
        name="Market watch",
        requirement="Watch the EV battery market and report weekly to executives.",
        blueprint=sample_design(),
    )
    assign_plan(tenant.org, "basic")
    assert selectors.crew_template_for(organization=tenant.org, slug="market-watch") is None
    with pytest.raises(ValidationError) as exc:
        services.generation_create(
            organization=tenant.org,
            user=tenant.owner,
            requirement="Watch the EV battery market and report weekly to executives.",
            key_source="platform",
            provider="openai",
            template="market-watch",
        )
    assert "template" in exc.value.message_dict
    assert CrewTemplate.objects.filter(pk=template.pk).exists()
    assign_plan(tenant.org, "professional")  # upgrading brings it back
    assert selectors.crew_template_for(organization=tenant.org, slug="market-watch") == template
