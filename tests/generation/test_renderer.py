from __future__ import annotations

import ast
import tomllib

import yaml

from generation.checks import run_checks
from generation.design import validate_design
from generation.fallback import fallback_design
from generation.renderer import render_project
from tests.generation.test_design import VALID


def design(**overrides):
    return validate_design({**VALID, **overrides})


def test_renders_the_classic_crewai_layout():
    files = render_project(design())
    assert set(files) == {
        "README.md",
        "pyproject.toml",
        ".env.example",
        ".gitignore",
        "data/README.md",
        "src/market_watch/__init__.py",
        "src/market_watch/main.py",
        "src/market_watch/crew.py",
        "src/market_watch/config/agents.yaml",
        "src/market_watch/config/tasks.yaml",
        "src/market_watch/tools/__init__.py",
        "src/market_watch/tools/custom_tool.py",
        "tests/test_smoke.py",
    }


def test_pyproject_declares_a_crew_with_crewai_and_entry_points():
    data = tomllib.loads(render_project(design())["pyproject.toml"])
    assert data["tool"]["crewai"]["type"] == "crew"
    assert data["project"]["name"] == "market_watch"
    assert any(d.startswith("crewai[tools]") for d in data["project"]["dependencies"])
    assert data["project"]["scripts"]["run_crew"] == "market_watch.main:run"
    assert set(data["project"]["scripts"]) >= {"run_crew", "train", "replay", "test"}


def test_yaml_round_trips_the_design_exactly():
    d = design()
    files = render_project(d)
    agents = yaml.safe_load(files["src/market_watch/config/agents.yaml"])
    tasks = yaml.safe_load(files["src/market_watch/config/tasks.yaml"])
    assert list(agents) == ["researcher", "writer"]
    assert agents["researcher"]["goal"] == "Find news about {topic}"
    assert list(tasks) == ["research_task", "write_task"]
    assert tasks["write_task"] == {
        "description": "Write a report.",
        "expected_output": "A report.",
        "agent": "writer",
        "context": ["research_task"],
        "output_file": "output/report.md",
    }


def test_main_inputs_supply_the_design_inputs_and_entry_points():
    files = render_project(design())
    tree = ast.parse(files["src/market_watch/main.py"])
    functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert functions >= {"run", "train", "replay", "test"}
    inputs = next(
        n.value for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "INPUTS"
    )
    assert ast.literal_eval(inputs) == {"topic": "EV batteries"}


def test_crew_py_has_titlecase_class_methods_and_real_tool_instances():
    source = render_project(design())["src/market_watch/crew.py"]
    assert "@CrewBase\nclass MarketWatch:" in source
    assert "def researcher(self) -> Agent:" in source
    assert "def write_task(self) -> Task:" in source
    # CrewAI's own SerperDevTool, not a home-made copy
    assert "from crewai_tools import SerperDevTool" in source
    assert "tools=[SerperDevTool(base_url=os.environ.get(" in source
    assert "process=Process.sequential" in source


def test_custom_tool_defines_base_tool_subclasses_with_args_schemas():
    agents = [{**VALID["agents"][0], "tools": ["csv_reader", "email_sender"]}, VALID["agents"][1]]
    files = render_project(design(agents=agents))
    source = files["src/market_watch/tools/custom_tool.py"]
    tree = ast.parse(source)
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    assert [b.id for b in classes["EmailSenderTool"].bases] == ["BaseTool"]
    assert [b.id for b in classes["CsvReaderInput"].bases] == ["BaseModel"]
    assert "args_schema: Type[BaseModel] = EmailSenderInput" in source
    assert (
        "from market_watch.tools.custom_tool import (\n    CsvReaderTool,\n    EmailSenderTool,\n)"
        in files["src/market_watch/crew.py"]
    )  # noqa: E501
    # each of the project's own tools is tested against a local double
    tests = files["tests/test_tools.py"]
    assert "def test_email_sender_delivers_through_smtp(smtp_double" in tests
    assert "def test_csv_reader_reads_a_file_from_data" in tests


def test_without_tools_the_official_example_tool_is_rendered():
    agents = [{**a, "tools": []} for a in VALID["agents"]]
    files = render_project(design(agents=agents, integrations=[]))
    assert "class MyCustomTool(BaseTool)" in files["src/market_watch/tools/custom_tool.py"]
    assert "custom_tool import" not in files["src/market_watch/crew.py"]


def test_env_example_lists_model_provider_key_and_integrations():
    env = render_project(design())[".env.example"]
    assert "MODEL=gpt-4o-mini\nOPENAI_API_KEY=\n" in env
    assert "\nSERPER_API_KEY=\n" in env
    assert "\nSLACK_WEBHOOK_URL=\n" in env
    anthropic = render_project(design(), provider="anthropic")
    assert "ANTHROPIC_API_KEY=\n" in anthropic[".env.example"]
    assert "crewai[tools,anthropic]" in anthropic["pyproject.toml"]


def test_hierarchical_process_gets_a_manager_llm():
    source = render_project(design(process="hierarchical"))["src/market_watch/crew.py"]
    assert "process=Process.hierarchical" in source
    assert "manager_llm=os.environ.get(\"MODEL\", 'gpt-4o-mini')" in source
    compile(source, "crew.py", "exec")


def test_smoke_test_runs_the_crew_with_a_stub_llm_and_no_network():
    source = render_project(design())["tests/test_smoke.py"]
    compile(source, "test_smoke.py", "exec")
    assert "class StubLLM(BaseLLM)" in source
    assert "member.llm = stub" in source
    assert "crew.kickoff(inputs=dict(INPUTS))" in source
    assert "CREWAI_DISABLE_TELEMETRY" in source


def test_hostile_text_cannot_break_python_or_yaml():
    nasty = "He said \"\"\" ''' \\ {topic} \n\x0b ünïcødé 🚀 # not a comment: - [x]"
    d = design(
        title=nasty[:100],
        summary=nasty,
        inputs={"topic": nasty},
        agents=[{**VALID["agents"][0], "backstory": nasty}, VALID["agents"][1]],
    )
    files = render_project(d)
    for path, text in files.items():
        if path.endswith(".py"):
            compile(text, path, "exec")
    agents = yaml.safe_load(files["src/market_watch/config/agents.yaml"])
    assert agents["researcher"]["backstory"] == d.agents[0].backstory
    tree = ast.parse(files["src/market_watch/main.py"])
    inputs = next(n.value for n in tree.body if isinstance(n, ast.Assign))
    assert ast.literal_eval(inputs)["topic"] == d.inputs["topic"]
    results = run_checks(files=files, design=d)
    assert all(r.passed for r in results), [r for r in results if not r.passed]


def test_rendering_is_deterministic():
    d = fallback_design(requirement="Research EV batteries")
    assert render_project(d) == render_project(d)


def test_env_example_names_the_model_that_designed_the_crew():
    env = render_project(design(), provider="anthropic", model="claude-haiku-4-5")[".env.example"]
    assert "MODEL=anthropic/claude-haiku-4-5\nANTHROPIC_API_KEY=\n" in env
    crew = render_project(
        design(process="hierarchical"), provider="anthropic", model="claude-haiku-4-5"
    )["src/market_watch/crew.py"]
    assert "manager_llm=os.environ.get(\"MODEL\", 'anthropic/claude-haiku-4-5')" in crew


def test_readme_commands_work_after_crewai_install():
    files = render_project(design())
    data = tomllib.loads(files["pyproject.toml"])
    # `crewai install` is `uv sync`, which installs the dev group: `uv run pytest` works.
    assert data["dependency-groups"]["dev"] == ["pytest>=8"]
    assert data["project"]["scripts"]["run_with_trigger"] == "market_watch.main:run_with_trigger"
    assert "crewai install" in files["README.md"] and "uv run pytest" in files["README.md"]
    assert data["project"]["dependencies"] == ["crewai[tools]>=1.15.30,<2.0.0"]
