"""The fit check: a design must honour what the requirement named (or say it cannot).
On the LLM path a misfit triggers the repair round with the misses listed; a design that
still fits only partly succeeds with a clear warning, one that fits nothing fails."""

from __future__ import annotations

import copy
import json

import pytest

from generation.analysis import analyse
from generation.checks import run_checks
from generation.design import validate_design
from generation.fallback import fallback_design
from generation.fit import fit_report
from generation.renderer import render_project
from tests.generation.conftest import assign_plan, create_generation

pytestmark = pytest.mark.django_db

LINKEDIN = "Write three LinkedIn posts every Monday about our B2B scheduling app, in German"
INVOICES = "Chase overdue invoices from invoices.csv and email reminders to each client"


def design_for(requirement: str) -> dict:
    return fallback_design(requirement=requirement).model_dump(mode="json")


def test_the_built_in_design_fits_and_the_check_says_so():
    design = fallback_design(requirement=LINKEDIN)
    report = fit_report(analyse(LINKEDIN), design)
    assert report.passed, report.summary()
    kinds = {i.kind for i in report.items}
    assert {"subject", "service", "schedule", "language", "quantity"} <= kinds
    checks = run_checks(files=render_project(design), design=design, analysis=analyse(LINKEDIN))
    assert checks[-1].name == "requirement_fit" and checks[-1].passed


def test_a_design_for_another_requirement_fits_nothing():
    report = fit_report(analyse(LINKEDIN), validate_design(design_for(INVOICES)))
    assert report.nothing_fits
    assert "fits partly (0 of" in report.summary()


@pytest.mark.parametrize(
    ("mutate", "missed_kind"),
    [
        (lambda d: d["agents"][0]["tools"].clear(), "file"),
        (lambda d: d.pop("schedule"), "schedule"),
        (lambda d: d["tasks"][-1].update(description="Send it."), "language"),
        (lambda d: [t.pop("output_file", None) for t in d["tasks"]], "output"),
        (
            lambda d: [
                a["tools"].remove("email_sender")
                for a in d["agents"]
                if "email_sender" in a["tools"]
            ],
            "service",
        ),  # noqa: E501
    ],
)
def test_each_dropped_item_is_caught(mutate, missed_kind):
    requirement = (
        "Every Friday at 9, read orders.csv, write a summary in German into summary.md and "
        "email it to me"
    )
    data = design_for(requirement)
    assert fit_report(analyse(requirement), validate_design(data)).passed
    broken = copy.deepcopy(data)
    mutate(broken)
    report = fit_report(analyse(requirement), validate_design(broken))
    assert missed_kind in {i.kind for i in report.missed}, report.summary()


def test_an_unsupported_service_must_be_declared():
    requirement = "Add every new lead from leads.csv to HubSpot"
    data = design_for(requirement)
    assert any(i["name"] == "HubSpot (not connected)" for i in data["integrations"])
    assert fit_report(analyse(requirement), validate_design(data)).passed
    data["integrations"] = []
    for task in data["tasks"]:
        task["description"] = task["description"].replace("HubSpot", "the CRM")
    report = fit_report(analyse(requirement), validate_design(data))
    assert [i.label for i in report.missed] == ["HubSpot"]


# ------------------------------------------------------------------ the LLM path, end to end


@pytest.fixture
def llm(tenant, platform_openai):
    assign_plan(tenant.org, "basic")
    return platform_openai


def run(tenant, capture, requirement):
    return create_generation(tenant, capture, requirement=requirement)


def test_the_analysis_goes_into_the_prompt(tenant, llm, django_capture_on_commit_callbacks):
    llm.push_design(design_for(LINKEDIN))
    g = run(tenant, django_capture_on_commit_callbacks, LINKEDIN)
    assert g.status == "succeeded"
    prompt = llm.requests[0].body["messages"][-1]["content"]
    assert "What the user asked for" in prompt
    assert "LinkedIn (mention; no built-in tool: must be declared)" in prompt
    assert "outputs in German" in prompt


def test_the_black_box_fake_answers_each_requirement_with_a_crew_that_fits(
    tenant, llm, django_capture_on_commit_callbacks
):
    # CI's black-box stages (production smoke, upgrade) run the fake as its own process
    # with Reply("fit") as the default: the design it serves must pass the fit check on the
    # LLM path for whatever the journey asks, and come from the prompt's requirement.
    from tests.fakes.llm import Reply

    llm.default = Reply("fit")
    for requirement in (LINKEDIN, INVOICES):
        g = run(tenant, django_capture_on_commit_callbacks, requirement)
        assert (g.status, g.provider) == ("succeeded", "openai"), g.error_message
        assert g.design["name"] == design_for(requirement)["name"]
        assert next(c for c in g.checks if c["name"] == "requirement_fit")["passed"]
    assert len(llm.requests) == 2  # each fitted at the first try, no repair round


def test_a_misfit_is_repaired_with_the_misses_listed(
    tenant, llm, django_capture_on_commit_callbacks, charge_calls
):
    llm.push_design(design_for(INVOICES))  # an invoice-chasing crew for a LinkedIn request
    llm.push_design(design_for(LINKEDIN))
    g = run(tenant, django_capture_on_commit_callbacks, LINKEDIN)
    assert (g.status, g.notice) == ("succeeded", "")
    assert len(llm.requests) == 2
    repair = llm.requests[1].body["messages"][-1]["content"]
    assert "requirement_fit: about: " in repair
    assert "requirement_fit: every Monday at 08:00 (assumed) — no schedule in the design" in repair
    assert next(c for c in g.checks if c["name"] == "requirement_fit")["passed"]
    assert charge_calls["commit"] == [g.id]


def test_a_design_that_still_fits_partly_succeeds_with_a_clear_warning(
    tenant, llm, django_capture_on_commit_callbacks, client
):
    partial = design_for(LINKEDIN)
    partial.pop("schedule")
    llm.push_design(partial)
    llm.push_design(partial)
    g = run(tenant, django_capture_on_commit_callbacks, LINKEDIN)
    assert g.status == "succeeded"
    assert g.notice.startswith("Fits partly: missing every Monday at 08:00")
    fit = next(c for c in g.checks if c["name"] == "requirement_fit")
    assert not fit["passed"] and "no schedule in the design" in fit["message"]
    client.force_login(tenant.owner)
    page = client.get(f"/generations/{g.id}/").content.decode()
    assert "What we understood" in page and "Fit check: the crew fits only partly." in page
    assert "LinkedIn (mention; no built-in tool: must be declared)" in page


def test_a_design_that_fits_nothing_fails_and_gives_the_charge_back(
    tenant, llm, django_capture_on_commit_callbacks, charge_calls
):
    llm.push_design(design_for(INVOICES))
    llm.push_design(design_for(INVOICES))
    g = run(tenant, django_capture_on_commit_callbacks, LINKEDIN)
    assert (g.status, g.error_code) == ("failed", "design_does_not_fit")
    assert "does not fit the requirement" in g.error_message
    assert charge_calls == {"commit": [], "release": [g.id]}
    assert json.dumps(g.checks).count("requirement_fit") == 1


def test_what_we_understood_is_shown_and_only_to_the_organisation(
    tenant, django_capture_on_commit_callbacks, client
):
    g = run(tenant, django_capture_on_commit_callbacks, INVOICES)
    client.force_login(tenant.owner)
    page = client.get(f"/generations/{g.id}/").content.decode()
    assert '<h2 id="understood-heading">What we understood</h2>' in page
    assert "invoices.csv (csv file)" in page and "Fit check passed:" in page
    client.force_login(tenant.outsider)
    assert client.get(f"/generations/{g.id}/").status_code == 404


def test_the_rules_the_user_set_are_shown_under_rules(
    tenant, django_capture_on_commit_callbacks, client
):
    g = run(tenant, django_capture_on_commit_callbacks, INVOICES + ". Never threaten legal action.")
    client.force_login(tenant.owner)
    page = client.get(f"/generations/{g.id}/").content.decode()
    assert "<dt>Rules</dt>" in page and "Never threaten legal action" in page
    assert "Fit check passed:" in page
