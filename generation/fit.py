"""The fit check: does a design honour what the requirement asked for?

Every named input (file, folder, URL), service, output, schedule, output language,
quantity and time window found by the analysis must be honoured by the design — read by
a real tool, written where asked, scheduled, in the right language — or be declared
unsupported (an integration and a note), never silently dropped. Pure: reads the
analysis and the design only.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from generation.analysis import Analysis, lexicon
from generation.design import TOOL_CATALOGUE, CrewDesign

READ_TOOLS = frozenset(k for k, t in TOOL_CATALOGUE.items() if t.reads in {"files", "folder"})
WEB_TOOLS = frozenset({"web_page_reader"})
SERVICE_TOOLS = {
    ("github", "read"): "github_issue_reader",
    ("github", "label"): "github_issue_labeler",
    ("email", "send"): "email_sender",
    ("slack", "send"): "slack_poster",
}
NATIVE_LANGUAGE_NAMES = {
    "de": ("deutsch",),
    "fr": ("français", "francais"),
    "es": ("español", "espanol"),
    "pt": ("português", "portugues"),
    "it": ("italiano",),
    "nl": ("nederlands",),
    "ja": ("日本語",),
    "zh": ("中文",),
    "ko": ("한국어",),
    "ru": ("русском", "русский"),
}


@dataclass(frozen=True)
class FitItem:
    # subject | file | folder | url | service | output | schedule | language | quantity | window
    # | rule
    kind: str
    label: str
    honoured: bool
    how: str

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class FitReport:
    items: tuple[FitItem, ...]

    @property
    def missed(self) -> list[FitItem]:
        return [i for i in self.items if not i.honoured]

    @property
    def passed(self) -> bool:
        return not self.missed

    @property
    def nothing_fits(self) -> bool:
        return bool(self.items) and len(self.missed) == len(self.items)

    def summary(self) -> str:
        if not self.items:
            return "nothing specific to honour (no files, services, outputs or schedule named)"
        done = len(self.items) - len(self.missed)
        if self.passed:
            return f"fits: all {len(self.items)} requested items honoured"
        misses = "; ".join(f"{i.label} ({i.how})" for i in self.missed)
        return f"fits partly ({done} of {len(self.items)}): missing {misses}"

    def feedback(self) -> list[str]:
        """Lines for the designer's repair round."""
        return [f"requirement_fit: {i.label} — {i.how}" for i in self.missed]


def _tasks_text(design: CrewDesign) -> list[tuple[str, str, str]]:
    """(task id, agent id, lower-cased description + expected output)."""
    return [(t.id, t.agent, f"{t.description}\n{t.expected_output}".lower()) for t in design.tasks]


def _agent_tools(design: CrewDesign, agent_id: str) -> set[str]:
    return {tool for a in design.agents if a.id == agent_id for tool in a.tools}


def _all_tools(design: CrewDesign) -> set[str]:
    return {tool for a in design.agents for tool in a.tools}


def _declared(design: CrewDesign, label: str) -> bool:
    """A service the project cannot reach is declared as an integration (so the README's
    "What you need to connect" lists it), e.g. "Notion (not connected)"."""
    needle = label.lower().split(" (")[0]
    return any(needle in i.name.lower() for i in design.integrations)


def _file_item(design: CrewDesign, name: str, kind: str) -> FitItem:
    base = name.rsplit("/", 1)[-1].lower()
    stem = base.rsplit(".", 1)[0]
    label = f"read {name}"
    mentioned = False
    for task_id, agent_id, text in _tasks_text(design):
        named = base in text or (kind in {"spreadsheet", "pdf", "document"} and stem in text)
        if not named:
            continue
        mentioned = True
        tools = _agent_tools(design, agent_id) & READ_TOOLS
        if tools:
            return FitItem(
                "file", label, True, f"{task_id} reads it with {', '.join(sorted(tools))}"
            )
    how = (
        "named in a task but its agent has no file-reading tool"
        if mentioned
        else "no task reads it"
    )
    return FitItem("file", label, False, how)


GENERIC_WORDS = frozenset(
    """report reports summary summaries result results team data list lists item items
    information content text texts output outputs file files task tasks crew agent agents
    weekly daily monthly every each short long good best main most other some things thing
    week month today people""".split()
)


IDENTITY = re.compile(
    r"\b([^\W\d_][\w\-]{2,})\s+(?:shop|store|company|business|agency|app|application|startup|"
    r"brand|clinic|clinics|restaurant|platform|saas|firm|studio)\b",
    re.I | re.UNICODE,
)
IDENTITY_FILLERS = frozenset(
    """online small local new our your their the web mobile whole b2b b2c first big""".split()
)


def _content_words(text: str) -> set[str]:
    verbs = {
        str(v).lower() for kinds in lexicon()["verbs"].values() for vs in kinds.values() for v in vs
    }
    stop = {w for ws in lexicon()["stopwords"].values() for w in ws}
    words = re.findall(r"[^\W\d_]{4,}", text.lower(), re.UNICODE)
    return {
        w[:6]
        for w in words
        if w not in verbs
        and w not in stop
        and w not in GENERIC_WORDS
        and w.rstrip("s") not in verbs
    }


def _subject_item(analysis: Analysis, design: CrewDesign) -> FitItem | None:
    """Is the design about what was asked? Some content word of the user's steps (the
    nouns: "competitors", "invoices", "LinkedIn") must appear in the design's tasks,
    agents or inputs. Not judged for scripts without spaces between words."""
    if analysis.language in {"ja", "zh", "th"}:
        return None
    wanted = _content_words(" ".join(s.text for s in analysis.steps))
    if not wanted:
        return None
    design_text = " ".join(
        [t.description + " " + t.expected_output for t in design.tasks]
        + [a.role + " " + a.goal for a in design.agents]
        + list(design.inputs.values())
        + [design.title, design.summary]
    )
    have = _content_words(design_text)
    found = wanted & have
    label = f"about: {analysis.subject or 'the request'}"[:120]
    # What the business is ("plant shop", "scheduling app") must survive any paraphrase.
    identity = {
        m.group(1).lower()[:6]
        for m in IDENTITY.finditer(" ".join(s.text for s in analysis.steps))
        if m.group(1).lower() not in GENERIC_WORDS | IDENTITY_FILLERS
    }
    missing_identity = identity - have
    if missing_identity:
        return FitItem("subject", label, False, "the design is about another business or product")
    if len(found) * 2 >= len(wanted):
        return FitItem("subject", label, True, "shares the request's subject words")
    return FitItem("subject", label, False, "the design is about something else")


def fit_report(analysis: Analysis, design: CrewDesign) -> FitReport:
    items: list[FitItem] = []
    texts = _tasks_text(design)
    all_text = "\n".join(t for _, _, t in texts)
    tools = _all_tools(design)
    if (subject := _subject_item(analysis, design)) is not None:
        items.append(subject)

    kinds = {s.kind for s in analysis.steps if not s.inferred}
    if "research" in kinds:
        ok = "web_search" in tools
        items.append(
            FitItem(
                "step", "research on the web", ok, "web_search tool" if ok else "no web search tool"
            )  # noqa: E501
        )
    if "monitor" in kinds and not analysis.urls:
        ok = bool(tools & WEB_TOOLS)
        items.append(
            FitItem(
                "step", "watch web pages", ok, "web page reader" if ok else "no web page reader"
            )  # noqa: E501
        )
    for f in analysis.input_files:
        items.append(_file_item(design, f.name, f.kind))
    for folder in analysis.folders:
        ok = folder.lower() in all_text and {"directory_reader", "file_reader"} <= tools
        items.append(
            FitItem(
                "folder",
                f"read the folder {folder}",
                ok,
                "listed and read" if ok else "no task reads it",
            )  # noqa: E501
        )
    for url in analysis.urls:
        present = url in design.inputs.values() or url.lower() in all_text
        ok = present and bool(tools & WEB_TOOLS)
        how = (
            "an input read by the web page reader"
            if ok
            else ("no agent has a web tool" if present else "the URL is not in the design")
        )
        items.append(FitItem("url", f"read {url}", ok, how))

    for service in analysis.services:
        for action in service.actions:
            tool = SERVICE_TOOLS.get((service.key, action))
            label = f"{service.label}: {action}"
            if tool:
                ok = tool in tools
                items.append(
                    FitItem("service", label, ok, f"{tool} tool" if ok else f"no {tool} tool")
                )
            elif service.key == "email" and action == "read":
                ok = _declared(design, "email") and {"directory_reader", "file_reader"} <= tools
                items.append(
                    FitItem(
                        "service",
                        label,
                        ok,
                        "messages read from data/emails/"
                        if ok
                        else "inbox reading neither built nor declared",
                    )  # noqa: E501
                )
            elif action != "mention" or not service.supported:
                ok = _declared(design, service.label)
                items.append(
                    FitItem(
                        "service",
                        f"{service.label}",
                        ok,
                        "declared as not connected" if ok else "no tool and not declared",
                    )
                )

    outputs_by_file = {
        (t.output_file or "").rsplit("/", 1)[-1].rsplit(".", 1)[0].lower(): t
        for t in design.tasks
        if t.output_file
    }
    for o in analysis.outputs:
        if o.kind == "file":
            stem = re.sub(
                r"[^A-Za-z0-9_\-.]", "_", o.target.rsplit("/", 1)[-1].rsplit(".", 1)[0]
            ).lower()  # noqa: E501
            task = outputs_by_file.get(stem)
            items.append(
                FitItem(
                    "output",
                    f"write {o.target}",
                    task is not None,
                    f"{task.id} writes {task.output_file}" if task else "no task writes it",
                )
            )
        elif o.kind == "per_item":
            noun = o.target.rstrip("s")
            ok = re.search(r"\b(?:per|each|every)\s+" + re.escape(noun), all_text) is not None
            items.append(
                FitItem(
                    "output",
                    f"one result per {o.target}",
                    ok,
                    "asked in a task" if ok else "no task makes one per item",
                )  # noqa: E501
            )

    if analysis.schedule:
        expected = analysis.schedule.cron.split()
        assumed = "assumed" in analysis.schedule.description
        got = design.schedule.cron.split() if design.schedule else None
        ok = got is not None and got[2:] == expected[2:] and (assumed or got[:2] == expected[:2])
        how = f"cron {design.schedule.cron}" if design.schedule else "no schedule in the design"
        if design.schedule and not ok:
            how += f" (expected {analysis.schedule.cron})"
        items.append(FitItem("schedule", analysis.schedule.description, ok, how))

    if analysis.output_language != "en":
        names = (analysis.output_language_name.lower(),) + NATIVE_LANGUAGE_NAMES.get(
            analysis.output_language, ()
        )
        pattern = (
            r"\b(?:write|writes|written|answer|respond|reply|output|outputs|produce|language)\b"
            r"[^.]{0,60}\b(?:in|into)\s+(?:" + "|".join(re.escape(n) for n in names) + r")\b"
        )
        native = [re.escape(n) for n in names if not n.isascii()]
        if native:  # "日本語で書いてください" names the language in its own script
            pattern += "|" + "|".join(native)
        language_rule = re.compile(pattern)
        without = [t.id for t in design.tasks if not language_rule.search(t.description.lower())]
        items.append(
            FitItem(
                "language",
                f"outputs in {analysis.output_language_name}",
                not without,
                "every task has the language rule"
                if not without
                else "no language rule in " + ", ".join(without),  # noqa: E501
            )
        )
    for q in analysis.quantities:
        ok = re.search(rf"(?<!\d){q.number}(?!\d)", all_text) is not None or bool(
            q.word and re.search(rf"\b{re.escape(q.word)}\b", all_text)
        )
        items.append(
            FitItem("quantity", f"{q.number} {q.noun}", ok, "kept" if ok else "not in any task")
        )  # noqa: E501
    for w in analysis.windows:
        ok = w.lower() in all_text
        items.append(FitItem("window", w, ok, "kept" if ok else "not in any task"))
    for rule in analysis.rules:
        items.append(_rule_item(rule, [text for _, _, text in texts]))
    return FitReport(items=tuple(items))


def _rule_item(rule: str, task_texts: list[str]) -> FitItem:
    """A rule the user set ("Don't include diagnoses") is kept, in their words or close to
    them (most of its content words), by at least one task."""
    wanted = _content_words(rule) or {rule.lower()[:6]}
    ok = rule.lower() in "\n".join(task_texts) or any(
        len(wanted & _content_words(text)) * 3 >= len(wanted) * 2 for text in task_texts
    )
    return FitItem("rule", rule[:120], ok, "kept in a task" if ok else "no task states it")
