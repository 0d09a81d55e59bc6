"""The crew design: the one structured description of a crew that every later stage
(renderer, checks, result page, API) reads. Whatever produced it (an LLM, the fallback
designer, a user template), nothing is rendered until ``validate_design`` accepted it.

The rules here are the ones that make the rendered project importable and runnable:
identifiers become Python method/package names, task ``context`` must point backwards
(CrewAI resolves it in YAML order), and every ``{placeholder}`` in agent/task text must be
supplied by ``main.py``'s inputs or ``kickoff`` raises at run time.
"""

from __future__ import annotations

import functools
import keyword
import re
import sys
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")
ENV_VAR = re.compile(r"^[A-Z][A-Z0-9_]*$")
# CrewAI interpolates ``{name}`` where name looks like an identifier; other braces
# (JSON examples in expected_output, say) are left alone.
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
# A task's output_file is written by CrewAI on every run, with LLM text: it must never be
# able to name the project's own code or config (src/<pkg>/main.py, tests/conftest.py,
# pyproject.toml, .env, ...). Allow-list: output/<segments>.<ext>, nothing else.
OUTPUT_DIR = "output"
OUTPUT_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_\-.]*$")
OUTPUT_EXTENSIONS = frozenset(
    {"md", "markdown", "txt", "json", "csv", "tsv", "html", "xml", "yaml", "yml"}
)
MAX_OUTPUT_DEPTH = 4

MAX_AGENTS = 8
MAX_TASKS = 12
MAX_INPUTS = 10
MAX_NAME = 48

# Names that would clash with what a @CrewBase class already has, or with the method
# names the renderer generates.
RESERVED_MEMBER_NAMES = frozenset(
    {
        "crew",
        "agents",
        "tasks",
        "agents_config",
        "tasks_config",
        "manager_llm",
        "manager_agent",
        "config",
        "self",
        "llm",
        "tools",
        "tool",
        "kickoff",
        "train",
        "test",
        "replay",
        "run",
    }
)
# A package name must not shadow a module the project (or CrewAI) imports.
RESERVED_PACKAGE_NAMES = frozenset(
    {"crewai", "crewai_tools", "pydantic", "yaml", "tests", "test", "src", "main", "tools"}
) | frozenset(sys.stdlib_module_names)


def output_file_problem(path: str) -> str | None:
    """Why ``path`` may not be a task's output_file, or None when it is allowed: a relative
    path under ``output/`` (at most a few folders deep), plain name segments (no ``..``, no
    hidden files, no placeholders), ending in a text/data extension."""
    if not isinstance(path, str) or not path:
        return "must be a file path like output/report.md"
    if path.startswith("/") or "\\" in path or re.match(r"^[A-Za-z]:", path):
        return "must be a relative path under output/ (no absolute paths or backslashes)"
    parts = path.split("/")
    if parts[0] != OUTPUT_DIR or len(parts) < 2:
        return "must be inside the output/ folder, like output/report.md"
    if len(parts) > MAX_OUTPUT_DEPTH + 1:
        return f"must be at most {MAX_OUTPUT_DEPTH} levels under output/"
    for part in parts[1:]:
        if part in {"", ".", ".."} or not OUTPUT_SEGMENT.match(part):
            return "may only use letters, digits, _, - and . in each name (no .., no hidden files)"
    name = parts[-1]
    if "." not in name.strip(".") or name.rsplit(".", 1)[1].lower() not in OUTPUT_EXTENSIONS:
        return "must end in one of: " + ", ".join(f".{e}" for e in sorted(OUTPUT_EXTENSIONS))
    return None


class ToolSpec(BaseModel):
    """A tool the renderer knows how to wire into a project: a class from CrewAI's own
    ``crewai_tools`` where one exists and runs without extra services, else a small
    stdlib ``BaseTool`` written into ``tools/custom_tool.py``."""

    model_config = ConfigDict(frozen=True)

    key: str
    class_name: str
    label: str
    description: str
    source: Literal["crewai_tools", "custom"] = "custom"
    # Python source of the constructor arguments in crew.py (e.g. base_dir="data").
    init: str = ""
    env_vars: tuple[str, ...] = ()
    reads: Literal["", "files", "folder", "web"] = ""

    @property
    def env_var(self) -> str | None:  # the first (main) credential, for older callers
        return self.env_vars[0] if self.env_vars else None


# The known tool catalogue. Designs may only name these keys. crewai_tools classes are the
# ones users meet in CrewAI's docs; the custom ones need only the standard library.
TOOL_CATALOGUE: dict[str, ToolSpec] = {
    spec.key: spec
    for spec in (
        ToolSpec(
            key="web_search",
            class_name="SerperDevTool",
            label="Web search",
            description="Search the web (crewai_tools SerperDevTool, Serper.dev Google Search API).",
            source="crewai_tools",
            init='base_url=os.environ.get("SERPER_BASE_URL", "https://google.serper.dev")',
            env_vars=("SERPER_API_KEY",),
            reads="web",
        ),
        ToolSpec(
            key="web_page_reader",
            class_name="ScrapeWebsiteTool",
            label="Web page reader",
            description="Read the text of a web page (crewai_tools ScrapeWebsiteTool).",
            source="crewai_tools",
            reads="web",
        ),
        ToolSpec(
            key="file_reader",
            class_name="FileReadTool",
            label="File reader",
            description=(
                "Read a text file (txt, md, json, html, ...) from the project's data/ folder "
                "(crewai_tools FileReadTool confined to data/)."
            ),
            source="crewai_tools",
            init='base_dir="data"',
            reads="files",
        ),
        ToolSpec(
            key="directory_reader",
            class_name="DirectoryReadTool",
            label="Folder lister",
            description="List the files in the project's data/ folder (crewai_tools DirectoryReadTool).",
            source="crewai_tools",
            init='directory="data"',
            reads="folder",
        ),
        ToolSpec(
            key="file_writer",
            class_name="FileWriterTool",
            label="File writer",
            description="Write a file into the project's output/ folder (crewai_tools FileWriterTool).",
            source="crewai_tools",
            init='base_dir="output"',
        ),
        ToolSpec(
            key="csv_reader",
            class_name="CsvReaderTool",
            label="CSV reader",
            description="Read a CSV file from the data/ folder: columns, row count and rows.",
            reads="files",
        ),
        ToolSpec(
            key="calculator",
            class_name="CalculatorTool",
            label="Calculator",
            description="Evaluate an arithmetic expression (+ - * / ** % and parentheses).",
        ),
        ToolSpec(
            key="email_sender",
            class_name="EmailSenderTool",
            label="Email sender",
            description="Send an email over SMTP (configured in .env: SMTP_* and EMAIL_*).",
            env_vars=(
                "SMTP_HOST",
                "SMTP_PORT",
                "SMTP_USERNAME",
                "SMTP_PASSWORD",
                "EMAIL_FROM",
                "EMAIL_TO",
            ),
        ),
        ToolSpec(
            key="slack_poster",
            class_name="SlackWebhookTool",
            label="Slack poster",
            description="Post a message to Slack through an incoming webhook (SLACK_WEBHOOK_URL).",
            env_vars=("SLACK_WEBHOOK_URL",),
        ),
        ToolSpec(
            key="github_issue_reader",
            class_name="GitHubIssuesTool",
            label="GitHub issues reader",
            description="List open issues of a GitHub repository over the REST API.",
            env_vars=("GITHUB_TOKEN", "GITHUB_REPOSITORY"),
        ),
        ToolSpec(
            key="github_issue_labeler",
            class_name="GitHubLabelTool",
            label="GitHub issue labeler",
            description="Add labels to a GitHub issue over the REST API.",
            env_vars=("GITHUB_TOKEN", "GITHUB_REPOSITORY"),
        ),
    )
}
CRON = re.compile(r"^[0-9*/,\-]+( [0-9*/,\-]+){4}$")


class DesignInvalid(Exception):  # noqa: N818 - the interface name is agreed
    """The design does not satisfy the schema or the cross-field rules."""

    def __init__(self, errors: list[str]):
        self.errors = list(errors)
        super().__init__("; ".join(self.errors) or "invalid design")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AgentSpec(_Strict):
    id: str = Field(min_length=1, max_length=MAX_NAME)
    role: str = Field(min_length=1, max_length=200)
    goal: str = Field(min_length=1, max_length=1000)
    backstory: str = Field(min_length=1, max_length=2000)
    tools: list[str] = Field(default_factory=list, max_length=6)
    allow_delegation: bool = False


class TaskSpec(_Strict):
    id: str = Field(min_length=1, max_length=MAX_NAME)
    description: str = Field(min_length=1, max_length=4000)
    expected_output: str = Field(min_length=1, max_length=2000)
    agent: str = Field(min_length=1, max_length=MAX_NAME)
    context: list[str] = Field(default_factory=list, max_length=MAX_TASKS)
    output_file: str | None = Field(default=None, max_length=120)


class IntegrationSpec(_Strict):
    name: str = Field(min_length=1, max_length=80)
    purpose: str = Field(min_length=1, max_length=300)
    env_var: str = Field(min_length=1, max_length=64)


class ScheduleSpec(_Strict):
    cron: str = Field(min_length=9, max_length=60, description="5-field cron, UTC")
    description: str = Field(min_length=1, max_length=200)


class CrewDesign(_Strict):
    name: str = Field(min_length=1, max_length=MAX_NAME)
    title: str = Field(min_length=1, max_length=120)
    summary: str = Field(min_length=1, max_length=1000)
    process: Literal["sequential", "hierarchical"] = "sequential"
    agents: list[AgentSpec] = Field(min_length=1, max_length=MAX_AGENTS)
    tasks: list[TaskSpec] = Field(min_length=1, max_length=MAX_TASKS)
    inputs: dict[str, str] = Field(default_factory=dict, max_length=MAX_INPUTS)
    integrations: list[IntegrationSpec] = Field(default_factory=list, max_length=8)
    # When the requirement asks for a recurring run ("every Monday at 8").
    schedule: ScheduleSpec | None = None

    @property
    def class_name(self) -> str:
        return class_name_for(self.name)

    def agent(self, agent_id: str) -> AgentSpec:
        return next(a for a in self.agents if a.id == agent_id)

    def tools_used(self) -> list[ToolSpec]:
        keys = sorted({t for a in self.agents for t in a.tools})
        return [TOOL_CATALOGUE[k] for k in keys if k in TOOL_CATALOGUE]

    def env_vars(self) -> list[tuple[str, str]]:
        """(ENV_VAR, why) for every integration and tool credential, deduplicated."""
        seen: dict[str, str] = {}
        for tool in self.tools_used():
            for var in tool.env_vars:
                seen.setdefault(var, f"{tool.label} tool")
        for integration in self.integrations:
            seen.setdefault(integration.env_var, f"{integration.name}: {integration.purpose}")
        return list(seen.items())

    def placeholders(self) -> set[str]:
        found: set[str] = set()
        for text in _texts(self):
            found.update(PLACEHOLDER.findall(text))
        return found


def class_name_for(name: str) -> str:
    """snake_case → TitleCase (``lead_research`` → ``LeadResearch``), always an identifier."""
    out = "".join(part[:1].upper() + part[1:] for part in name.split("_") if part)
    if not out or not out[0].isalpha():
        out = "Crew" + out
    if keyword.iskeyword(out) or out in {"Agent", "Crew", "Task", "Process", "BaseTool"}:
        out += "Crew"
    return out


def _texts(design: CrewDesign) -> list[str]:
    texts: list[str] = []
    for a in design.agents:
        texts += [a.role, a.goal, a.backstory]
    for t in design.tasks:
        texts += [t.description, t.expected_output]
    return texts


def _identifier_errors(what: str, value: str, *, reserved: frozenset[str]) -> list[str]:
    if not IDENTIFIER.match(value):
        return [f"{what} {value!r} must be snake_case: a-z, 0-9 and _ starting with a letter"]
    if keyword.iskeyword(value) or keyword.issoftkeyword(value):
        return [f"{what} {value!r} is a Python keyword"]
    if value in reserved or value.startswith("__"):
        return [f"{what} {value!r} is reserved; choose another name"]
    return []


def _format_pydantic(exc: ValidationError) -> list[str]:
    errors = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "design"
        errors.append(f"{loc}: {err['msg']}")
    return errors


def design_errors(design: CrewDesign) -> list[str]:
    """Cross-field rules pydantic field types cannot express."""
    errors: list[str] = []
    errors += _identifier_errors("name", design.name, reserved=RESERVED_PACKAGE_NAMES)

    agent_ids: list[str] = []
    for i, a in enumerate(design.agents):
        errors += _identifier_errors(f"agents[{i}].id", a.id, reserved=RESERVED_MEMBER_NAMES)
        if a.id in agent_ids:
            errors.append(f"agents[{i}].id {a.id!r} is used twice")
        agent_ids.append(a.id)
        for tool in a.tools:
            if tool not in TOOL_CATALOGUE:
                errors.append(
                    f"agents[{i}].tools: unknown tool {tool!r}; "
                    f"known tools: {', '.join(sorted(TOOL_CATALOGUE))}"
                )
        if len(set(a.tools)) != len(a.tools):
            errors.append(f"agents[{i}].tools lists a tool twice")

    task_ids: list[str] = []
    for i, t in enumerate(design.tasks):
        errors += _identifier_errors(f"tasks[{i}].id", t.id, reserved=RESERVED_MEMBER_NAMES)
        if t.id in task_ids:
            errors.append(f"tasks[{i}].id {t.id!r} is used twice")
        if t.id in agent_ids:
            errors.append(f"tasks[{i}].id {t.id!r} is also an agent id; ids must be distinct")
        if t.agent not in agent_ids:
            errors.append(f"tasks[{i}].agent {t.agent!r} is not one of the agents")
        for ref in t.context:
            if ref == t.id:
                errors.append(f"tasks[{i}].context refers to the task itself")
            elif ref not in task_ids:
                errors.append(
                    f"tasks[{i}].context {ref!r} must name an earlier task"
                    + (
                        " (it comes later: no forward references or cycles)"
                        if any(ref == later.id for later in design.tasks[i + 1 :])
                        else ""
                    )
                )
        if len(set(t.context)) != len(t.context):
            errors.append(f"tasks[{i}].context lists a task twice")
        if t.output_file is not None and (problem := output_file_problem(t.output_file)):
            errors.append(f"tasks[{i}].output_file {t.output_file!r} {problem}")
        task_ids.append(t.id)

    for key in design.inputs:
        if not IDENTIFIER.match(key) or keyword.iskeyword(key):
            errors.append(f"inputs key {key!r} must be a snake_case identifier")
    for key, value in design.inputs.items():
        if len(value) > 500:
            errors.append(f"inputs[{key!r}] example is longer than 500 characters")

    missing = sorted(design.placeholders() - set(design.inputs))
    for name in missing:
        errors.append(f"placeholder {{{name}}} is used in agents/tasks but missing from inputs")

    if design.schedule is not None and not CRON.match(design.schedule.cron):
        errors.append(
            f"schedule.cron {design.schedule.cron!r} must be a 5-field cron line like 0 8 * * 1"
        )

    env_seen: set[str] = set()
    for i, integ in enumerate(design.integrations):
        if not ENV_VAR.match(integ.env_var):
            errors.append(f"integrations[{i}].env_var {integ.env_var!r} must be UPPER_SNAKE_CASE")
        if integ.env_var in env_seen:
            errors.append(f"integrations[{i}].env_var {integ.env_var!r} is listed twice")
        env_seen.add(integ.env_var)
    return errors


def validate_design(data: dict[str, Any] | CrewDesign) -> CrewDesign:
    """Parse and check a design; raises ``DesignInvalid`` with every problem found."""
    if isinstance(data, CrewDesign):
        design = data
    else:
        if not isinstance(data, dict):
            raise DesignInvalid(["design must be a JSON object"])
        try:
            design = CrewDesign.model_validate(data)
        except ValidationError as exc:
            raise DesignInvalid(_format_pydantic(exc)) from None
    errors = design_errors(design)
    if errors:
        raise DesignInvalid(errors)
    return design


@functools.cache
def design_json_schema() -> dict[str, Any]:
    """The JSON schema handed to the LLM (OpenAI prompt / Anthropic tool input_schema).
    Computed once; treat the returned dict as read-only."""
    schema = CrewDesign.model_json_schema()
    schema.setdefault("description", "A CrewAI crew design.")
    return schema
