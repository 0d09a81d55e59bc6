"""The deterministic designer: no LLM, same requirement → same design.

Used when no provider key is available (the embedded default), and as the base a starter
blueprint steers. It scores the requirement against a small table of domains by keyword,
takes that domain's roles (three agents, three tasks each chained to the previous one by
``context``), and extracts inputs from the requirement itself (a ``topic`` phrase, a
``url`` when one is mentioned, the brief). Every requirement (empty, one word, emoji,
non-Latin scripts, pasted secrets) yields a design that passes ``validate_design``.
"""

from __future__ import annotations

import keyword
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from crewbuilder.redaction import REDACTED, redact
from generation.design import (
    RESERVED_PACKAGE_NAMES,
    CrewDesign,
    DesignInvalid,
    validate_design,
)

WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)
URL = re.compile(r"https?://[^\s<>\"'{}]+", re.I)
LEAD_IN = re.compile(
    r"^(?:please\s+)?(?:(?:i|we)\s+(?:want|need|would like|'d like)(?:\s+to)?\s+"
    r"|(?:can|could)\s+you\s+|build\s+|create\s+|make\s+|design\s+|generate\s+)?"
    r"(?:(?:a|an|the|me|us|my|our)\s+)*"
    r"(?:(?:ai\s+)?(?:crew|team|agents?|system|bot|workflow|pipeline)\s+"
    r"(?:that|which|to|for|who)\s+)?",
    re.I,
)
STOPWORDS = frozenset(
    """a an the and or of for to in on at by with from into about that which who what this
    these those it its is are be was were will would can could should please i we you me us
    my our your they them their some any each every all crew team agent agents system bot
    workflow pipeline build create make design generate want need like help using use via
    automatically automate automated daily weekly monthly new based""".split()
)


@dataclass(frozen=True)
class Role:
    id: str
    role: str
    goal: str
    backstory: str
    tools: tuple[str, ...] = ()


@dataclass(frozen=True)
class Step:
    id: str
    agent: str
    description: str
    expected_output: str
    output_file: str | None = None


@dataclass(frozen=True)
class Domain:
    key: str
    label: str
    keywords: tuple[str, ...]
    roles: tuple[Role, ...]
    steps: tuple[Step, ...]
    extra_inputs: dict[str, str] = field(default_factory=dict)
    integrations: tuple[tuple[str, str, str], ...] = ()


# Each domain's text uses {topic} (always an input) and only the extra inputs it declares.
DOMAINS: tuple[Domain, ...] = (
    Domain(
        key="content_marketing",
        label="Content marketing",
        keywords=(
            "content",
            "marketing",
            "blog",
            "seo",
            "social",
            "newsletter",
            "post",
            "posts",
            "article",
            "articles",
            "campaign",
            "brand",
            "copy",
            "copywriting",
            "linkedin",
            "twitter",
            "instagram",
            "tiktok",
            "youtube",
            "audience",
            "email",
        ),
        roles=(
            Role(
                "content_researcher",
                "Content Researcher for {topic}",
                "Find the angles, facts and questions {audience} care about regarding {topic}",
                "A meticulous researcher who turns a topic into sourced, surprising insights "
                "and keeps a list of every source used.",
                ("web_search", "web_page_reader"),
            ),
            Role(
                "content_strategist",
                "Content Strategist",
                "Shape the research on {topic} into a clear outline that serves {audience}",
                "A strategist who has planned editorial calendars for fast-growing brands and "
                "knows what makes people read to the end.",
            ),
            Role(
                "content_writer",
                "Content Writer",
                "Write engaging, accurate content about {topic} for {audience}",
                "A versatile writer with a plain, confident style who never invents facts.",
                ("file_writer",),
            ),
        ),
        steps=(
            Step(
                "research_task",
                "content_researcher",
                "Research {topic} for {audience}. Collect key facts, recent developments, "
                "common questions and three possible angles, each with sources.",
                "A bullet list of findings with sources, and three candidate angles.",
            ),
            Step(
                "outline_task",
                "content_strategist",
                "Pick the strongest angle from the research and write an outline: title, "
                "hook, sections with key points, and a call to action.",
                "A structured outline in markdown with a working title.",
            ),
            Step(
                "writing_task",
                "content_writer",
                "Write the final piece about {topic} following the outline. Keep facts "
                "traceable to the research.",
                "A polished markdown article of 600-900 words with a title and headings.",
                "output/content.md",
            ),
        ),
        extra_inputs={"audience": "busy professionals"},
    ),
    Domain(
        key="lead_research",
        label="Lead research",
        keywords=(
            "lead",
            "leads",
            "prospect",
            "prospects",
            "prospecting",
            "sales",
            "crm",
            "outreach",
            "b2b",
            "pipeline",
            "account",
            "accounts",
            "icp",
            "cold",
            "deal",
            "deals",
            "buyer",
            "buyers",
            "company",
            "companies",
        ),
        roles=(
            Role(
                "lead_researcher",
                "Lead Researcher",
                "Find companies and decision makers that match {topic}",
                "A sales researcher who knows how to read company websites, job posts and "
                "news for buying signals.",
                ("web_search", "web_page_reader"),
            ),
            Role(
                "lead_qualifier",
                "Lead Qualification Analyst",
                "Score each lead against the ideal customer profile for {topic}",
                "A revenue operations analyst who is strict about fit and honest about "
                "uncertainty.",
            ),
            Role(
                "outreach_writer",
                "Outreach Copywriter",
                "Write short, personal first messages to the best leads for {topic}",
                "A copywriter who writes outreach people actually answer: specific, brief, "
                "never pushy.",
                ("file_writer",),
            ),
        ),
        steps=(
            Step(
                "lead_search_task",
                "lead_researcher",
                "Find up to 10 organisations that match {topic}. For each, note what they "
                "do, size, location, a likely decision maker role and a recent signal.",
                "A table of up to 10 leads with name, website, signal and source.",
            ),
            Step(
                "qualification_task",
                "lead_qualifier",
                "Score every lead from 1 to 5 for fit with {topic}, with one sentence of "
                "reasoning each, and rank them.",
                "A ranked list of leads with scores and reasons.",
            ),
            Step(
                "outreach_task",
                "outreach_writer",
                "Write a first outreach message (under 120 words) for each of the top "
                "three leads, referencing their signal.",
                "Three ready-to-send messages in markdown, one per lead.",
                "output/leads.md",
            ),
        ),
    ),
    Domain(
        key="customer_support",
        label="Customer support triage",
        keywords=(
            "support",
            "ticket",
            "tickets",
            "helpdesk",
            "customer",
            "customers",
            "complaint",
            "complaints",
            "faq",
            "triage",
            "refund",
            "inquiry",
            "inquiries",
            "zendesk",
            "service",
            "chat",
            "reply",
            "replies",
            "issue",
            "issues",
        ),
        roles=(
            Role(
                "triage_specialist",
                "Support Triage Specialist",
                "Classify incoming requests about {topic} by category, urgency and sentiment",
                "A seasoned support lead who can tell a billing question from an outage "
                "report in one read.",
                ("file_reader",),
            ),
            Role(
                "support_agent",
                "Customer Support Specialist",
                "Draft accurate, empathetic answers for requests about {topic}",
                "A patient support specialist who explains fixes step by step and never "
                "promises what the policy does not allow.",
            ),
            Role(
                "quality_reviewer",
                "Support Quality Reviewer",
                "Make sure every reply is correct, on-policy and kind",
                "A quality lead who has reviewed thousands of replies and catches tone and "
                "accuracy problems.",
                ("file_writer",),
            ),
        ),
        steps=(
            Step(
                "triage_task",
                "triage_specialist",
                "Read the support requests about {topic} and classify each by category, "
                "urgency (low/medium/high) and sentiment. Flag anything that needs a human.",
                "A table of requests with category, urgency, sentiment and flags.",
            ),
            Step(
                "response_task",
                "support_agent",
                "Draft a reply for each request, highest urgency first, following the "
                "triage notes.",
                "One draft reply per request, labelled with the request it answers.",
            ),
            Step(
                "review_task",
                "quality_reviewer",
                "Review the drafts for accuracy, tone and policy; fix what needs fixing and "
                "list anything to escalate.",
                "Final replies in markdown plus an escalation list.",
                "output/support_replies.md",
            ),
        ),
    ),
    Domain(
        key="data_analysis",
        label="Data and finance analysis",
        keywords=(
            "data",
            "finance",
            "financial",
            "stock",
            "stocks",
            "invest",
            "investment",
            "budget",
            "revenue",
            "spreadsheet",
            "csv",
            "excel",
            "metrics",
            "kpi",
            "kpis",
            "analytics",
            "forecast",
            "sales figures",
            "expenses",
            "dashboard",
            "numbers",
            "crypto",
            "portfolio",
            "accounting",
        ),
        roles=(
            Role(
                "data_analyst",
                "Data Analyst",
                "Turn the data about {topic} into clean, verified figures",
                "An analyst who checks every number twice and states assumptions plainly.",
                ("csv_reader", "calculator"),
            ),
            Role(
                "insights_analyst",
                "Insights Analyst",
                "Explain what the figures about {topic} mean and what to do about them",
                "A former consultant who connects numbers to decisions.",
                ("calculator",),
            ),
            Role(
                "report_writer",
                "Report Writer",
                "Write a concise, decision-ready report on {topic}",
                "A writer who makes analysis readable for executives without dumbing it down.",
                ("file_writer",),
            ),
        ),
        steps=(
            Step(
                "data_review_task",
                "data_analyst",
                "Load and review the data for {topic}: describe the columns, check for gaps "
                "and outliers, and compute the key totals and trends.",
                "A data summary with key figures, trends and data-quality notes.",
            ),
            Step(
                "insights_task",
                "insights_analyst",
                "From the data summary, derive the five most important insights about "
                "{topic} and a recommendation for each.",
                "Five insights, each with evidence and a recommendation.",
            ),
            Step(
                "report_task",
                "report_writer",
                "Write the final report on {topic}: executive summary, insights, "
                "recommendations and caveats.",
                "A markdown report with an executive summary and sections.",
                "output/report.md",
            ),
        ),
    ),
    Domain(
        key="software_engineering",
        label="Software engineering",
        keywords=(
            "code",
            "coding",
            "software",
            "bug",
            "bugs",
            "api",
            "developer",
            "developers",
            "github",
            "pull request",
            "programming",
            "python",
            "javascript",
            "app",
            "feature",
            "refactor",
            "documentation",
            "docs",
            "architecture",
            "devops",
        ),
        roles=(
            Role(
                "requirements_analyst",
                "Requirements Analyst",
                "Turn the request about {topic} into precise, testable requirements",
                "A product-minded engineer who asks what done looks like before anything is built.",
            ),
            Role(
                "software_engineer",
                "Senior Software Engineer",
                "Design and write a clear solution for {topic}",
                "A pragmatic engineer who prefers simple, well-tested code and explains "
                "trade-offs.",
                ("file_reader",),
            ),
            Role(
                "code_reviewer",
                "Code Reviewer",
                "Review the solution for {topic} for correctness, security and clarity",
                "A reviewer known for catching edge cases and insecure defaults.",
                ("file_writer",),
            ),
        ),
        steps=(
            Step(
                "requirements_task",
                "requirements_analyst",
                "Write the requirements for {topic}: goals, constraints, inputs/outputs, "
                "and acceptance criteria.",
                "A numbered list of requirements with acceptance criteria.",
            ),
            Step(
                "implementation_task",
                "software_engineer",
                "Propose a design and write the implementation for {topic} that meets "
                "every requirement, with tests.",
                "A design note and code listings with tests.",
            ),
            Step(
                "review_task",
                "code_reviewer",
                "Review the implementation against the requirements and list issues by "
                "severity with concrete fixes.",
                "A markdown review with issues, severity and fixes.",
                "output/review.md",
            ),
        ),
    ),
    Domain(
        key="recruiting",
        label="Recruiting",
        keywords=(
            "hiring",
            "hire",
            "recruit",
            "recruiting",
            "recruitment",
            "candidate",
            "candidates",
            "resume",
            "resumes",
            "cv",
            "job",
            "jobs",
            "interview",
            "interviews",
            "talent",
            "onboarding",
            "hr",
        ),
        roles=(
            Role(
                "job_analyst",
                "Job Requirements Analyst",
                "Define what a great hire for {topic} looks like",
                "An HR partner who writes role profiles hiring managers agree with.",
            ),
            Role(
                "candidate_screener",
                "Candidate Screener",
                "Assess candidates for {topic} fairly against the role profile",
                "A recruiter who screens on evidence and avoids bias.",
                ("file_reader",),
            ),
            Role(
                "interview_planner",
                "Interview Planner",
                "Prepare structured interviews for the shortlisted candidates",
                "A hiring coach who designs interviews that predict performance.",
                ("file_writer",),
            ),
        ),
        steps=(
            Step(
                "role_profile_task",
                "job_analyst",
                "Write the role profile for {topic}: responsibilities, must-have and "
                "nice-to-have skills, and evaluation criteria.",
                "A role profile with weighted evaluation criteria.",
            ),
            Step(
                "screening_task",
                "candidate_screener",
                "Screen the candidate materials against the role profile and produce a "
                "shortlist with evidence for each score.",
                "A scored shortlist with evidence.",
            ),
            Step(
                "interview_plan_task",
                "interview_planner",
                "Write an interview plan with questions and a scoring rubric for the "
                "shortlisted candidates.",
                "An interview plan in markdown with questions and rubric.",
                "output/interview_plan.md",
            ),
        ),
    ),
    Domain(
        key="travel_events",
        label="Travel and events",
        keywords=(
            "travel",
            "trip",
            "trips",
            "itinerary",
            "vacation",
            "holiday",
            "flight",
            "flights",
            "hotel",
            "hotels",
            "event",
            "events",
            "conference",
            "wedding",
            "tour",
            "visit",
            "destination",
        ),
        roles=(
            Role(
                "destination_researcher",
                "Destination Researcher",
                "Find the best options for {topic}",
                "A well-travelled planner who knows where to look for reliable, current "
                "information.",
                ("web_search", "web_page_reader"),
            ),
            Role(
                "logistics_planner",
                "Logistics Planner",
                "Turn the options for {topic} into a feasible day-by-day plan",
                "An organiser who thinks in timings, distances and budgets.",
                ("calculator",),
            ),
            Role(
                "plan_writer",
                "Itinerary Writer",
                "Present the plan for {topic} clearly, with practical tips",
                "A writer of guidebooks people actually use on the road.",
                ("file_writer",),
            ),
        ),
        steps=(
            Step(
                "options_task",
                "destination_researcher",
                "Research options for {topic}: places, venues, transport and typical "
                "costs, with sources.",
                "A list of options with costs and sources.",
            ),
            Step(
                "planning_task",
                "logistics_planner",
                "Build a day-by-day plan for {topic} from the options, with times and an "
                "estimated budget.",
                "A day-by-day schedule with a budget table.",
            ),
            Step(
                "itinerary_task",
                "plan_writer",
                "Write the final itinerary for {topic} with practical tips and alternatives.",
                "A markdown itinerary with schedule, budget and tips.",
                "output/itinerary.md",
            ),
        ),
    ),
    Domain(
        key="legal_compliance",
        label="Legal and compliance",
        keywords=(
            "legal",
            "law",
            "contract",
            "contracts",
            "compliance",
            "policy",
            "policies",
            "gdpr",
            "privacy",
            "regulation",
            "regulations",
            "regulatory",
            "terms",
            "audit",
            "risk",
            "clause",
            "clauses",
        ),
        roles=(
            Role(
                "document_analyst",
                "Document Analyst",
                "Extract the obligations, rights and risks in documents about {topic}",
                "A paralegal with a sharp eye for obligations hidden in long documents.",
                ("file_reader",),
            ),
            Role(
                "compliance_analyst",
                "Compliance Analyst",
                "Check {topic} against the applicable rules and flag gaps",
                "A compliance professional who cites the rule behind every finding.",
                ("web_search",),
            ),
            Role(
                "summary_writer",
                "Plain-Language Writer",
                "Explain the findings on {topic} in plain language with next steps",
                "A writer who makes legal findings understandable without losing precision.",
                ("file_writer",),
            ),
        ),
        steps=(
            Step(
                "extraction_task",
                "document_analyst",
                "Read the documents about {topic} and list obligations, deadlines, rights "
                "and risky clauses with references.",
                "A structured list of obligations, deadlines and risks with references.",
            ),
            Step(
                "compliance_task",
                "compliance_analyst",
                "Compare the extracted points with the applicable rules and flag gaps by severity.",
                "A gap analysis table with severity and the rule cited.",
            ),
            Step(
                "summary_task",
                "summary_writer",
                "Write a plain-language summary of the findings on {topic} with "
                "recommended next steps. Note that this is not legal advice.",
                "A markdown summary with findings and next steps.",
                "output/compliance_summary.md",
            ),
        ),
    ),
    Domain(
        key="education",
        label="Education and training",
        keywords=(
            "course",
            "courses",
            "lesson",
            "lessons",
            "teach",
            "teaching",
            "curriculum",
            "student",
            "students",
            "quiz",
            "quizzes",
            "training",
            "learn",
            "learning",
            "tutorial",
            "workshop",
            "exam",
            "school",
        ),
        roles=(
            Role(
                "subject_expert",
                "Subject Matter Expert",
                "Gather accurate, well-structured knowledge about {topic}",
                "An expert educator who knows the common misconceptions about the subject.",
                ("web_search",),
            ),
            Role(
                "instructional_designer",
                "Instructional Designer",
                "Design a learning path on {topic} with clear objectives",
                "A designer of courses with high completion rates.",
            ),
            Role(
                "assessment_writer",
                "Assessment Writer",
                "Write exercises and quizzes that check understanding of {topic}",
                "A teacher who writes questions that test understanding, not memory.",
                ("file_writer",),
            ),
        ),
        steps=(
            Step(
                "knowledge_task",
                "subject_expert",
                "Collect the key concepts, examples and misconceptions about {topic}, "
                "with sources.",
                "A structured knowledge brief with sources.",
            ),
            Step(
                "lesson_plan_task",
                "instructional_designer",
                "Design a lesson plan on {topic}: objectives, sequence of modules and activities.",
                "A lesson plan with objectives and modules.",
            ),
            Step(
                "assessment_task",
                "assessment_writer",
                "Write exercises and a 10-question quiz with answers for the lesson plan.",
                "Exercises and a quiz with an answer key in markdown.",
                "output/course.md",
            ),
        ),
    ),
    Domain(
        key="research",
        label="Research and reporting",
        keywords=(
            "research",
            "study",
            "paper",
            "papers",
            "academic",
            "literature",
            "market",
            "competitor",
            "competitors",
            "competitive",
            "trends",
            "analysis",
            "analyze",
            "analyse",
            "summary",
            "summarize",
            "summarise",
            "report",
            "news",
            "monitor",
            "insights",
        ),
        roles=(
            Role(
                "researcher",
                "{topic} Senior Researcher",
                "Uncover the latest, most relevant developments in {topic}",
                "A seasoned researcher known for finding the most relevant information and "
                "presenting it clearly, always with sources.",
                ("web_search", "web_page_reader"),
            ),
            Role(
                "analyst",
                "{topic} Analyst",
                "Make sense of the research on {topic} and separate signal from noise",
                "A meticulous analyst who compares sources and points out what is uncertain.",
            ),
            Role(
                "reporting_analyst",
                "{topic} Reporting Analyst",
                "Write a clear, well-structured report on {topic}",
                "A writer who turns analysis into reports that decision makers read.",
                ("file_writer",),
            ),
        ),
        steps=(
            Step(
                "research_task",
                "researcher",
                "Conduct thorough research about {topic}. Find the key facts, recent "
                "developments and expert opinions, with sources.",
                "A list of the 10 most relevant findings about {topic}, each with a source.",
            ),
            Step(
                "analysis_task",
                "analyst",
                "Analyse the findings: group them into themes, note agreements and "
                "contradictions, and rate confidence.",
                "Themes with supporting findings and confidence ratings.",
            ),
            Step(
                "reporting_task",
                "reporting_analyst",
                "Write a report on {topic} from the analysis: summary, sections per theme "
                "and open questions.",
                "A full report in markdown with a summary and one section per theme.",
                "output/report.md",
            ),
        ),
    ),
)
DEFAULT_DOMAIN = "research"
DOMAINS_BY_KEY = {d.key: d for d in DOMAINS}

MAX_TOPIC = 80


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text or "")
    # A pasted key must never reach the design (it would end up in the project's files).
    text = redact(text)
    # Braces would become CrewAI placeholders; control characters break YAML readability.
    text = text.replace("{", "(").replace("}", ")")
    text = "".join(ch if ch.isprintable() or ch in "\n\t" else " " for ch in text)
    return re.sub(r"\s+", " ", text).strip()


def _score(domain: Domain, lowered: str, words: set[str]) -> int:
    score = 0
    for kw in domain.keywords:
        if " " in kw:
            score += 2 if kw in lowered else 0
        elif kw in words:
            score += 1
    return score


def pick_domain(requirement: str) -> Domain:
    lowered = _normalise(requirement).lower()
    words = {w.strip("'’") for w in WORD.findall(lowered)}
    best, best_score = DOMAINS_BY_KEY[DEFAULT_DOMAIN], 0
    for domain in DOMAINS:
        score = _score(domain, lowered, words)
        if score > best_score:
            best, best_score = domain, score
    return best


def extract_topic(requirement: str, *, fallback: str) -> str:
    text = _normalise(requirement).replace(REDACTED, " ")
    text = URL.sub("", text).strip()
    # First sentence/clause carries the subject; lead-ins like "I need a crew that" go.
    first = re.split(r"(?<=[.!?;:])\s|\n", text, maxsplit=1)[0].strip(" .!?;:,-")
    first = LEAD_IN.sub("", first).strip(" .!?;:,-")
    if not first or not any(ch.isalnum() for ch in first):
        return fallback
    if len(first) > MAX_TOPIC:
        cut = first[:MAX_TOPIC].rsplit(" ", 1)[0]
        first = (cut or first[:MAX_TOPIC]).rstrip(" ,;:-")
    return first[:1].upper() + first[1:]


def _slug_words(text: str) -> list[str]:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = [w.lower() for w in re.findall(r"[A-Za-z0-9]+", ascii_text)]
    return [w for w in words if w not in STOPWORDS and len(w) > 1][:3]


def make_name(topic_words: list[str], domain: Domain) -> str:
    words = topic_words or domain.key.split("_")
    name = "_".join(words)
    if not name[:1].isalpha():
        name = "crew_" + name
    name = name[:36].rstrip("_") + "_crew"
    if keyword.iskeyword(name) or name in RESERVED_PACKAGE_NAMES:
        name = "my_" + name
    return name


def _title_case(text: str) -> str:
    return " ".join(w[:1].upper() + w[1:] for w in text.split())


def _build(requirement: str, domain: Domain) -> dict[str, Any]:
    brief = _normalise(requirement)
    topic = extract_topic(requirement, fallback=domain.label)
    name = make_name(_slug_words(topic), domain)
    inputs: dict[str, str] = {"topic": topic}
    inputs.update(domain.extra_inputs)
    url = URL.search(redact(requirement or ""))
    if url:
        inputs["source_url"] = url.group(0).rstrip(".,;:)")[:300]
    brief_note = brief[:600] if brief else topic

    agents = [
        {
            "id": r.id,
            "role": r.role,
            "goal": r.goal,
            "backstory": r.backstory,
            "tools": list(r.tools),
            "allow_delegation": False,
        }
        for r in domain.roles
    ]
    tasks = []
    for i, s in enumerate(domain.steps):
        description = s.description
        if i == 0:
            description += " The brief: {brief}"
            inputs["brief"] = brief_note[:500]
            if "source_url" in inputs:
                description += " Start from {source_url}."
        tasks.append(
            {
                "id": s.id,
                "description": description,
                "expected_output": s.expected_output,
                "agent": s.agent,
                "context": [domain.steps[i - 1].id] if i else [],
                **({"output_file": s.output_file} if s.output_file else {}),
            }
        )
    integrations = [{"name": n, "purpose": p, "env_var": e} for (n, p, e) in domain.integrations]
    summary = f"{domain.label} crew for: {brief_note[:300]}" if brief else domain.label
    return {
        "name": name,
        "title": (_title_case(domain.label) + " crew: " + topic)[:120],
        "summary": summary[:1000],
        "process": "sequential",
        "agents": agents,
        "tasks": tasks,
        "inputs": inputs,
        "integrations": integrations,
    }


def fallback_design(*, requirement: str, blueprint: dict | None = None) -> CrewDesign:
    """A valid design for any requirement. A blueprint may name a ``domain`` and/or carry
    partial design fields (agents, tasks, inputs, process, integrations, title, summary)
    that override the generated ones; overrides that would make the design invalid are
    ignored rather than failing the generation."""
    blueprint = blueprint or {}
    domain = DOMAINS_BY_KEY.get(str(blueprint.get("domain", ""))) or pick_domain(requirement)
    data = _build(requirement, domain)
    overrides = {
        k: v
        for k, v in blueprint.items()
        if k in {"title", "summary", "process", "agents", "tasks", "inputs", "integrations"}
    }
    if overrides:
        merged = {**data, **overrides}
        if isinstance(overrides.get("inputs"), dict):
            # The blueprint's inputs fit its own placeholders; the requirement supplies the
            # subject (unless it was too empty to yield one).
            merged["inputs"] = dict(overrides["inputs"])
            topic = extract_topic(requirement, fallback="")
            if topic and "topic" in merged["inputs"]:
                merged["inputs"]["topic"] = topic
        try:
            return validate_design(merged)
        except DesignInvalid:
            pass
    return validate_design(data)
