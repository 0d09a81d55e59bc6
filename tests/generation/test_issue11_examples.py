"""The seven examples of issue 11 ("Crews that fit the requirement"), each as a test:
the built-in designer produces what the user asked for, or says honestly what it cannot."""

from __future__ import annotations

import json

import pytest

from generation.analysis import analyse
from generation.checks import run_checks
from generation.fallback import fallback_design
from generation.models import CrewTemplate
from generation.renderer import render_project


def build(requirement: str, **kwargs):
    design = fallback_design(requirement=requirement, **kwargs)
    files = render_project(design)
    checks = run_checks(files=files, design=design, analysis=analyse(requirement))
    assert [c.message for c in checks if not c.passed] == []
    return design, files


def reader_of(design, needle: str):
    """(task, agent tools) of the task whose description names ``needle``."""
    task = next(t for t in design.tasks if needle in t.description)
    return task, design.agent(task.agent).tools


def test_1_github_issues_are_triaged_and_labelled_through_github():
    design, files = build("Triage new GitHub issues and label them")
    text = json.dumps(design.model_dump()).lower()
    assert "implementation" not in text and "with tests" not in text
    tools = {t for a in design.agents for t in a.tools}
    assert {"github_issue_reader", "github_issue_labeler"} <= tools
    assert [t.id for t in design.tasks] == ["classify_task", "label_task"]
    assert "GitHubLabelTool" in files[f"src/{design.name}/crew.py"]
    assert "GITHUB_TOKEN=" in files[".env.example"]


ESTATE_SPEC = """We are a small real-estate agency in Porto. Every week we export the new enquiries
from our website to leads.csv (name, email, budget, area, message).

I want a crew that reads leads.csv, scores each lead from 1 to 5 by how serious and
reachable they seem, and matches them to the areas we cover (Boavista, Foz, Baixa).

Then draft a short personal reply for every lead with a score of 4 or more, in
Portuguese, and save everything to leads_report.md for our agents."""


def test_2_a_long_spec_naming_leads_csv_reads_it_and_writes_the_report():
    design, files = build(ESTATE_SPEC)
    task, tools = reader_of(design, "data/leads.csv")
    assert "csv_reader" in tools
    assert design.tasks[0] is task
    assert "organisations that match" not in json.dumps(design.model_dump())
    assert any(t.output_file == "output/leads_report.md" for t in design.tasks)
    assert all("Portuguese" in t.description for t in design.tasks)
    assert "data/leads.csv" in files["data/README.md"]


def test_3_named_files_are_wired_to_readers():
    design, _ = build("Write SEO blog posts from keywords.csv")
    _, tools = reader_of(design, "data/keywords.csv")
    assert "csv_reader" in tools
    design, files = build("Check our policy.md and requirements.txt for licence problems")
    for name in ("policy.md", "requirements.txt"):
        _, tools = reader_of(design, f"data/{name}")
        assert "file_reader" in tools
        assert f"data/{name}" in files["README.md"]
    assert 'FileReadTool(base_dir="data")' in files[f"src/{design.name}/crew.py"]


def test_4_email_me_label_them_and_since_last_week_each_get_a_tool_and_a_step():
    design, _ = build(
        "Monitor our competitors' pricing pages since last week, label the GitHub issues "
        "they affect and email me a summary"
    )
    tools = {t for a in design.agents for t in a.tools}
    assert {"email_sender", "github_issue_labeler"} <= tools
    assert any("since last week" in t.description for t in design.tasks)
    send = next(t for t in design.tasks if "email_sender" in design.agent(t.agent).tools)
    assert "EMAIL_TO" in send.description


def test_5_roles_are_short_job_titles_a_manager_can_name():
    requirement = (
        "Monitor competitor pricing pages weekly and email me a summary of any price changes"
    )
    design, files = build(requirement)
    for agent in design.agents:
        assert len(agent.role) <= 40 and "pricing" not in agent.role.lower()
    assert [a.role for a in design.agents] == ["Monitoring Analyst", "Communications Coordinator"]


@pytest.mark.parametrize(
    ("requirement", "language", "not_name"),
    [
        (
            "Jeden Montag um 8 Uhr die Preise unserer Konkurrenten prüfen und eine "
            "Zusammenfassung per E-Mail an mich senden",
            "German",
            "research_crew",
        ),
        (
            "毎週月曜日の朝8時に競合他社の価格ページを調べて、変更点を要約し、メールで送ってください。",
            "Japanese",
            "research_crew",
        ),
    ],
)
def test_6_non_english_requests_get_the_output_language_rule_in_every_task(
    requirement, language, not_name
):
    design, files = build(requirement)
    assert all(f"Write your answer in {language}" in t.description for t in design.tasks)
    assert design.name != not_name
    assert design.schedule is not None and design.schedule.cron == "0 8 * * 1"
    assert ".github/workflows/crew.yml" in files


@pytest.mark.django_db
def test_7_a_starter_template_keeps_the_users_requirement():
    template = CrewTemplate.objects.get(organization=None, slug="support-triage")
    requirement = "Answer customer emails about late deliveries for our online plant shop"
    design, files = build(requirement, blueprint=template.blueprint)
    everything = "\n".join(files.values())
    assert "plant" in everything
    assert "tickets.csv" not in everything and "Acme CRM" not in everything
    # the template's structure: classify → reply → review, with its role titles
    assert [t.id for t in design.tasks] == ["classify_task", "reply_task", "review_task"]
    assert design.agents[0].role == "Support Triage Specialist"
    # reading the inbox is not built in: said in the task and in the README
    assert "data/emails/" in design.tasks[0].description
    assert "Email inbox (not connected)" in files["README.md"]


def test_the_size_of_the_crew_follows_the_work():
    sizes = {
        len(fallback_design(requirement=r).tasks)
        for r in (
            "Summarise notes.md",
            "Triage new GitHub issues and label them",
            "Read sales.csv, find the five biggest changes, research why, write a report, "
            "review it and email it to me",
        )
    }
    assert sizes == {1, 2, 6}
