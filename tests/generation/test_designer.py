"""design_crew end to end against the fake provider over real HTTP."""

from __future__ import annotations

import json
import logging

import pytest

from crewbuilder.providers import (
    DEFAULT_MODELS,
    ProviderAuthError,
    ProviderRateLimited,
    ProviderUnavailable,
)
from generation.designer import FALLBACK_QUESTIONS, DesignFailed, design_crew
from keys.services import ResolvedKey
from tests.fakes.llm import sample_design

CANARY = {
    "openai": "sk-proj-CANARYdesignerCANARY0123456789abc",
    "anthropic": "sk-ant-api03-CANARYdesignerCANARY0123456789abc",
}
PROVIDERS = ("openai", "anthropic")
REQUIREMENT = "Every Monday, research EV battery news and write a report for the board."


def key(provider: str) -> ResolvedKey:
    return ResolvedKey(provider=provider, source="user", key_id=1, secret=CANARY[provider])


def sent_text(request) -> str:
    """Everything the model was sent (system + messages) as one string."""
    body = request.body
    parts = [body.get("system") or ""]
    for message in body["messages"]:
        content = message["content"]
        parts.append(content if isinstance(content, str) else json.dumps(content))
    return "\n".join(parts)


def test_no_key_uses_the_deterministic_fallback_without_network(fake_llm):
    result = design_crew(requirement=REQUIREMENT, key=None)
    assert result.design is not None
    assert (result.provider, result.model) == ("fallback", "fallback")
    assert (result.input_tokens, result.output_tokens, result.attempts) == (0, 0, 0)
    assert fake_llm.requests == []


def test_fallback_asks_questions_for_a_vague_requirement_only_when_allowed():
    asked = design_crew(requirement="help me", key=None, allow_questions=True)
    assert asked.design is None and asked.questions == list(FALLBACK_QUESTIONS)
    assert design_crew(requirement="help me", key=None).design is not None
    answered = design_crew(
        requirement="help me",
        key=None,
        allow_questions=True,
        answers={FALLBACK_QUESTIONS[0]: "A weekly newsletter about solar panels"},
    )
    assert answered.design is not None and answered.questions == []


@pytest.mark.parametrize("provider", PROVIDERS)
def test_valid_design_in_one_call_with_usage(fake_llm, provider):
    fake_llm.push_design(sample_design(), input_tokens=1000, output_tokens=500)
    result = design_crew(requirement=REQUIREMENT, key=key(provider))
    assert result.design.name == "market_watch_crew"
    assert result.provider == provider
    assert result.model == DEFAULT_MODELS[provider]
    assert (result.input_tokens, result.output_tokens, result.attempts) == (1000, 500, 1)
    assert len(fake_llm.requests) == 1
    assert REQUIREMENT in sent_text(fake_llm.requests[0])


def test_explicit_model_is_used(fake_llm):
    fake_llm.push_design()
    result = design_crew(requirement=REQUIREMENT, key=key("openai"), model="gpt-4o")
    assert result.model == "gpt-4o"
    assert fake_llm.requests[0].body["model"] == "gpt-4o"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_malformed_json_is_repaired_once(fake_llm, provider):
    fake_llm.push_text(
        'Here you go: {"name": "oops",',
    )
    fake_llm.push_design(sample_design(), input_tokens=10, output_tokens=20)
    result = design_crew(requirement=REQUIREMENT, key=key(provider))
    assert result.design is not None
    assert result.attempts == 2
    assert result.input_tokens == 1200 + 10 and result.output_tokens == 800 + 20
    assert result.errors == ["the reply was not a JSON object"]
    repair = fake_llm.requests[1].body["messages"]
    assert repair[-2]["role"] == "assistant" and "Here you go" in repair[-2]["content"]
    assert "not a JSON object" in repair[-1]["content"]


def test_invalid_design_is_repaired_with_the_validation_errors(fake_llm):
    bad = sample_design()
    bad["tasks"][1]["agent"] = "ghost"
    bad["tasks"][0]["context"] = ["report_task"]
    fake_llm.push_design(bad)
    fake_llm.push_design(sample_design())
    result = design_crew(requirement=REQUIREMENT, key=key("openai"))
    assert result.design.tasks[1].agent == "writer"
    repair = fake_llm.requests[1].body["messages"][-1]["content"]
    assert "'ghost' is not one of the agents" in repair
    assert "must name an earlier task" in repair


@pytest.mark.parametrize("provider", PROVIDERS)
def test_invalid_twice_fails_with_design_failed(fake_llm, provider):
    bad = sample_design()
    bad["name"] = "class"
    fake_llm.push_design(bad)
    fake_llm.push_text("still not json")
    with pytest.raises(DesignFailed) as info:
        design_crew(requirement=REQUIREMENT, key=key(provider))
    exc = info.value
    assert exc.code == "design_invalid" and not exc.retryable
    assert exc.errors == ["the reply was not a JSON object"]
    assert exc.attempts == 2 and exc.input_tokens == 2400
    assert len(fake_llm.requests) == 2


def test_wrapped_design_object_is_accepted(fake_llm):
    fake_llm.push_design({"design": sample_design()})
    assert design_crew(requirement=REQUIREMENT, key=key("openai")).design is not None


@pytest.mark.parametrize("provider", PROVIDERS)
def test_model_may_ask_clarifying_questions_when_allowed(fake_llm, provider):
    fake_llm.push_questions(["Who reads it?", "Which markets?", "How long?", "A fourth?"])
    result = design_crew(requirement="a crew", key=key(provider), allow_questions=True)
    assert result.design is None
    assert result.questions == ["Who reads it?", "Which markets?", "How long?"]
    assert "questions" in sent_text(fake_llm.requests[0])


def test_answers_are_sent_and_questions_are_not_offered_again(fake_llm):
    fake_llm.push_design()
    result = design_crew(
        requirement="a crew",
        key=key("openai"),
        allow_questions=True,
        answers={"Who reads it?": "The board"},
    )
    assert result.design is not None
    text = sent_text(fake_llm.requests[0])
    assert "Q: Who reads it?\nA: The board" in text
    assert '{"questions"' not in text


def test_check_feedback_and_blueprint_are_sent(fake_llm):
    fake_llm.push_design()
    design_crew(
        requirement=REQUIREMENT,
        key=key("anthropic"),
        blueprint={"domain": "research"},
        feedback=["placeholders_supplied: not supplied by main.py INPUTS: {audience}"],
    )
    text = sent_text(fake_llm.requests[0])
    assert "failed these checks" in text and "{audience}" in text
    assert '"domain": "research"' in text


@pytest.mark.parametrize("provider", PROVIDERS)
def test_rate_limit_surfaces_with_retry_after_for_the_task(fake_llm, provider):
    fake_llm.push_error(429, retry_after=4)
    with pytest.raises(ProviderRateLimited) as info:
        design_crew(requirement=REQUIREMENT, key=key(provider))
    assert info.value.retry_after == 4.0 and info.value.retryable


@pytest.mark.parametrize(
    ("status", "error_class"), [(500, ProviderUnavailable), (529, ProviderRateLimited)]
)
def test_server_errors_surface_as_retryable(fake_llm, status, error_class):
    fake_llm.push_error(status)
    with pytest.raises(error_class) as info:
        design_crew(requirement=REQUIREMENT, key=key("anthropic"))
    assert info.value.retryable
    assert len(fake_llm.requests) == 1


def test_error_on_the_repair_call_reports_tokens_already_spent(fake_llm):
    fake_llm.push_text("nope")
    fake_llm.push_error(500)
    with pytest.raises(ProviderUnavailable) as info:
        design_crew(requirement=REQUIREMENT, key=key("openai"))
    assert info.value.input_tokens == 1200 and info.value.output_tokens == 800


def test_timeout_surfaces_as_unavailable(fake_llm, settings):
    settings.PROVIDER_TIMEOUT_SECONDS = 0.3
    fake_llm.push_delay(1.5)
    with pytest.raises(ProviderUnavailable) as info:
        design_crew(requirement=REQUIREMENT, key=key("openai"))
    assert info.value.code == "timeout"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_canary_key_never_in_exception_or_logs(fake_llm, provider, caplog):
    canary = CANARY[provider]
    caplog.set_level(logging.DEBUG)
    fake_llm.push_error(401, message=f"Incorrect API key provided: {canary}")
    with pytest.raises(ProviderAuthError) as info:
        design_crew(requirement=REQUIREMENT, key=key(provider))
    assert not info.value.retryable
    for text in (str(info.value), repr(info.value), info.value.message, caplog.text):
        assert canary not in text
    # DesignFailed messages carry model output; the key is not in there either.
    fake_llm.push_text(f"my key is {canary}")
    fake_llm.push_text(f"my key is {canary}")
    with pytest.raises(DesignFailed) as failed:
        design_crew(requirement=REQUIREMENT, key=key(provider))
    assert canary not in str(failed.value) + caplog.text


def test_a_key_pasted_into_the_requirement_is_not_sent_to_the_model(fake_llm):
    pasted = "sk-proj-PASTEDpastedPASTED0123456789abcdef"
    fake_llm.push_design()
    design_crew(requirement=f"{REQUIREMENT} use {pasted}", key=key("openai"))
    assert pasted not in sent_text(fake_llm.requests[0])
