"""Design → files of a classic CrewAI project (the layout ``crewai create crew`` writes).

The project's files are templates in ``generation/project_template/`` (filled with
``string.Template``, so nothing in them is code we run); tools come from CrewAI's own
``crewai_tools`` where a class exists and runs without extra services, else from small
stdlib tool sources in ``project_template/tools/``.

Deterministic: the same design always renders byte-identical files (no timestamps, no
randomness, dict order from the design), so checks, zips and tests are reproducible.
Every string that reaches Python source goes through ``repr`` and every YAML document
through ``yaml.safe_dump``, so no text from a requirement or an LLM can break the syntax.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from string import Template

import yaml

from generation.design import TOOL_CATALOGUE, CrewDesign, ToolSpec

TEMPLATE_DIR = Path(__file__).resolve().parent / "project_template"
PROVIDER_ENV = {
    "openai": ("OPENAI_API_KEY", "gpt-4o-mini", ""),
    "anthropic": ("ANTHROPIC_API_KEY", "claude-haiku-4-5", "anthropic/"),
}
# stdlib imports each custom tool's source needs (its block is in project_template/tools/).
CUSTOM_TOOL_IMPORTS = {
    "csv_reader": ["import csv", "from pathlib import Path"],
    "calculator": ["import ast", "import operator"],
    "email_sender": ["import os", "import smtplib", "from email.message import EmailMessage"],
    "slack_poster": ["import json", "import os", "import urllib.request"],
    "github_issue_reader": [
        "import json",
        "import os",
        "import urllib.parse",
        "import urllib.request",
    ],  # noqa: E501
    "github_issue_labeler": ["import json", "import os", "import urllib.request"],
}
GITHUB_TOOLS = ("github_issue_reader", "github_issue_labeler")


@functools.cache
def _template(name: str) -> str:
    return (TEMPLATE_DIR / name).read_text(encoding="utf-8")


def _fill(template: str, /, **values: object) -> str:
    return Template(_template(template)).substitute({k: str(v) for k, v in values.items()})


@functools.cache
def crewai_version() -> str:
    """The CrewAI release generated projects are tested against (CI installs exactly this)."""
    return _template("CREWAI_VERSION").strip()


def crewai_requirement(provider: str) -> str:
    extras = "tools,anthropic" if provider == "anthropic" else "tools"
    return f"crewai[{extras}]>={crewai_version()},<2.0.0"


def model_for(provider: str, model: str = "") -> tuple[str, str]:
    """(key variable, MODEL value): the model that designed the crew, in LiteLLM naming."""
    key_var, default, prefix = PROVIDER_ENV.get(provider, PROVIDER_ENV["openai"])
    chosen = model if model and model != "fallback" else default
    if prefix and not chosen.startswith(prefix):
        chosen = prefix + chosen
    return key_var, chosen


def _toml_str(value: str) -> str:
    """A TOML basic string: escape quote, backslash and control characters; TOML files
    are UTF-8, so everything else (emoji included) stays literal."""
    out = []
    for ch in value:
        if ch in {'"', "\\"}:
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _md(text: str) -> str:
    """One line of Markdown from design text (no line breaks, no raw HTML)."""
    return " ".join(str(text).split()).replace("<", "&lt;")


# libyaml's emitter when available (~10x faster than the pure-Python one); both only
# represent plain dicts, lists and strings here.
SafeDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _yaml(data: dict) -> str:
    return yaml.dump(data, Dumper=SafeDumper, sort_keys=False, allow_unicode=True, width=88)


def render_agents_yaml(design: CrewDesign) -> str:
    return _yaml(
        {a.id: {"role": a.role, "goal": a.goal, "backstory": a.backstory} for a in design.agents}
    )


def render_tasks_yaml(design: CrewDesign) -> str:
    out: dict[str, dict] = {}
    for t in design.tasks:
        entry: dict = {
            "description": t.description,
            "expected_output": t.expected_output,
            "agent": t.agent,
        }
        if t.context:
            entry["context"] = list(t.context)
        if t.output_file:
            entry["output_file"] = t.output_file
        out[t.id] = entry
    return _yaml(out)


def render_pyproject(design: CrewDesign, *, provider: str) -> str:
    return _fill(
        "pyproject.toml.tmpl",
        name=design.name,
        name_toml=_toml_str(design.name),
        description_toml=_toml_str(design.title + " using crewAI"),
        crewai_requirement_toml=_toml_str(crewai_requirement(provider)),
    )


def _connect_items(design: CrewDesign) -> list[tuple[str, str]]:
    """(env var, why) for every credential, and not-connected services (no tool)."""
    return design.env_vars()


def render_env_example(design: CrewDesign, *, provider: str, model: str = "") -> str:
    key_var, model_name = model_for(provider, model)
    lines = [
        "# Copy to .env and fill in the values. Never commit .env.",
        "# The model every agent uses (the one that designed this crew; LiteLLM naming).",
        f"MODEL={model_name}",
        f"{key_var}=",
    ]
    for other in sorted(PROVIDER_ENV):
        other_var, other_model = model_for(other)
        if other_var != key_var:
            lines.append(f"# To use {other} instead: MODEL={other_model} and {other_var}=")
    env_vars = design.env_vars()
    if env_vars:
        lines += ["", "# Tools and integrations (see the README, 'What you need to connect')"]
        for var, why in env_vars:
            lines.append(f"# {why}".replace("\n", " ")[:200])
            lines.append(f"{var}=")
    tools = {t.key for t in design.tools_used()}
    optional = []
    if "email_sender" in tools:
        optional.append("# SMTP_STARTTLS=false only for a local test server without TLS")
    if tools & set(GITHUB_TOOLS):
        optional.append("# GITHUB_API_URL=https://api.github.com (GitHub Enterprise: your API URL)")
    if "web_search" in tools:
        optional.append("# SERPER_BASE_URL=https://google.serper.dev (a proxy, if you use one)")
    if optional:
        lines += ["", "# Optional", *optional]
    return "\n".join(lines) + "\n"


def _data_files(design: CrewDesign) -> list[str]:
    """Files and folders the tasks tell the tools to read from data/ (in task order)."""
    found: list[str] = []
    for t in design.tasks:
        for m in re.finditer(r"\bdata/([\w\-./<>]+[\w>/])", t.description):
            name = m.group(1).rstrip(".")
            if name not in found:
                found.append(name)
    return found


def render_data_readme(design: CrewDesign) -> str:
    files = _data_files(design)
    if files:
        listing = "\n".join(
            ["", "Put these here before `crewai run`:", ""] + [f"- `data/{f}`" for f in files]
        )
    else:
        listing = "\nThis crew names no input files; put any file an agent should read here."
    return _fill("data_README.md.tmpl", files_list=listing)


def render_readme(design: CrewDesign, *, provider: str, model: str = "") -> str:
    key_var, model_name = model_for(provider, model)
    tools = design.tools_used()
    data_files = _data_files(design)
    data_section = ""
    if data_files:
        data_section = (
            "\nBefore running, put the input files in `data/` (the file tools read only "
            "that folder):\n\n" + "\n".join(f"- `data/{f}`" for f in data_files) + "\n"
        )
    connect: list[str] = [""]
    env_vars = design.env_vars()
    if env_vars:
        connect.append("Set these in `.env` (see `.env.example`):")
        connect.append("")
        connect += [f"- `{var}`: {_md(why)}" for var, why in env_vars]
    else:
        connect.append(f"Only the model key (`{key_var}`) in `.env`.")
    not_connected = [i for i in design.integrations if "not connected" in i.name.lower()]
    if not_connected:
        connect += ["", "Not built in (the crew says so in the task that needs it):", ""]
        connect += [f"- **{_md(i.name)}**: {_md(i.purpose)}" for i in not_connected]
    connect.append("")

    agents = []
    for a in design.agents:
        names = ", ".join(TOOL_CATALOGUE[k].class_name for k in a.tools if k in TOOL_CATALOGUE)
        agents.append(f"- **{_md(a.role)}** (`{a.id}`): {_md(a.goal)}. Tools: {names or 'none'}.")
    tasks = []
    for i, t in enumerate(design.tasks, 1):
        extra = f" Uses: {', '.join(t.context)}." if t.context else ""
        out = f" Writes `{t.output_file}`." if t.output_file else ""
        tasks.append(f"{i}. **{t.id}** by `{t.agent}`: {_md(t.expected_output)}{extra}{out}")
    inputs_section = ""
    if design.inputs:
        inputs_section = (
            "\n## Inputs\n\n"
            + "\n".join(f"- `{k}`: {_md(v)}" for k, v in design.inputs.items())
            + "\n"
        )
    schedule_section = ""
    if design.schedule:
        cron = design.schedule.cron
        schedule_section = (
            f"\n## Schedule\n\nThis crew is meant to run {_md(design.schedule.description)} "
            f"(cron `{cron}`, UTC). Either:\n\n"
            f"- cron on a machine with the project: `crontab -e` and add\n\n"
            f"  ```\n  {cron} cd /path/to/{design.name} && crewai run >> output/cron.log 2>&1\n  ```\n\n"  # noqa: E501
            "- or GitHub Actions: `.github/workflows/crew.yml` runs it on the same schedule; "
            "add the variables above as repository secrets.\n"
        )
    custom = [t for t in tools if t.source == "custom"]
    return _fill(
        "README.md.tmpl",
        title=_md(design.title),
        summary=_md(design.summary),
        crewai_version=crewai_version(),
        key_var=key_var,
        model=model_name,
        name=design.name,
        class_name=design.class_name,
        process=design.process,
        data_section=data_section,
        connect_section="\n".join(connect),
        agents_section="\n".join(agents),
        tasks_section="\n".join(tasks),
        inputs_section=inputs_section,
        schedule_section=schedule_section,
        tools_test_note="; `tests/test_tools.py`: each of the project's own tools against a "
        "local test double"
        if custom
        else "",
    )


def render_main(design: CrewDesign) -> str:
    inputs = "".join(f"    {k!r}: {v!r},\n" for k, v in design.inputs.items())
    return _fill("main.py.tmpl", name=design.name, class_name=design.class_name, inputs=inputs)


def _tool_expr(spec: ToolSpec) -> str:
    return f"{spec.class_name}({spec.init})"


def render_crew(design: CrewDesign, *, provider: str = "openai", model: str = "") -> str:
    cls = design.class_name
    used = design.tools_used()
    library = sorted(t.class_name for t in used if t.source == "crewai_tools")
    custom = [t.class_name for t in used if t.source == "custom"]
    needs_os = design.process == "hierarchical" or any("os.environ" in t.init for t in used)
    imports = ["import os", ""] if needs_os else []
    imports += [
        "from crewai import Agent, Crew, Process, Task",
        "from crewai.agents.agent_builder.base_agent import BaseAgent",
        "from crewai.project import CrewBase, agent, crew, task",
    ]
    if library:
        imports.append(f"from crewai_tools import {', '.join(library)}")
    if custom:
        names = "".join(f"    {c},\n" for c in custom)
        imports += ["", f"from {design.name}.tools.custom_tool import (\n{names})"]

    body = []
    for a in design.agents:
        tools = ", ".join(_tool_expr(TOOL_CATALOGUE[k]) for k in a.tools)
        body.append(
            f"""    @agent
    def {a.id}(self) -> Agent:
        return Agent(
            config=self.agents_config[{a.id!r}],  # type: ignore[index]
            tools=[{tools}],
            allow_delegation={a.allow_delegation!r},
            verbose=True,
        )
"""
        )
    for t in design.tasks:
        body.append(
            f"""    @task
    def {t.id}(self) -> Task:
        return Task(
            config=self.tasks_config[{t.id!r}],  # type: ignore[index]
        )
"""
        )
    if design.process == "hierarchical":
        _, default_model = model_for(provider, model)
        process = (
            "            process=Process.hierarchical,\n"
            f'            manager_llm=os.environ.get("MODEL", {default_model!r}),\n'
        )
    else:
        process = "            process=Process.sequential,\n"
    body.append(
        f"""    @crew
    def crew(self) -> Crew:
        \"\"\"Creates the {cls} crew.\"\"\"
        return Crew(
            agents=self.agents,  # created by the @agent decorators
            tasks=self.tasks,  # created by the @task decorators, in YAML order
{process}            verbose=True,
        )
"""
    )
    header = "\n".join(imports)
    return f"""{header}


@CrewBase
class {cls}:
    {design.title!r}

    agents: list[BaseAgent]
    tasks: list[Task]

    agents_config = "config/agents.yaml"
    tasks_config = "config/tasks.yaml"

{chr(10).join(body)}"""


def _custom_tools(design: CrewDesign) -> list[ToolSpec]:
    return [t for t in design.tools_used() if t.source == "custom"]


def render_custom_tool(design: CrewDesign) -> str:
    tools = _custom_tools(design)
    stdlib: set[str] = set()
    for t in tools:
        stdlib |= set(CUSTOM_TOOL_IMPORTS[t.key])
    plain = sorted(i for i in stdlib if i.startswith("import "))
    froms = sorted(i for i in stdlib if i.startswith("from "))
    header = [
        '"""Tools the agents can call. Each is a crewAI BaseTool with a pydantic args schema;',
        'CrewAI\'s own tools (crewai_tools) are imported in crew.py."""',
        "",
        *plain,
        *froms,
        "from typing import Type",
        "",
        "from crewai.tools import BaseTool",
        "from pydantic import BaseModel, Field",
        "",
    ]
    blocks = []
    if any(t.key in GITHUB_TOOLS for t in tools):
        blocks.append(_template("tools/github_common.py"))
    blocks += [_template(f"tools/{t.key}.py") for t in tools] or [_template("tools/example.py")]
    return "\n".join(header) + "\n" + "\n\n".join(blocks)


def render_smoke_test(design: CrewDesign, *, provider: str = "openai", model: str = "") -> str:
    key_var, model_name = model_for(provider, model)
    return _fill(
        "tests/test_smoke.py.tmpl",
        name=design.name,
        class_name=design.class_name,
        model_repr=repr(model_name),
        key_var_repr=repr(key_var),
        n_agents=len(design.agents),
        n_tasks=len(design.tasks),
        output_files=repr([t.output_file for t in design.tasks if t.output_file]),
    )


def render_tools_test(design: CrewDesign) -> str | None:
    tools = _custom_tools(design)
    if not tools:
        return None
    imports = "".join(f"    {t.class_name},\n" for t in tools)
    blocks = [_template(f"tests/test_{t.key}.py") for t in tools]
    return (
        _fill("tests/test_tools_header.py.tmpl", name=design.name, imports=imports)
        + "\n\n"
        + "\n\n".join(blocks)
    )


def render_workflow(design: CrewDesign, *, provider: str, model: str = "") -> str | None:
    if design.schedule is None:
        return None
    key_var, _ = model_for(provider, model)
    names = ["MODEL", key_var] + [var for var, _ in design.env_vars()]
    env_lines = "\n".join(
        f"          {var}: ${{{{ secrets.{var} }}}}" for var in dict.fromkeys(names)
    )
    return _fill(
        "github/crew.yml.tmpl",
        name=design.name,
        cron=design.schedule.cron,
        schedule_description=" ".join(design.schedule.description.split()),
        env_lines=env_lines,
    )


def render_project(
    design: CrewDesign, *, provider: str = "openai", model: str = ""
) -> dict[str, str]:
    """Relative path → text for the whole project. ``provider`` and ``model`` choose which
    key and model ``.env.example`` (and the dependencies) name: the ones that designed it."""
    if provider not in PROVIDER_ENV:
        provider = "openai"
    pkg = f"src/{design.name}"
    files = {
        "README.md": render_readme(design, provider=provider, model=model),
        "pyproject.toml": render_pyproject(design, provider=provider),
        ".env.example": render_env_example(design, provider=provider, model=model),
        ".gitignore": _template("gitignore.tmpl"),
        "data/README.md": render_data_readme(design),
        f"{pkg}/__init__.py": "",
        f"{pkg}/main.py": render_main(design),
        f"{pkg}/crew.py": render_crew(design, provider=provider, model=model),
        f"{pkg}/config/agents.yaml": render_agents_yaml(design),
        f"{pkg}/config/tasks.yaml": render_tasks_yaml(design),
        f"{pkg}/tools/__init__.py": "",
        f"{pkg}/tools/custom_tool.py": render_custom_tool(design),
        "tests/test_smoke.py": render_smoke_test(design, provider=provider, model=model),
    }
    if (tools_test := render_tools_test(design)) is not None:
        files["tests/test_tools.py"] = tools_test
    if (workflow := render_workflow(design, provider=provider, model=model)) is not None:
        files[".github/workflows/crew.yml"] = workflow
    if any(TOOL_CATALOGUE[k].reads == "files" for a in design.agents for k in a.tools):
        files["knowledge/README.md"] = _template("knowledge_README.md.tmpl")
    return dict(sorted(files.items()))
