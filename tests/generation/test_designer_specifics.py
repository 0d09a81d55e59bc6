"""The built-in designer keeps what the customer said about themselves and the rules they
set, in the tasks that do the work (not only in the 500-character {brief}); the fit check
notices a design that drops a rule."""

from __future__ import annotations

from generation.analysis import analyse
from generation.fallback import fallback_design
from generation.fit import fit_report

CLINIC = (
    "We are a physiotherapy practice in Graz with three therapists. Our booking system "
    "exports visits.csv every evening. Find the patients who cancelled in the last 14 days "
    "and draft a short message inviting each patient to rebook. Never mention the reason "
    "for the visit. Keep the tone warm."
)


def test_rules_reach_every_task_and_background_the_working_tasks():
    design = fallback_design(requirement=CLINIC)
    for task in design.tasks:
        assert "Never mention the reason for the visit." in task.description
        assert "Keep the tone warm." in task.description
    writer = next(t for t in design.tasks if t.id.startswith("write"))
    assert "physiotherapy practice in Graz" in writer.description


def test_the_fit_check_lists_each_rule_and_catches_a_design_that_drops_one():
    analysis = analyse(CLINIC)
    design = fallback_design(requirement=CLINIC)
    report = fit_report(analysis, design)
    assert report.passed, report.summary()
    assert [i.label for i in report.items if i.kind == "rule"] == [
        "Never mention the reason for the visit",
        "Keep the tone warm",
    ]
    data = design.model_dump(mode="json")
    for task in data["tasks"]:
        task["description"] = task["description"].replace("Never mention the reason", "")
        task["description"] = task["description"].replace("for the visit.", "")
    dropped = fit_report(analysis, type(design).model_validate(data))
    assert [i.label for i in dropped.missed] == ["Never mention the reason for the visit"]
