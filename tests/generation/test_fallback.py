from __future__ import annotations

import pytest

from generation.checks import run_checks
from generation.design import validate_design
from generation.fallback import fallback_design, pick_domain
from generation.renderer import render_project

REQUIREMENTS = [
    "Write weekly LinkedIn posts about our B2B SaaS product",
    "Find 20 dental clinics in Lyon that might buy our scheduling software and draft outreach",
    "Triage incoming Zendesk tickets and draft replies for refunds",
    "Analyse our monthly revenue CSV and forecast next quarter",
    "Review pull requests in our Python API for security bugs",
    "Screen resumes for a senior backend engineer job",
    "Plan a 5-day trip to Kyoto in April for a family of four",
    "Check our privacy policy against GDPR",
    "Create a course with quizzes on introductory statistics",
    "Monitor competitor news in the EV battery market",
    "x",
    "",
    "   \n\t  ",
    "🙂🚀🔥",
    "Разработать команду для анализа рынка недвижимости в Москве",
    "為我們的電子商務網站撰寫產品描述",
    "def class import lambda None True",
    "Use my key sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX1234 to summarise {the} {news} about json",
    "a" * 5000,
    "Research https://example.com/pricing and compare it with our pricing page; "
    "output a table. Also: {placeholder} and }{ braces, quotes ' \" and backslashes \\",
]


@pytest.mark.parametrize("requirement", REQUIREMENTS)
def test_fallback_always_yields_a_project_passing_every_check(requirement):
    design = fallback_design(requirement=requirement)
    validate_design(design.model_dump())  # a round trip through JSON-like data stays valid
    files = render_project(design)
    results = run_checks(files=files, design=design)
    failed = [r for r in results if not r.passed]
    assert not failed, failed
    assert len(results) >= 10


def test_fallback_is_deterministic():
    a = fallback_design(requirement=REQUIREMENTS[0])
    b = fallback_design(requirement=REQUIREMENTS[0])
    assert a == b
    assert render_project(a) == render_project(b)


@pytest.mark.parametrize(
    ("requirement", "domain"),
    [
        (REQUIREMENTS[0], "content_marketing"),
        (REQUIREMENTS[1], "lead_research"),
        (REQUIREMENTS[2], "customer_support"),
        (REQUIREMENTS[3], "data_analysis"),
        (REQUIREMENTS[4], "software_engineering"),
        (REQUIREMENTS[5], "recruiting"),
        (REQUIREMENTS[6], "travel_events"),
        (REQUIREMENTS[7], "legal_compliance"),
        (REQUIREMENTS[8], "education"),
        (REQUIREMENTS[9], "research"),
        ("", "research"),
    ],
)
def test_domain_keywords_pick_the_roles(requirement, domain):
    assert pick_domain(requirement).key == domain


def test_tasks_are_chained_by_context_and_the_last_writes_a_file():
    design = fallback_design(requirement="Triage support tickets")
    ids = [t.id for t in design.tasks]
    assert design.tasks[0].context == []
    for i, task in enumerate(design.tasks[1:], 1):
        assert task.context == [ids[i - 1]]
    assert design.tasks[-1].output_file


def test_inputs_are_extracted_from_the_requirement():
    design = fallback_design(
        requirement="I need a crew that compares https://example.com/pricing with rivals."
    )
    assert design.inputs["topic"].startswith("Compares")
    assert design.inputs["source_url"] == "https://example.com/pricing"
    assert "{source_url}" in design.tasks[0].description


def test_a_pasted_key_never_reaches_the_design():
    secret = "sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX1234"
    design = fallback_design(requirement=f"summarise news, key {secret}")
    assert secret not in design.model_dump_json()


def test_blueprint_domain_steers_the_design():
    design = fallback_design(
        requirement="Help with our monthly work", blueprint={"domain": "customer_support"}
    )
    assert [a.id for a in design.agents][0] == "triage_specialist"


def test_blueprint_overrides_apply_when_valid_and_are_ignored_when_not():
    good = fallback_design(requirement="Write a blog post", blueprint={"title": "Our blog crew"})
    assert good.title == "Our blog crew"
    bad = fallback_design(
        requirement="Write a blog post", blueprint={"tasks": [{"id": "x", "agent": "ghost"}]}
    )
    assert bad.tasks[0].id == "research_task"


def test_a_full_design_blueprint_keeps_its_crew_and_takes_the_subject_from_the_requirement():
    from tests.fakes.llm import sample_design

    blueprint = sample_design()
    design = fallback_design(
        requirement="Solid-state battery startups in Europe", blueprint=blueprint
    )
    assert [a.id for a in design.agents] == ["researcher", "writer"]
    assert design.inputs == {"topic": "Solid-state battery startups in Europe"}
    assert design.name == "solid_state_battery_crew"
    empty = fallback_design(requirement="", blueprint=blueprint)
    assert empty.inputs == {"topic": "EV batteries"}
    files = render_project(design)
    assert all(r.passed for r in run_checks(files=files, design=design))
