from __future__ import annotations

import copy

import pytest

from generation.design import (
    TOOL_CATALOGUE,
    CrewDesign,
    DesignInvalid,
    class_name_for,
    design_json_schema,
    validate_design,
)

VALID = {
    "name": "market_watch",
    "title": "Market watch",
    "summary": "Watches a market and reports weekly.",
    "process": "sequential",
    "agents": [
        {
            "id": "researcher",
            "role": "Researcher on {topic}",
            "goal": "Find news about {topic}",
            "backstory": "Curious.",
            "tools": ["web_search"],
            "allow_delegation": False,
        },
        {
            "id": "writer",
            "role": "Writer",
            "goal": "Write it up",
            "backstory": "Clear.",
            "tools": [],
            "allow_delegation": False,
        },
    ],
    "tasks": [
        {
            "id": "research_task",
            "description": "Research {topic}.",
            "expected_output": "Notes.",
            "agent": "researcher",
            "context": [],
        },
        {
            "id": "write_task",
            "description": "Write a report.",
            "expected_output": "A report.",
            "agent": "writer",
            "context": ["research_task"],
            "output_file": "output/report.md",
        },
    ],
    "inputs": {"topic": "EV batteries"},
    "integrations": [
        {"name": "Slack", "purpose": "post the report", "env_var": "SLACK_WEBHOOK_URL"}
    ],
}


def broken(**changes):
    data = copy.deepcopy(VALID)
    for path, value in changes.items():
        target = data
        *parents, last = path.split("__")
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        if last.isdigit():
            target[int(last)] = value
        else:
            target[last] = value
    return data


def errors_for(data) -> str:
    with pytest.raises(DesignInvalid) as info:
        validate_design(data)
    return " | ".join(info.value.errors)


def test_valid_design_is_accepted_and_typed():
    design = validate_design(copy.deepcopy(VALID))
    assert isinstance(design, CrewDesign)
    assert design.class_name == "MarketWatch"
    assert design.tasks[1].output_file == "output/report.md"
    assert design.env_vars() == [
        ("SERPER_API_KEY", "Web search tool"),
        ("SLACK_WEBHOOK_URL", "Slack: post the report"),
    ]


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("MarketWatch", "snake_case"),
        ("market-watch", "snake_case"),
        ("1market", "snake_case"),
        ("class", "keyword"),
        ("match", "keyword"),
        ("json", "reserved"),
        ("crewai", "reserved"),
    ],
)
def test_name_must_be_snake_case_not_keyword_not_shadowing(name, fragment):
    assert fragment in errors_for(broken(name=name))


def test_duplicate_agent_ids_are_rejected():
    assert "used twice" in errors_for(broken(agents__1__id="researcher"))


def test_agent_id_cannot_clash_with_crewbase_members():
    assert "reserved" in errors_for(broken(agents__1__id="crew", tasks__1__agent="crew"))


def test_task_and_agent_ids_must_be_distinct():
    assert "also an agent id" in errors_for(broken(tasks__1__id="writer"))


def test_task_agent_must_exist():
    assert "is not one of the agents" in errors_for(broken(tasks__1__agent="ghost"))


def test_context_must_point_to_earlier_tasks_only():
    data = broken(tasks__0__context=["write_task"])
    assert "must name an earlier task" in errors_for(data)
    assert "task itself" in errors_for(broken(tasks__1__context=["write_task"]))
    assert "must name an earlier task" in errors_for(broken(tasks__1__context=["nope"]))


def test_unknown_tool_is_rejected_with_the_catalogue():
    message = errors_for(broken(agents__0__tools=["rm_rf"]))
    assert "unknown tool 'rm_rf'" in message
    for key in TOOL_CATALOGUE:
        assert key in message


def test_inputs_keys_must_be_identifiers():
    data = broken(inputs={"topic": "x", "bad key": "y"})
    assert "inputs key 'bad key'" in errors_for(data)


def test_placeholders_must_be_supplied_by_inputs():
    data = broken(inputs={})
    assert "placeholder {topic}" in errors_for(data)


def test_braces_that_are_not_placeholders_are_allowed():
    data = broken(tasks__1__expected_output='JSON like {"a": 1} or { }')
    validate_design(data)


HOSTILE_OUTPUT_FILES = (
    "src/market_watch/main.py",
    "src/market_watch/crew.py",
    "tests/conftest.py",
    "pyproject.toml",
    ".env",
    "../x",
    "../x.md",
    "/etc/passwd",
    "output/../src/x.py",
    "output/../pyproject.toml",
    "output/./x.md",
    "output//x.md",
    "output/.hidden.md",
    "output/x.py",
    "output/x.sh",
    "output/x",
    "output/",
    "output",
    "report.md",
    "a b.md",
    "output\\..\\main.py",
    "C:/output/x.md",
    "output/{topic}.md",
)


@pytest.mark.parametrize("bad", HOSTILE_OUTPUT_FILES)
def test_output_file_outside_the_output_folder_is_refused(bad):
    message = errors_for(broken(tasks__1__output_file=bad))
    assert "tasks[1].output_file" in message


@pytest.mark.parametrize(
    "good", ["output/report.md", "output/posts/week-1.md", "output/leads.csv", "output/a.JSON"]
)
def test_output_file_under_output_with_a_text_extension_is_allowed(good):
    assert validate_design(broken(tasks__1__output_file=good)).tasks[1].output_file == good


def test_integration_env_var_must_be_upper_snake():
    data = broken(integrations=[{"name": "x", "purpose": "y", "env_var": "slack-url"}])
    assert "UPPER_SNAKE_CASE" in errors_for(data)


def test_schema_errors_are_listed_with_their_location():
    data = broken(process="parallel")
    del data["agents"][0]["goal"]
    message = errors_for(data)
    assert "process" in message
    assert "agents.0.goal" in message


def test_extra_fields_and_empty_lists_are_rejected():
    assert "extra" in errors_for({**VALID, "surprise": 1}).lower()
    assert "agents" in errors_for(broken(agents=[]))


def test_non_dict_is_rejected():
    assert "JSON object" in errors_for(["not", "a", "dict"])


def test_class_name_is_titlecase_identifier():
    assert class_name_for("lead_research_crew") == "LeadResearchCrew"
    assert class_name_for("a") == "A"
    assert class_name_for("agent").isidentifier()
    assert class_name_for("agent") != "Agent"


def test_json_schema_describes_the_design():
    schema = design_json_schema()
    assert set(schema["required"]) >= {"name", "title", "summary", "agents", "tasks"}
    assert "properties" in schema


def test_unpaired_surrogates_from_json_are_rejected():
    import json

    data = json.loads(json.dumps(VALID).replace("Curious.", "Curious \\ud800."))
    assert "agents.0.backstory: Input should be a valid string" in errors_for(data)
