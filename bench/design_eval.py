"""Design evaluation: does the designed crew fit the requirement?

Run: .venv/bin/python bench/design_eval.py [--min-fit 0.9] [--json]

Part 1 — the built-in designer. For every requirement in bench/design_eval_cases.yaml
(one-liners, long specs, several languages, files, URLs, services, schedules, templates)
it designs a crew, renders it, and checks each expected property by hand-written rules
(independent of the fit check). Prints the fit rate per property and overall, and the
five worst-fitting requirements with what they missed.

Part 2 — the LLM path. For each requirement, scripted misfit replies go through the real
designer (design_crew → OpenAI SDK → tests/fakes/llm.py over HTTP): the built-in design
with one requested item removed, and designs made for other requirements. A reply is a
misfit when the property rules above say it does not honour the requirement; the fit
check must flag every one of them. Prints the catch rate.

Exits non-zero when the built-in fit rate is under --min-fit or a misfit goes uncaught.
"""

from __future__ import annotations

import argparse
import copy
import importlib
import json
import logging
import os
import sys
from collections import defaultdict
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crewbuilder.test_settings")
os.environ.pop("DATABASE_URL", None)

import django  # noqa: E402

django.setup()
logging.disable(logging.INFO)  # one log line per provider call would bury the figures

from django.conf import settings  # noqa: E402

from generation.analysis import analyse  # noqa: E402
from generation.checks import run_checks  # noqa: E402
from generation.design import CrewDesign  # noqa: E402
from generation.designer import design_crew  # noqa: E402
from generation.fallback import fallback_design  # noqa: E402
from generation.fit import fit_report  # noqa: E402
from generation.renderer import render_project  # noqa: E402
from keys.services import ResolvedKey  # noqa: E402
from tests.fakes.llm import FakeLLM  # noqa: E402

CASES = Path(__file__).with_name("design_eval_cases.yaml")
READERS = {"file_reader", "csv_reader", "directory_reader"}


def load_cases() -> list[dict]:
    return yaml.safe_load(CASES.read_text(encoding="utf-8"))


def blueprints() -> dict[str, dict]:
    seed = importlib.import_module("generation.migrations.0002_seed_catalogue_and_templates")
    return {bp["name"]: bp for *_, bp in seed.TEMPLATES}


def _tools(design: CrewDesign) -> set[str]:
    return {t for a in design.agents for t in a.tools}


def properties(
    case: dict, design: CrewDesign, files: dict[str, str]
) -> list[tuple[str, bool, str]]:
    """(property, honoured, detail) for every expectation of ``case``."""
    expect = case.get("expect", {})
    out: list[tuple[str, bool, str]] = []
    blob = json.dumps(design.model_dump(mode="json"), ensure_ascii=False).lower()
    rendered = "\n".join(files.values()).lower()
    if "tasks" in expect:
        low, high = expect["tasks"]
        n = len(design.tasks)
        out.append(("tasks", low <= n <= high, f"{n} tasks (expected {low}-{high})"))
    for name in expect.get("reads", []):
        ok = any(
            f"data/{name}".lower() in t.description.lower() and _tools_of(design, t.agent) & READERS
            for t in design.tasks
        )
        out.append(("reads", ok, f"data/{name} read by a reader tool"))
    for url in expect.get("urls", []):
        ok = url in design.inputs.values() and "web_page_reader" in _tools(design)
        out.append(("urls", ok, f"{url} is an input read by the web page reader"))
    for key in expect.get("tools", []):
        out.append(("tools", key in _tools(design), f"an agent has {key}"))
    for label in expect.get("declared", []):
        ok = any(
            label.lower() in i.name.lower() and "not connected" in i.name
            for i in design.integrations
        )  # noqa: E501
        ok = ok and f"{label.lower()} (not connected)" in rendered
        out.append(("declared", ok, f"{label} declared not connected (design and README)"))
    for path in expect.get("writes", []):
        ok = any(t.output_file == path for t in design.tasks)
        out.append(("writes", ok, f"a task writes {path}"))
    if "schedule" in expect:
        got = design.schedule.cron if design.schedule else None
        out.append(
            ("schedule", got == expect["schedule"], f"cron {got} (expected {expect['schedule']})")
        )  # noqa: E501
        ok = design.schedule is not None and ".github/workflows/crew.yml" in files
        out.append(("schedule", ok, "a workflow file and README cron line"))
    if "language" in expect:
        rule = f"write your answer in {expect['language'].lower()}"
        ok = all(rule in t.description.lower() for t in design.tasks)
        out.append(("language", ok, f"every task: {rule}"))
    if "per_item" in expect:
        noun = expect["per_item"]
        ok = f"per {noun}" in blob
        out.append(("per_item", ok, f"one result per {noun}"))
    for text in expect.get("contains", []):
        out.append(("contains", text.lower() in blob, f"design mentions {text!r}"))
    for text in expect.get("absent", []):
        out.append(("absent", text.lower() not in rendered, f"project never says {text!r}"))
    for name in expect.get("name_not", []):
        out.append(("name", design.name != name, f"package name {design.name}"))
    roles_ok = all(len(a.role) <= 40 and "{" not in a.role for a in design.agents)
    out.append(("roles", roles_ok, "short job titles: " + ", ".join(a.role for a in design.agents)))  # noqa: E501
    return out


def _tools_of(design: CrewDesign, agent_id: str) -> set[str]:
    return set(design.agent(agent_id).tools)


def evaluate_builtin(cases: list[dict]) -> tuple[dict, list]:
    bps = blueprints()
    per_property: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    rows = []
    for case in cases:
        blueprint = bps.get(case.get("template", "")) if case.get("template") else None
        design = fallback_design(requirement=case["requirement"], blueprint=blueprint)
        files = render_project(design)
        props = properties(case, design, files)
        checks = run_checks(files=files, design=design, analysis=analyse(case["requirement"]))
        static_ok = all(c.passed for c in checks if c.name != "requirement_fit")
        fit = next(c for c in checks if c.name == "requirement_fit")
        props.append(("checks", static_ok, "every static check passes"))
        props.append(("fit", fit.passed, fit.message))
        for name, ok, _ in props:
            per_property[name][0] += int(ok)
            per_property[name][1] += 1
        rows.append((case, design, props))
    return per_property, rows


# --------------------------------------------------------------------------- LLM path


def misfits(case: dict, design: CrewDesign, others: list[tuple[dict, CrewDesign]]):
    """(label, reply design dict) variants that drop something the requirement asked for."""
    data = design.model_dump(mode="json")
    variants = []
    if data.get("schedule"):
        v = copy.deepcopy(data)
        v.pop("schedule")
        variants.append(("no schedule", v))
    for key in sorted({t for a in data["agents"] for t in a["tools"]}):
        v = copy.deepcopy(data)
        for a in v["agents"]:
            a["tools"] = [t for t in a["tools"] if t != key]
        variants.append((f"without {key}", v))
    if any(t.get("output_file") for t in data["tasks"]):
        v = copy.deepcopy(data)
        for t in v["tasks"]:
            t.pop("output_file", None)
        variants.append(("no output files", v))
    if "Write your answer in" in data["tasks"][0]["description"]:
        v = copy.deepcopy(data)
        v["tasks"][-1]["description"] = v["tasks"][-1]["description"].split(
            " Write your answer in"
        )[0]  # noqa: E501
        variants.append(("language rule dropped", v))
    if data["integrations"]:
        v = copy.deepcopy(data)
        v["integrations"] = []
        for t in v["tasks"]:
            t["description"] = t["description"].split(" Note: this project has no")[0]
        variants.append(("undeclared services", v))
    for other_case, other in others:
        if other_case["id"] != case["id"]:
            variants.append((f"design for {other_case['id']}", other.model_dump(mode="json")))
    return variants


def evaluate_llm_path(rows: list) -> tuple[int, int, list]:
    """Every scripted misfit reply, through the real LLM designer and the fake provider."""
    caught = total = 0
    uncaught = []
    others = [(case, design) for case, design, _ in rows]
    bps = blueprints()
    with FakeLLM() as fake:
        settings.OPENAI_BASE_URL = fake.openai_base_url
        key = ResolvedKey(provider="openai", source="platform", secret="sk-eval-not-a-real-key")
        for case, design, _ in rows:
            analysis = analyse(case["requirement"])
            blueprint = bps.get(case.get("template", "")) if case.get("template") else None
            for label, reply in misfits(case, design, others):
                fake.push_design(reply)
                result = design_crew(requirement=case["requirement"], key=key, blueprint=blueprint)
                got = result.design
                props = properties(case, got, render_project(got))
                if all(ok for _, ok, _ in props):
                    continue  # not a misfit by the independent rules (e.g. a similar request)
                total += 1
                if not fit_report(analysis, got).passed:
                    caught += 1
                else:
                    missed = [d for _, ok, d in props if not ok]
                    uncaught.append((case["id"], label, missed[:3]))
        sent = len(fake.requests)
    return caught, total, uncaught + [("requests", sent, [])]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--min-fit", type=float, default=0.9)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--skip-llm", action="store_true", help="only the built-in designer")
    args = parser.parse_args()

    cases = load_cases()
    per_property, rows = evaluate_builtin(cases)
    honoured = sum(v[0] for v in per_property.values())
    total = sum(v[1] for v in per_property.values())
    overall = honoured / total
    worst = sorted(
        ((sum(1 for _, ok, _ in props if not ok), case["id"], props) for case, _, props in rows),
        key=lambda r: (-r[0], r[1]),
    )[:5]

    caught = llm_total = 0
    uncaught: list = []
    if not args.skip_llm:
        caught, llm_total, uncaught = evaluate_llm_path(rows)
    requests = next((n for c, n, _ in uncaught if c == "requests"), 0)
    uncaught = [u for u in uncaught if u[0] != "requests"]

    if args.json:
        print(
            json.dumps(
                {
                    "cases": len(cases),
                    "properties": {
                        k: {"honoured": v[0], "total": v[1]}
                        for k, v in sorted(per_property.items())
                    },  # noqa: E501
                    "overall": round(overall, 4),
                    "worst": [
                        {"id": i, "missed": [d for _, ok, d in p if not ok]}
                        for n, i, p in worst
                        if n
                    ],  # noqa: E501
                    "llm_misfits": {"caught": caught, "total": llm_total, "uncaught": uncaught},
                },
                indent=2,
                ensure_ascii=False,
            )
        )
    else:
        print(f"Built-in designer on {len(cases)} requirements ({total} properties)")
        print(f"{'property':<10} {'honoured':>9} {'rate':>7}")
        for name, (ok, n) in sorted(per_property.items()):
            print(f"{name:<10} {ok:>4}/{n:<4} {ok / n:>7.1%}")
        print(f"{'overall':<10} {honoured:>4}/{total:<4} {overall:>7.1%}")
        print("\nWorst fits:")
        for n, case_id, props in worst:
            if not n:
                continue
            missed = "; ".join(d for _, ok, d in props if not ok)
            print(f"- {case_id}: {n} missed — {missed}")
        if not any(n for n, _, _ in worst):
            print("- none: every property of every requirement is honoured")
        if not args.skip_llm:
            rate = caught / llm_total if llm_total else 1.0
            print(
                f"\nLLM path: {caught}/{llm_total} scripted misfit replies caught by the fit "
                f"check ({rate:.1%}); {requests} requests to the fake provider"
            )
            for case_id, label, missed in uncaught:
                print(f"- uncaught: {case_id} / {label}: {missed}")
    failed = overall < args.min_fit or (not args.skip_llm and caught < llm_total)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
