from __future__ import annotations

import pytest

from generation.analysis import analyse
from generation.checks import run_checks
from generation.design import validate_design
from generation.fallback import fallback_design
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
    results = run_checks(files=files, design=design, analysis=analyse(requirement))
    failed = [r for r in results if not r.passed]
    assert not failed, failed
    assert len(results) >= 13


def test_fallback_is_deterministic():
    a = fallback_design(requirement=REQUIREMENTS[0])
    b = fallback_design(requirement=REQUIREMENTS[0])
    assert a == b
    assert render_project(a) == render_project(b)


def test_tasks_follow_the_users_steps_in_order_and_are_chained():
    design = fallback_design(
        requirement="Research our top 3 competitors, compare their pricing, then write a memo"
    )
    assert [t.id for t in design.tasks] == ["research_task", "analyse_task", "write_task"]
    assert design.tasks[0].description.startswith("Research our top 3 competitors")
    ids = [t.id for t in design.tasks]
    assert design.tasks[0].context == []
    for i, task in enumerate(design.tasks[1:], 1):
        assert task.context == [ids[i - 1]]
    assert design.tasks[-1].output_file


def test_the_number_of_agents_and_tasks_follows_the_work():
    one = fallback_design(requirement="Summarise the attached notes.md")
    assert len(one.tasks) == 1 and len(one.agents) == 1
    many = fallback_design(
        requirement=(
            "Read sales.csv, find the five biggest changes, research why they happened, "
            "write a report, review it and email it to me"
        )
    )
    assert len(many.tasks) == 6
    assert 3 <= len(many.agents) <= 6


def test_roles_are_short_job_titles_not_the_requirement():
    requirement = (
        "Monitor competitor pricing pages weekly and email me a summary of any price changes"
    )
    design = fallback_design(requirement=requirement)
    for agent in design.agents:
        assert len(agent.role) <= 40
        assert "competitor" not in agent.role.lower()


def test_a_url_becomes_an_input_read_by_the_web_page_reader():
    design = fallback_design(
        requirement="I need a crew that compares https://example.com/pricing with rivals."
    )
    assert design.inputs["source_url"] == "https://example.com/pricing"
    task = next(t for t in design.tasks if "{source_url}" in t.description)
    assert "web_page_reader" in design.agent(task.agent).tools


def test_a_pasted_key_never_reaches_the_design():
    secret = "sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX1234"
    design = fallback_design(requirement=f"summarise news, key {secret}")
    assert secret not in design.model_dump_json()


def test_legacy_blueprint_domain_still_steers_the_roles():
    design = fallback_design(
        requirement="Help with our monthly work", blueprint={"domain": "customer_support"}
    )
    assert design.agents[0].role == "Support Triage Specialist"


def test_blueprint_title_override_applies_and_broken_overrides_are_ignored():
    good = fallback_design(requirement="Write a blog post", blueprint={"title": "Our blog crew"})
    assert good.title == "Our blog crew"
    bad = fallback_design(
        requirement="Write a blog post", blueprint={"tasks": [{"id": "x", "agent": "ghost"}]}
    )
    assert bad.tasks[0].id == "write_task"


def test_a_full_design_blueprint_contributes_structure_but_the_requirement_wins():
    # Changed with issue 11: a template no longer replaces the user's specifics. The
    # blueprint (research → write) adds its usual steps and role titles around the
    # user's own step; the subject, inputs and name come from the requirement.
    from tests.fakes.llm import sample_design

    design = fallback_design(
        requirement="Summarise solid-state battery startups in Europe", blueprint=sample_design()
    )
    assert [t.id for t in design.tasks] == ["research_task", "summarise_task", "write_task"]
    assert design.inputs["topic"] == "Solid-state battery startups in Europe"
    assert "EV batteries" not in design.model_dump_json()
    assert design.name == "solid_state_battery_crew"
    files = render_project(design)
    assert all(r.passed for r in run_checks(files=files, design=design))
