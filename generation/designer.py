"""Requirement → validated ``CrewDesign``: through an LLM when a key is available (one
repair round with the validation errors), else the deterministic fallback designer.

Pure: no models, no database. The caller (the generation task) owns retries of
retryable provider errors, billing and persistence; this module makes at most
``MAX_CALLS_PER_DESIGN`` provider calls per invocation.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import Any

from crewbuilder.providers import (
    DEFAULT_MODELS,
    MAX_CALLS_PER_DESIGN,
    ProviderBadRequest,
    ProviderError,
    request_design,
)
from crewbuilder.redaction import redact
from generation.analysis import Analysis, analyse
from generation.design import (
    MAX_AGENTS,
    MAX_TASKS,
    TOOL_CATALOGUE,
    CrewDesign,
    DesignInvalid,
    design_json_schema,
    validate_design,
)
from generation.fallback import WORD, fallback_design

MAX_QUESTIONS = 3
MAX_REPLY_ECHO = 20_000  # the previous answer is sent back in the repair prompt, bounded
VAGUE_WORDS = 4

FALLBACK_QUESTIONS = (
    "What should the crew deliver at the end (for example a report, emails, a plan)?",
    "Who is the result for, and what will they do with it?",
    "Which sources, data or tools should the crew use?",
)


class DesignFailed(ProviderError):  # noqa: N818 - the interface name is agreed
    """The model did not produce a valid design after the repair round."""

    code = "design_invalid"
    retryable = False

    def __init__(self, message: str, *, errors: list[str] | None = None, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.errors = list(errors or [])


@dataclass
class DesignResult:
    design: CrewDesign | None
    questions: list[str]
    provider: str
    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    attempts: int = 0
    errors: list[str] = field(default_factory=list)  # what the repair round fixed, if any


def _tool_lines() -> str:
    return "\n".join(
        f"- {spec.key}: {spec.description}"
        + (f" (needs {', '.join(spec.env_vars)})" if spec.env_vars else "")
        for spec in TOOL_CATALOGUE.values()
    )


@functools.cache
def system_prompt(*, allow_questions: bool) -> str:
    schema = json.dumps(design_json_schema(), separators=(",", ":"))
    questions = (
        "\nIf, and only if, the requirement is too vague to design a useful crew, reply "
        f'instead with {{"questions": [...]}}: at most {MAX_QUESTIONS} short questions.'
        if allow_questions
        else ""
    )
    return f"""You design CrewAI crews. Turn the user's requirement into one crew design.
Reply with a single JSON object that matches this JSON schema exactly (no prose, no markdown):
{schema}

Rules:
- name: snake_case Python package name (a-z, 0-9, _), not a Python keyword, ending in _crew.
- tasks: 1 to {min(MAX_TASKS, 6)} tasks that follow the user's own steps, in their order; ids
  snake_case, unique, different from agent ids; each task's agent is an agent id; context lists
  only EARLIER task ids.
- agents: 1 to {min(MAX_AGENTS, 6)} agents, as many as the work needs; ids snake_case and
  unique; role is a short job title (e.g. "Data Analyst"), never the requirement's sentence.
- tools: only these keys (or none):
{_tool_lines()}
- Every file the user names is read by the task that needs it, from data/<name>, by an agent
  with file_reader, csv_reader or document_reader (.xlsx, .pdf, .docx) (folders:
  directory_reader); every URL is an input read by an agent with web_page_reader.
- Deliver where asked: email_sender for "email me", slack_poster for Slack,
  github_issue_labeler to label GitHub issues; a named output file becomes that task's
  output_file.
- output_file: only a file under output/ (e.g. output/report.md); never code or config.
- A service with no tool above is declared honestly: an integration named "<Service> (not
  connected)" and a note in the task that needs it.
- When the user asks for a recurring run, set schedule {{"cron": 5-field UTC cron,
  "description"}}.
- When outputs must be in a language other than English, every task says "Write your answer
  in <Language>".
- Text may use {{placeholders}} like {{topic}}; every placeholder must be a key of inputs, and
  inputs gives a realistic example value for each.
- integrations: external services the crew needs, with an UPPER_SNAKE env_var for each secret.
- process: "sequential" unless a manager must delegate dynamically ("hierarchical").
- Never include API keys or secrets anywhere in the design.{questions}"""


def requirement_analysis(*, requirement: str, answers: dict[str, str] | None = None) -> Analysis:
    """The analysis both designers and the fit check use (the answers to clarifying
    questions are part of the requirement)."""
    return analyse(_with_answers(requirement, answers))


def analysis_prompt(analysis: Analysis) -> str:
    lines = [f"- {heading}: {text}" for heading, text in analysis.lines()]
    if not lines:
        return ""
    return (
        "What the user asked for (found in the requirement; the design must honour every "
        "item, or declare it as not connected):\n" + redact("\n".join(lines))[:4000]
    )


def user_prompt(
    *,
    requirement: str,
    blueprint: dict | None,
    answers: dict[str, str] | None,
    feedback: list[str] | None,
    analysis: Analysis | None = None,
) -> str:
    parts = [f"Requirement:\n{redact(requirement.strip())}"]
    if analysis is not None and (summary := analysis_prompt(analysis)):
        parts.append(summary)
    if blueprint:
        parts.append(
            "Use this template for structure only (its usual steps and roles); the user's "
            "steps, files, services and subject replace the template's examples:\n"
            + json.dumps(blueprint, ensure_ascii=False)[:6000]
        )
    if answers:
        parts.append(
            "Clarifications from the user:\n"
            + "\n".join(f"Q: {redact(q)}\nA: {redact(a)}" for q, a in answers.items())
        )
    if feedback:
        parts.append(
            "A previous design failed these checks (requirement_fit lines are requested "
            "items it did not honour); fix every one:\n"
            + "\n".join(f"- {item}" for item in feedback)
        )
    return "\n\n".join(parts)


def repair_prompt(errors: list[str]) -> str:
    return (
        "That reply is not a valid crew design:\n"
        + "\n".join(f"- {e}" for e in errors[:30])
        + "\nReply with the corrected, complete JSON object only."
    )


def _clean_questions(raw: Any) -> list[str]:
    if not isinstance(raw, list):
        return []
    out = []
    for item in raw:
        if isinstance(item, str) and item.strip():
            out.append(redact(item.strip())[:300])
    return out[:MAX_QUESTIONS]


def _design_payload(data: dict) -> dict:
    # Some models wrap the object ({"design": {...}}); accept that rather than spend a repair.
    inner = data.get("design")
    if "agents" not in data and isinstance(inner, dict):
        return inner
    return data


def is_vague(requirement: str) -> bool:
    words = [w for w in WORD.findall(requirement or "") if len(w) > 1]
    return len(words) < VAGUE_WORDS


def _with_answers(requirement: str, answers: dict[str, str] | None) -> str:
    if not answers:
        return requirement
    extra = " ".join(a.strip() for a in answers.values() if a and a.strip())
    return f"{requirement.strip()}. {extra}".strip(". ") if extra else requirement


def design_crew(
    *,
    requirement: str,
    key,
    model: str | None = None,
    blueprint: dict | None = None,
    answers: dict[str, str] | None = None,
    feedback: list[str] | None = None,
    allow_questions: bool = False,
) -> DesignResult:
    """Design a crew for ``requirement``.

    ``key`` is a ``keys.services.ResolvedKey`` or None (→ deterministic fallback, no
    network). With a key: one structured call, validation, and at most one repair call
    carrying the validation errors; then ``DesignFailed``. Provider failures surface as
    ``ProviderError`` subclasses for the task to retry or fail on. When ``allow_questions``
    and no answers were given yet, up to 3 clarifying questions may come back instead of a
    design (``design`` None)."""
    ask = allow_questions and not answers
    if key is None:
        if ask and is_vague(requirement):
            return DesignResult(
                design=None,
                questions=list(FALLBACK_QUESTIONS),
                provider="fallback",
                model="fallback",
            )
        design = fallback_design(
            requirement=_with_answers(requirement, answers), blueprint=blueprint
        )
        return DesignResult(design=design, questions=[], provider="fallback", model="fallback")

    provider = key.provider
    if provider not in DEFAULT_MODELS:
        raise ProviderBadRequest(f"unknown provider {provider!r}", code="unknown_provider")
    model = model or DEFAULT_MODELS[provider]
    schema = design_json_schema()
    system = system_prompt(allow_questions=ask)
    messages: list[dict] = [
        {
            "role": "user",
            "content": user_prompt(
                requirement=requirement,
                blueprint=blueprint,
                answers=answers,
                feedback=feedback,
                analysis=requirement_analysis(requirement=requirement, answers=answers),
            ),
        }
    ]
    result = DesignResult(design=None, questions=[], provider=provider, model=model)
    first_errors: list[str] = []
    for attempt in range(1, MAX_CALLS_PER_DESIGN + 1):
        try:
            reply = request_design(
                provider=provider,
                api_key=key.secret,
                model=model,
                system=system,
                messages=messages,
                schema=schema,
                allow_questions=ask,
            )
        except ProviderError as exc:
            # Let the caller bill what was already spent on an earlier attempt.
            exc.input_tokens = result.input_tokens  # type: ignore[attr-defined]
            exc.output_tokens = result.output_tokens  # type: ignore[attr-defined]
            raise
        result.attempts = attempt
        result.input_tokens += reply.input_tokens
        result.output_tokens += reply.output_tokens
        data = reply.data
        if ask and data is not None and (reply.tool == "questions" or "agents" not in data):
            questions = _clean_questions(data.get("questions"))
            if questions:
                result.questions = questions
                return result
        if data is None:
            errors = ["the reply was not a JSON object"]
        else:
            try:
                result.design = validate_design(_design_payload(data))
                result.errors = first_errors
                return result
            except DesignInvalid as exc:
                errors = exc.errors
        if attempt == 1:
            first_errors = errors
        messages = [
            *messages,
            {"role": "assistant", "content": reply.text[:MAX_REPLY_ECHO] or "(empty reply)"},
            {"role": "user", "content": repair_prompt(errors)},
        ]
    summary = "; ".join(errors[:5])
    failed = DesignFailed(
        f"The model did not return a valid crew design after {result.attempts} attempts: {summary}"[
            :1000
        ],
        errors=errors,
        provider=provider,
    )
    failed.input_tokens = result.input_tokens  # type: ignore[attr-defined]
    failed.output_tokens = result.output_tokens  # type: ignore[attr-defined]
    failed.attempts = result.attempts  # type: ignore[attr-defined]
    raise failed
