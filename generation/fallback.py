"""The built-in designer: no LLM, same requirement → same design.

It builds the crew from the requirement analysis (``generation/analysis.py``): one task
per step the user asked for, in their order; each named file read by a real tool on the
task that needs it (``data/<name>``); URLs as inputs read by the web page reader; results
written where the user asked (a named file, an email, Slack, GitHub labels); a schedule
when one was asked for; the output language rule in every task when it is not English.
Roles are short job titles from ``designer_data/roles.yaml``, never the user's sentence.
What no tool can do (a service without one) is said in the task and declared as an
integration, so the README's "What you need to connect" lists it — never silently.

A starter template contributes structure (its usual steps and role titles) but the user's
own steps, files and subject always win. Every input, however odd (empty, emoji,
non-Latin, pasted secrets), yields a design that passes ``validate_design``.
"""

from __future__ import annotations

import keyword
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from generation.analysis import (
    Analysis,
    NamedFile,
    analyse,
    leading_verb,
    lexicon,
    roles_data,
    services_catalogue,
)
from generation.design import (
    OUTPUT_EXTENSIONS,
    RESERVED_MEMBER_NAMES,
    RESERVED_PACKAGE_NAMES,
    TOOL_CATALOGUE,
    CrewDesign,
    DesignInvalid,
    validate_design,
)

WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)
MAX_TASKS = 6
STOPWORDS = frozenset(
    """a an the and or of for to in on at by with from into about that which who what this
    these those it its is are be was were will would can could should please i we you me us
    my our your they them their some any each every all crew team agent agents system bot
    workflow pipeline build create make design generate want need like help using use via
    automatically automate automated daily weekly monthly new based csv md txt json
    pdf xlsx""".split()
)
DELIVERY_KINDS = frozenset({"send", "post", "label", "update"})
# Where each kind of work usually sits in a pipeline (gather → understand → produce →
# check → deliver); used to place a template's steps among the user's.
KIND_ORDER = {
    kind: i
    for i, kind in enumerate(
        [
            "read",
            "research",
            "monitor",
            "extract",
            "classify",
            "analyse",
            "plan",
            "summarise",
            "write",
            "reply",
            "translate",
            "review",
            "label",
            "update",
            "send",
            "post",
        ]
    )
}
# Old blueprints named a domain of the previous keyword-routed designer.
LEGACY_DOMAINS = {
    "content_marketing": "content_marketing",
    "lead_research": "lead_research",
    "customer_support": "support_triage",
}
TOOL_HINTS = {
    "csv_reader": 'the CSV reader tool (path "{name}")',
    "file_reader": 'the file reader tool (file_path "{name}")',
    "document_reader": 'the document reader tool (path "{name}")',
}
# Files the document reader opens as they are; older binary formats (.xls, .doc) must be
# saved in a newer one first.
DOCUMENT_EXTENSIONS = frozenset({"xlsx", "xlsm", "pdf", "docx"})


@dataclass
class PlannedTask:
    kind: str
    text: str
    from_user: bool = True
    files: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    services: list[str] = field(default_factory=list)
    tools: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    output_file: str | None = None
    per_item: str | None = None

    def add_tool(self, key: str) -> None:
        if key not in self.tools:
            self.tools.append(key)


# --------------------------------------------------------------------------- helpers


def _kind_data(kind: str) -> dict[str, Any]:
    kinds = roles_data()["kinds"]
    return kinds.get(kind) or kinds["research"]


def _slug_words(text: str) -> list[str]:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = [w.lower() for w in re.findall(r"[A-Za-z0-9]+", ascii_text)]
    stop = STOPWORDS | {w for ws in lexicon()["stopwords"].values() for w in ws}
    return [w for w in words if w not in stop and len(w) > 1 and not w.isdigit()][:3]


def _cjk_words(text: str) -> list[str]:
    found: list[tuple[int, str]] = []
    for word, slug in lexicon().get("cjk_words", {}).items():
        pos = text.find(word)
        if pos >= 0 and slug not in [s for _, s in found]:
            found.append((pos, str(slug)))
    return [s for _, s in sorted(found)][:3]


def make_name(analysis: Analysis) -> str:
    words = _slug_words(analysis.subject)
    if analysis.language in {"ja", "zh"} or not words:
        words = _cjk_words(analysis.text) or words
    if not words:
        words = [s.key for s in analysis.services][:1] + [
            analysis.steps[0].kind if analysis.steps else "research"
        ]  # noqa: E501
    name = "_".join(words)
    if not name[:1].isalpha():
        name = "crew_" + name
    name = name[:36].rstrip("_") + "_crew"
    if keyword.iskeyword(name) or name in RESERVED_PACKAGE_NAMES:
        name = "my_" + name
    return name


def _snake(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    out = "_".join(re.findall(r"[a-z0-9]+", ascii_text.lower()))[:40].strip("_")
    if not out or not out[0].isalpha():
        out = "agent_" + out
    return out


def _sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return text
    text = text[:1].upper() + text[1:]
    return text if text[-1] in ".!?。！？" else text + "."


def _template_info(blueprint: dict | None) -> tuple[list[str], dict[str, str]]:
    """(pipeline kinds, kind → role title) a blueprint contributes."""
    if not blueprint:
        return [], {}
    templates = roles_data().get("templates", {})
    key = LEGACY_DOMAINS.get(str(blueprint.get("domain", ""))) or str(blueprint.get("name", ""))
    if key in templates:
        spec = templates[key]
        return list(spec.get("pipeline", [])), dict(spec.get("roles", {}))
    # An organisation's own saved design: its tasks' verbs give the pipeline and its
    # agents' roles the titles.
    tasks = blueprint.get("tasks") or []
    agents = {a.get("id"): a for a in blueprint.get("agents") or [] if isinstance(a, dict)}
    pipeline: list[str] = []
    roles: dict[str, str] = {}
    for task in tasks if isinstance(tasks, list) else []:
        if not isinstance(task, dict):
            continue
        found = leading_verb(str(task.get("description", "")), "en")
        if not found or found[0] in pipeline:
            continue
        kind = "write" if found[0] == "save" else found[0]
        pipeline.append(kind)
        agent = agents.get(task.get("agent"))
        role = str(agent.get("role", "")) if agent else ""
        if role and "{" not in role and len(role) <= 60:
            roles[kind] = role
    return pipeline[:MAX_TASKS], roles


# --------------------------------------------------------------------------- planning


def _plan(analysis: Analysis, pipeline: list[str]) -> list[PlannedTask]:
    tasks = [
        PlannedTask(
            kind=s.kind,
            text=s.text,
            files=list(s.files),
            urls=list(s.urls),
            services=list(s.services),
        )
        for s in analysis.steps
        if not (pipeline and s.inferred)  # a template knows the steps better than a guess
    ]
    if not tasks and not pipeline:
        tasks = [PlannedTask(kind="research", text="Research the topic: {topic}", from_user=False)]

    # A template's usual steps the user did not spell out, placed where that kind of work
    # usually happens relative to the user's own steps.
    user_kinds = {t.kind for t in tasks}
    for kind in pipeline:
        if kind in user_kinds or len(tasks) >= MAX_TASKS:
            continue
        structural = PlannedTask(kind=kind, text="", from_user=False)
        rank = KIND_ORDER.get(kind, len(KIND_ORDER))
        position = next(
            (i for i, t in enumerate(tasks) if KIND_ORDER.get(t.kind, len(KIND_ORDER)) > rank),
            len(tasks),
        )
        tasks.insert(position, structural)
    return tasks


def _merge_overflow(tasks: list[PlannedTask]) -> list[PlannedTask]:
    while len(tasks) > MAX_TASKS:
        # Merge the first adjacent pair of the same kind, else the two content steps
        # before the last delivery step.
        pair = next((i for i in range(len(tasks) - 1) if tasks[i].kind == tasks[i + 1].kind), None)
        if pair is None:
            content = [i for i, t in enumerate(tasks) if t.kind not in DELIVERY_KINDS]
            pair = content[-2] if len(content) >= 2 else len(tasks) - 2
        a, b = tasks[pair], tasks[pair + 1]
        merged = PlannedTask(
            kind=a.kind,
            text=f"{a.text.rstrip('.')}. Then: {b.text}" if a.text and b.text else a.text or b.text,
            from_user=a.from_user or b.from_user,
            files=a.files + [f for f in b.files if f not in a.files],
            urls=a.urls + [u for u in b.urls if u not in a.urls],
            services=a.services + [s for s in b.services if s not in a.services],
        )
        tasks[pair : pair + 2] = [merged]
    return tasks


def _content_tasks(tasks: list[PlannedTask]) -> list[PlannedTask]:
    return [t for t in tasks if t.kind not in DELIVERY_KINDS] or tasks


def _first_reader(tasks: list[PlannedTask]) -> PlannedTask:
    return tasks[0]


def _attach_inputs(analysis: Analysis, tasks: list[PlannedTask], inputs: dict[str, str]) -> None:
    named = {f.name: f for f in analysis.files}
    attached = {name for t in tasks for name in t.files}
    f: NamedFile | None
    for f in analysis.input_files:
        if f.name not in attached:
            _first_reader(tasks).files.append(f.name)
    for t in tasks:
        for name in list(t.files):
            f = named.get(name)
            if f is None or f.direction != "input":
                continue
            _add_file_reading(t, f)

    for folder in analysis.folders:
        t = next((t for t in tasks if folder in t.text), _first_reader(tasks))
        t.add_tool("directory_reader")
        t.add_tool("file_reader")
        t.notes.append(
            f"List the files the user put in data/{folder}/ with the folder lister tool, then "
            f'read each one with the file reader tool (file_path "{folder}/<name>").'
        )

    url_inputs: dict[str, str] = {}
    for i, url in enumerate(analysis.urls[:4]):
        key = "source_url" if i == 0 else f"source_url_{i + 1}"
        url_inputs[url] = key
        inputs[key] = url[:300]
    attached_urls = {u for t in tasks for u in t.urls}
    for url in analysis.urls[:4]:
        if url not in attached_urls:
            next(
                (t for t in tasks if t.kind in {"research", "monitor", "read", "analyse"}), tasks[0]
            ).urls.append(url)  # noqa: E501
    for t in tasks:
        for url in t.urls:
            if url not in url_inputs:
                continue
            key = url_inputs[url]
            t.text = t.text.replace(url, "{" + key + "}")
            t.add_tool("web_page_reader")
            t.notes.append(f"Read {{{key}}} with the web page reader tool.")


def _add_file_reading(t: PlannedTask, f: NamedFile) -> None:
    stem = f.basename.rsplit(".", 1)[0]
    if f.basename.rsplit(".", 1)[-1].lower() in DOCUMENT_EXTENSIONS:
        t.add_tool("document_reader")
        t.notes.append(
            f"Read data/{f.name} with " + TOOL_HINTS["document_reader"].format(name=f.name) + "."
        )
    elif f.kind == "csv":
        t.add_tool("csv_reader")
        t.notes.append(
            f"Read data/{f.name} with " + TOOL_HINTS["csv_reader"].format(name=f.name) + "."
        )  # noqa: E501
    elif f.kind == "spreadsheet":
        t.add_tool("csv_reader")
        t.notes.append(
            f"The user named {f.name}; spreadsheets are read as CSV: save it as data/{stem}.csv "
            f"and read it with " + TOOL_HINTS["csv_reader"].format(name=f"{stem}.csv") + "."
        )
    elif f.kind in {"pdf", "document"}:
        t.add_tool("file_reader")
        t.notes.append(
            f"The user named {f.name}; export it as text to data/{stem}.txt and read it with "
            + TOOL_HINTS["file_reader"].format(name=f"{stem}.txt")
            + "."
        )
    else:
        t.add_tool("file_reader")
        t.notes.append(
            f"Read data/{f.name} with " + TOOL_HINTS["file_reader"].format(name=f.name) + "."
        )  # noqa: E501


def _service_task(tasks: list[PlannedTask], key: str, kinds: set[str]) -> PlannedTask | None:
    return next((t for t in tasks if key in t.services and t.kind in kinds), None) or next(
        (t for t in tasks if t.kind in kinds), None
    )


def _attach_services(
    analysis: Analysis, tasks: list[PlannedTask], integrations: list[dict[str, str]]
) -> None:
    catalogue = services_catalogue()
    t: PlannedTask | None
    for service in analysis.services:
        spec = catalogue.get(service.key, {})
        tools = spec.get("tools", {}) or {}
        if service.key == "github":
            if "read" in service.actions:
                t = (
                    _service_task(
                        tasks,
                        "github",
                        {"classify", "read", "analyse", "summarise", "research", "review"},
                    )
                    or tasks[0]
                )  # noqa: E501
                t.add_tool(tools["read"])
                t.notes.append(
                    "List the open GitHub issues of the repository set in GITHUB_REPOSITORY "
                    "with the GitHub issues reader tool."
                )
            if "label" in service.actions:
                t = _service_task(tasks, "github", {"label"})
                if t is None:
                    t = PlannedTask(kind="label", text="Label the GitHub issues", from_user=False)
                    tasks.append(t)
                t.add_tool(tools["label"])
                t.notes.append(
                    "Add the chosen labels to each issue with the GitHub issue labeler tool "
                    "(issue number and labels)."
                )
        elif service.key == "email":
            if "send" in service.actions:
                t = _service_task(tasks, "email", {"send"})
                if t is None:
                    t = PlannedTask(kind="send", text="Email the result", from_user=False)
                    tasks.append(t)
                t.add_tool(tools["send"])
                who = next((o.target for o in analysis.outputs if o.kind == "email"), "you")
                to = "the address in EMAIL_TO" if who in {"you", "the recipients"} else who
                t.notes.append(
                    f"Send the result by email to {to} with the email sender tool "
                    "(a clear subject and the full text as the body)."
                )
            if "read" in service.actions:
                t = tasks[0]
                t.add_tool("directory_reader")
                t.add_tool("file_reader")
                t.notes.append(
                    "The messages are read from data/emails/ (one text file per message): "
                    "list them with the folder lister tool and read each with the file "
                    'reader tool (file_path "emails/<name>"). '
                    + str(spec.get("read_note", "")).strip()
                )
                integrations.append(
                    {
                        "name": "Email inbox (not connected)",
                        "purpose": "reading a mailbox is not built in; export messages to data/emails/",  # noqa: E501
                        "env_var": "EMAIL_INBOX_EXPORT",
                    }
                )
        elif service.key == "slack":
            t = _service_task(tasks, "slack", {"send", "post"})
            if t is None:
                t = PlannedTask(kind="post", text="Post the result to Slack", from_user=False)
                tasks.append(t)
            t.add_tool(tools["send"])
            t.notes.append("Post the result to Slack with the Slack poster tool.")
            if "read" in service.actions:
                tasks[0].notes.append(
                    "Reading Slack channels is not built in (only posting through a webhook); "
                    "paste the messages into data/ for the crew to read."
                )
        else:
            label = service.label
            t = (
                next((t for t in tasks if service.key in t.services), None)
                or _content_tasks(tasks)[-1]
            )  # noqa: E501
            t.notes.append(
                f"Note: this project has no {label} tool yet, so the crew cannot reach {label} by "
                f"itself; it writes the result to a file under output/ for you to bring into "
                f"{label} (see the README, 'What you need to connect')."
            )
            integrations.append(
                {
                    "name": f"{label} (not connected)",
                    "purpose": f"no built-in {label} tool: add a custom tool or copy the output by hand",  # noqa: E501
                    "env_var": service.env_var,
                }
            )


def _attach_outputs(analysis: Analysis, tasks: list[PlannedTask], name: str) -> None:
    content = _content_tasks(tasks)
    for f in analysis.output_files:
        t = next((t for t in content if f.name in t.files or f.name in t.text), content[-1])
        ext = f.basename.rsplit(".", 1)[-1].lower()
        stem = re.sub(r"[^A-Za-z0-9_\-.]", "_", f.basename.rsplit(".", 1)[0]) or "result"
        if ext in OUTPUT_EXTENSIONS:
            path = f"output/{stem}.{ext}"
        else:
            alt = "csv" if f.kind in {"spreadsheet", "csv"} else "md"
            path = f"output/{stem}.{alt}"
            t.notes.append(
                f"The user asked for {f.name}; CrewAI writes text, so the result goes to {path} "
                f"(open it in the matching app and save it as {f.basename})."
            )
        if t.output_file is None:
            t.output_file = path
    per_item = analysis.output("per_item")
    if per_item:
        t = next((t for t in content if t.kind in {"write", "reply", "summarise"}), content[-1])
        t.per_item = per_item.target
    if not any(t.output_file for t in tasks):
        content[-1].output_file = f"output/{name.removesuffix('_crew') or 'result'}.md"
    for t in tasks:
        if t.output_file and t.output_file not in t.text:
            t.notes.append(f"The result is saved to {t.output_file}.")


def _ensure_mentions(analysis: Analysis, tasks: list[PlannedTask]) -> None:
    """Quantities and time windows the user gave outside any step reach a task."""
    texts = " ".join(t.text for t in tasks).lower()
    first = _content_tasks(tasks)[0]
    for q in analysis.quantities:
        if str(q.number) not in texts:
            first.notes.append(f"Keep to the requested quantity: {q.number} {q.noun}.")
    for w in analysis.windows:
        if w.lower() not in texts:
            first.notes.append(f"Only consider items {w}.")


# --------------------------------------------------------------------------- build


def build_design(analysis: Analysis, *, blueprint: dict | None = None) -> dict[str, Any]:
    pipeline, template_roles = _template_info(blueprint)
    name = make_name(analysis)
    subject = analysis.subject or "the topic"
    inputs: dict[str, str] = {"topic": subject[:300]}
    integrations: list[dict[str, str]] = []

    tasks = _merge_overflow(_plan(analysis, pipeline))
    _attach_inputs(analysis, tasks, inputs)
    _attach_services(analysis, tasks, integrations)
    tasks = _merge_overflow(tasks)
    _attach_outputs(analysis, tasks, name)
    _ensure_mentions(analysis, tasks)

    # What the user told about themselves ("a bike repair shop in Lisbon") reaches the
    # tasks that do the work; {brief} holds only the first 500 characters.
    background = " ".join(_sentence(c) for c in analysis.context)[:600].strip()
    brief_cut = len(analysis.text) > 500
    lang = analysis.output_language_name
    language_rule = (
        f" Write your answer in {lang}, the language the user asked for."
        if analysis.output_language != "en"
        else ""
    )
    # Agents: one per distinct role title, in order of first use.
    agents: dict[str, dict[str, Any]] = {}
    task_rows: list[dict[str, Any]] = []
    used_ids: set[str] = set()
    for i, t in enumerate(tasks):
        data = _kind_data(t.kind)
        role = template_roles.get(t.kind) or str(data["role"])
        agent = agents.get(role)
        if agent is None:
            agent_id = _snake(role)
            while agent_id in used_ids or agent_id in RESERVED_MEMBER_NAMES:
                agent_id += "_2"
            used_ids.add(agent_id)
            agent = {
                "id": agent_id,
                "role": role,
                "goal": f"{data['goal']}, for: {{topic}}",
                "backstory": str(data["backstory"]),
                "tools": [],
                "allow_delegation": False,
            }
            agents[role] = agent
        for key in t.tools:
            if key in TOOL_CATALOGUE and key not in agent["tools"] and len(agent["tools"]) < 6:
                agent["tools"].append(key)
        for key in data.get("tools", []):  # the kind's usual tools (roles.yaml)
            if key not in agent["tools"] and len(agent["tools"]) < 6:
                agent["tools"].append(key)

        task_id = f"{t.kind}_task"
        while task_id in used_ids or task_id in RESERVED_MEMBER_NAMES:
            task_id = (
                task_id.removesuffix("_task") + "_2_task"
                if not task_id.endswith("_2_task")
                else task_id.replace("_2_task", "_3_task")
            )  # noqa: E501
        used_ids.add(task_id)

        text = t.text if t.from_user else str(data["description"]).replace("{subject}", "{topic}")
        parts = [_sentence(text)]
        if t.per_item:
            parts.append(
                f"Produce one separate result per {t.per_item}, each under its own heading."
            )
        parts += t.notes
        if i == 0:
            parts.append("The whole request, for context: {brief}")
        if background and (t.kind not in DELIVERY_KINDS or (i == 0 and brief_cut)):
            parts.append(f"Background from the request: {background}")
        if analysis.rules:
            parts.append(
                "Rules from the request: " + " ".join(_sentence(r) for r in analysis.rules)
            )
        description = " ".join(p for p in parts if p) + language_rule
        expected = str(data["expected_output"])
        if t.per_item:
            expected = f"One result per {t.per_item}, each under its own heading. " + expected
        if t.output_file:
            expected += f" Saved to {t.output_file}."
        if language_rule:
            expected += f" Written in {lang}."
        task_rows.append(
            {
                "id": task_id,
                "description": description[:3900],
                "expected_output": expected[:1900],
                "agent": agent["id"],
                "context": [task_rows[-1]["id"]] if task_rows else [],
                **({"output_file": t.output_file} if t.output_file else {}),
            }
        )
    inputs["brief"] = (analysis.text[:500] or subject)[:500]

    summary_bits = [f"{len(task_rows)} step(s) from your request"]
    if analysis.input_files:
        summary_bits.append("reads " + ", ".join(f"data/{f.name}" for f in analysis.input_files))
    outputs = [r["output_file"] for r in task_rows if r.get("output_file")]
    if outputs:
        summary_bits.append("writes " + ", ".join(outputs))
    if analysis.output("email"):
        summary_bits.append("sends the result by email")
    if analysis.output("slack"):
        summary_bits.append("posts to Slack")
    if analysis.schedule:
        summary_bits.append(f"runs {analysis.schedule.description}")
    title = subject if subject != "the topic" else "Research crew"
    data = {
        "name": name,
        "title": title[:100],
        "summary": ("Built-in designer: " + "; ".join(summary_bits) + ".")[:1000],
        "process": "sequential",
        "agents": list(agents.values()),
        "tasks": task_rows,
        "inputs": inputs,
        "integrations": _dedupe_integrations(integrations)[:8],
    }
    if analysis.schedule:
        data["schedule"] = {
            "cron": analysis.schedule.cron,
            "description": analysis.schedule.description,
        }
    if blueprint and blueprint.get("process") in {"sequential", "hierarchical"}:
        data["process"] = blueprint["process"]
    return data


def _dedupe_integrations(items: list[dict[str, str]]) -> list[dict[str, str]]:
    seen: set[str] = set()
    out = []
    for item in items:
        if item["env_var"] in seen:
            continue
        seen.add(item["env_var"])
        out.append(item)
    return out


def fallback_design(*, requirement: str, blueprint: dict | None = None) -> CrewDesign:
    """A valid design for any requirement, built from its analysis. A blueprint steers the
    structure (usual steps, role titles, process); simple overrides of ``title`` and
    ``summary`` apply when the blueprint is not itself a full design. Overrides that would
    make the design invalid are ignored rather than failing the generation."""
    analysis = analyse(requirement or "")
    data = build_design(analysis, blueprint=blueprint)
    if blueprint and not blueprint.get("agents"):
        overrides = {k: v for k, v in blueprint.items() if k in {"title", "summary"}}
        if overrides:
            try:
                return validate_design({**data, **overrides})
            except DesignInvalid:
                pass
    return validate_design(data)
