"""The built-in designer keeps what the customer said about themselves and the rules they
set, in the tasks that do the work (not only in the 500-character {brief}); the fit check
notices a design that drops a rule. Spreadsheets, PDFs and Word files are read as named."""

from __future__ import annotations

from generation.analysis import analyse
from generation.checks import run_checks
from generation.fallback import fallback_design
from generation.fit import fit_report
from generation.renderer import render_project

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


def test_spreadsheets_pdfs_and_word_files_are_read_as_named_by_the_document_reader():
    requirement = (
        "Check invoices.xlsx against the terms in contract.pdf and the notes in call.docx, "
        "then list the invoices that break the terms"
    )
    design = fallback_design(requirement=requirement)
    reader = design.tasks[0]
    for name in ("invoices.xlsx", "contract.pdf", "call.docx"):
        assert f'data/{name} with the document reader tool (path "{name}")' in reader.description
    assert "document_reader" in design.agent(reader.agent).tools
    assert fit_report(analyse(requirement), design).passed

    files = render_project(design)
    assert "class DocumentReaderTool(BaseTool)" in files[f"src/{design.name}/tools/custom_tool.py"]
    assert "def test_document_reader_reads_spreadsheets_pdfs" in files["tests/test_tools.py"]
    assert '"openpyxl>=3.1.5"' in files["pyproject.toml"]
    assert '"pdfplumber>=0.11.4"' in files["pyproject.toml"]
    assert "- `data/invoices.xlsx`" in files["data/README.md"]
    checks = run_checks(files=files, design=design, analysis=analyse(requirement))
    assert all(c.passed for c in checks), [c for c in checks if not c.passed]


def test_older_binary_formats_are_converted_first_and_projects_without_documents_add_no_deps():
    design = fallback_design(requirement="Summarise budget.xls for the board")
    assert "save it as data/budget.csv" in design.tasks[0].description
    assert "document_reader" not in {t for a in design.agents for t in a.tools}
    assert "openpyxl" not in render_project(design)["pyproject.toml"]
