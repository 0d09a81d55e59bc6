from __future__ import annotations

import re

import pytest

from generation.checks import CHECKS, failures, run_checks
from generation.design import validate_design
from generation.renderer import render_project
from tests.generation.test_design import VALID

PKG = "src/market_watch"


@pytest.fixture
def design():
    return validate_design(VALID)


@pytest.fixture
def files(design):
    return render_project(design)


def result(files, design, name):
    return next(r for r in run_checks(files=files, design=design) if r.name == name)


def test_a_rendered_project_passes_every_check(files, design):
    results = run_checks(files=files, design=design)
    assert [r.name for r in results] == [name for name, _ in CHECKS]
    assert all(r.passed for r in results), failures(results)
    assert failures(results) == []


def test_missing_required_file_fails(files, design):
    del files[f"{PKG}/tools/custom_tool.py"]
    r = result(files, design, "required_files")
    assert not r.passed and "tools/custom_tool.py" in r.message


def test_missing_tests_folder_fails(files, design):
    del files["tests/test_smoke.py"]
    r = result(files, design, "required_files")
    assert not r.passed and "tests/test_*.py" in r.message


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda t: t + "\n[[[", "does not parse"),
        (lambda t: t.replace('type = "crew"', 'type = "flow"'), 'type must be "crew"'),
        (lambda t: re.sub(r'\n    "crewai\[tools\][^"]*",', "", t), "include crewai"),
        (lambda t: t.replace("run_with_trigger =", "go ="), "run_with_trigger"),
        (lambda t: t.replace("run_crew =", "go ="), "run_crew"),
    ],
)
def test_broken_pyproject_fails(files, design, mutate, fragment):
    files["pyproject.toml"] = mutate(files["pyproject.toml"])
    r = result(files, design, "pyproject")
    assert not r.passed and fragment in r.message


def test_unparseable_yaml_fails(files, design):
    files[f"{PKG}/config/tasks.yaml"] = "research_task: [unclosed\n  - x: {"
    r = result(files, design, "yaml_parses")
    assert not r.passed and "does not parse" in r.message


def test_yaml_entry_without_goal_fails(files, design):
    files[f"{PKG}/config/agents.yaml"] = "researcher:\n  role: R\n  backstory: B\n"
    r = result(files, design, "yaml_parses")
    assert not r.passed and "goal" in r.message


def test_task_with_unknown_agent_fails(files, design):
    path = f"{PKG}/config/tasks.yaml"
    files[path] = files[path].replace("agent: writer", "agent: ghost")
    r = result(files, design, "task_agents_exist")
    assert not r.passed and "ghost" in r.message


def test_forward_context_reference_fails(files, design):
    path = f"{PKG}/config/tasks.yaml"
    files[path] = files[path].replace(
        "  agent: researcher\n", "  agent: researcher\n  context:\n  - write_task\n"
    )
    r = result(files, design, "task_context_order")
    assert not r.passed and "later task" in r.message


def test_self_context_fails(files, design):
    path = f"{PKG}/config/tasks.yaml"
    files[path] = files[path].replace("  - research_task", "  - write_task")
    r = result(files, design, "task_context_order")
    assert not r.passed and "itself" in r.message


def test_agent_method_not_in_yaml_fails(files, design):
    path = f"{PKG}/crew.py"
    files[path] = files[path].replace("def writer(self)", "def editor(self)")
    r = result(files, design, "crew_methods_match_yaml")
    assert not r.passed
    assert "only in crew.py: editor" in r.message and "only in YAML: writer" in r.message


def test_missing_task_method_fails(files, design):
    path = f"{PKG}/crew.py"
    files[path] = files[path].replace("    @task\n    def write_task", "    def write_task")
    r = result(files, design, "crew_methods_match_yaml")
    assert not r.passed and "write_task" in r.message


def test_missing_crewbase_class_fails(files, design):
    path = f"{PKG}/crew.py"
    files[path] = files[path].replace("@CrewBase\n", "")
    r = result(files, design, "crew_methods_match_yaml")
    assert not r.passed and "@CrewBase" in r.message


def test_python_that_does_not_compile_fails(files, design):
    files[f"{PKG}/main.py"] += "\ndef broken(:\n"
    r = result(files, design, "python_compiles")
    assert not r.passed and "main.py" in r.message


def test_placeholder_not_supplied_by_main_inputs_fails(files, design):
    path = f"{PKG}/config/tasks.yaml"
    files[path] = files[path].replace("Write a report.", "Write a report for {audience}.")
    r = result(files, design, "placeholders_supplied")
    assert not r.passed and "{audience}" in r.message


def test_main_without_inputs_dict_fails(files, design):
    path = f"{PKG}/main.py"
    files[path] = files[path].replace("INPUTS = {", "SOMETHING = {")
    r = result(files, design, "placeholders_supplied")
    assert not r.passed and "INPUTS" in r.message


def test_main_without_entry_point_fails(files, design):
    path = f"{PKG}/main.py"
    files[path] = files[path].replace("def replay():", "def rerun():")
    r = result(files, design, "placeholders_supplied")
    assert not r.passed and "replay" in r.message


def test_env_example_without_model_or_key_fails(files, design):
    files[".env.example"] = "SERPER_API_KEY=\nSLACK_WEBHOOK_URL=\n"
    r = result(files, design, "env_example")
    assert not r.passed and "MODEL" in r.message and "provider key" in r.message


def test_env_example_missing_integration_var_fails(files, design):
    files[".env.example"] = files[".env.example"].replace("SLACK_WEBHOOK_URL=", "")
    r = result(files, design, "env_example")
    assert not r.passed and "SLACK_WEBHOOK_URL" in r.message


@pytest.fixture
def custom_tool_design():
    agents = [VALID["agents"][0], {**VALID["agents"][1], "tools": ["calculator"]}]
    return validate_design({**VALID, "agents": agents})


def test_tool_as_string_instead_of_class_fails(custom_tool_design):
    files = render_project(custom_tool_design)
    path = f"{PKG}/tools/custom_tool.py"
    files[path] = files[path].replace("class CalculatorTool(BaseTool):", "class CalculatorTool:")
    r = result(files, custom_tool_design, "tools_are_classes")
    assert not r.passed and "CalculatorTool" in r.message


def test_tool_without_args_schema_fails(custom_tool_design):
    files = render_project(custom_tool_design)
    path = f"{PKG}/tools/custom_tool.py"
    files[path] = files[path].replace("    args_schema: Type[BaseModel] = CalculatorInput\n", "")
    r = result(files, custom_tool_design, "tools_are_classes")
    assert not r.passed and "args_schema" in r.message


def test_a_crewai_tools_class_that_is_not_imported_fails(files, design):
    path = f"{PKG}/crew.py"
    files[path] = files[path].replace("from crewai_tools import SerperDevTool\n", "")
    r = result(files, design, "tools_are_classes")
    assert not r.passed and "SerperDevTool from crewai_tools" in r.message


def test_secret_in_any_file_fails(files, design):
    files["README.md"] += "\nOPENAI_API_KEY=sk-proj-ABCDEFGHIJKLMNOPQRSTUVWXYZ123456\n"
    r = result(files, design, "no_secrets")
    assert not r.passed and "README.md" in r.message
    assert "sk-proj" not in r.message


def test_shipping_a_dot_env_fails(files, design):
    files[".env"] = "MODEL=x\n"
    r = result(files, design, "no_secrets")
    assert not r.passed and ".env" in r.message


def test_a_check_that_crashes_reports_failure_instead_of_raising(files, design):
    files[f"{PKG}/config/agents.yaml"] = "- just\n- a list\n"
    results = run_checks(files=files, design=design)
    assert len(results) == len(CHECKS)
    assert not next(r for r in results if r.name == "yaml_parses").passed


@pytest.mark.parametrize(
    "bad",
    [
        f"{PKG}/main.py",
        "tests/conftest.py",
        "pyproject.toml",
        "../x",
        "/etc/passwd",
        "output/../src/x.py",
    ],
)
def test_an_output_file_that_names_project_code_fails_the_check(files, design, bad):
    # A design that got past validation some other way (an old stored design, a renderer
    # bug, a hand-edited template) is still caught on the rendered files.
    path = f"{PKG}/config/tasks.yaml"
    files[path] = files[path].replace("output_file: output/report.md", f"output_file: {bad}")
    r = result(files, design, "output_files_confined")
    assert not r.passed and repr(bad) in r.message


def test_an_output_file_argument_in_crew_py_is_checked_too(files, design):
    path = f"{PKG}/crew.py"
    files[path] = files[path].replace(
        "config=self.tasks_config['write_task'],",
        "config=self.tasks_config['write_task'], output_file='src/market_watch/main.py',",
    )
    r = result(files, design, "output_files_confined")
    assert not r.passed and "crew.py" in r.message


def test_output_files_under_output_pass(files, design):
    r = result(files, design, "output_files_confined")
    assert r.passed and "under output/" in r.message
