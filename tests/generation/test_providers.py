"""The provider layer against a fake provider over real HTTP, through the official SDKs."""

from __future__ import annotations

import logging
import pickle
import socket
import time

import pytest

from crewbuilder.providers import (
    ProviderAuthError,
    ProviderBadRequest,
    ProviderError,
    ProviderRateLimited,
    ProviderUnavailable,
    request_design,
    verify_key,
)
from generation.design import design_json_schema
from tests.fakes.llm import sample_design

CANARY = {
    "openai": "sk-proj-CANARYcanaryCANARY0123456789abcdef",
    "anthropic": "sk-ant-api03-CANARYcanaryCANARY0123456789abcdef",
}
PROVIDERS = ("openai", "anthropic")


def call(provider: str, **kwargs):
    params = {
        "provider": provider,
        "api_key": CANARY[provider],
        "model": "test-model",
        "system": "You design crews.",
        "messages": [{"role": "user", "content": "Requirement: watch EV news"}],
        "schema": design_json_schema(),
        "timeout": 5.0,
    }
    params.update(kwargs)
    return request_design(**params)


def test_openai_call_uses_json_mode_and_returns_the_design_and_usage(fake_llm):
    fake_llm.push_design(sample_design(), input_tokens=321, output_tokens=123)
    reply = call("openai")
    assert reply.data == sample_design()
    assert (reply.input_tokens, reply.output_tokens) == (321, 123)
    assert reply.provider == "openai" and reply.tool == "design"
    sent = fake_llm.requests[-1]
    assert sent.path == "/v1/chat/completions"
    assert sent.api_key == CANARY["openai"]
    assert sent.body["response_format"] == {"type": "json_object"}
    assert sent.body["model"] == "test-model"
    assert sent.body["messages"][0] == {"role": "system", "content": "You design crews."}


def test_anthropic_call_forces_a_tool_whose_input_schema_is_the_design_schema(fake_llm):
    fake_llm.push_design(sample_design(), input_tokens=50, output_tokens=40)
    reply = call("anthropic")
    assert reply.data == sample_design()
    assert (reply.input_tokens, reply.output_tokens) == (50, 40)
    sent = fake_llm.requests[-1]
    assert sent.path == "/v1/messages"
    assert sent.api_key == CANARY["anthropic"]
    assert sent.body["tools"][0]["input_schema"] == design_json_schema()
    assert sent.body["tool_choice"] == {"type": "tool", "name": "submit_crew_design"}
    assert sent.body["system"] == "You design crews."


def test_anthropic_may_pick_the_questions_tool_when_allowed(fake_llm):
    fake_llm.push_questions(["Who reads the report?"])
    reply = call("anthropic", allow_questions=True)
    assert reply.tool == "questions"
    assert reply.data == {"questions": ["Who reads the report?"]}
    assert fake_llm.requests[-1].body["tool_choice"] == {"type": "any"}
    assert [t["name"] for t in fake_llm.requests[-1].body["tools"]] == [
        "submit_crew_design",
        "ask_clarifying_questions",
    ]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_malformed_json_comes_back_as_text_without_data(fake_llm, provider):
    fake_llm.push_text("Sure! Here is your crew: {name: oops")
    reply = call(provider)
    assert reply.data is None
    assert "Here is your crew" in reply.text


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(
    ("status", "error_class", "retryable"),
    [
        (429, ProviderRateLimited, True),
        (529, ProviderRateLimited, True),
        (500, ProviderUnavailable, True),
        (503, ProviderUnavailable, True),
        (401, ProviderAuthError, False),
        (403, ProviderAuthError, False),
        (400, ProviderBadRequest, False),
        (404, ProviderBadRequest, False),
    ],
)
def test_http_errors_map_to_the_hierarchy_with_one_request_only(
    fake_llm, provider, status, error_class, retryable
):
    fake_llm.push_error(status)
    with pytest.raises(error_class) as info:
        call(provider)
    assert info.value.retryable is retryable
    assert info.value.status == status
    assert info.value.provider == provider
    assert isinstance(info.value, ProviderError)
    # max_retries=0: the SDK did not retry behind our back.
    assert len(fake_llm.requests) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_rate_limit_honours_retry_after_seconds(fake_llm, provider):
    fake_llm.push_error(429, retry_after=7)
    with pytest.raises(ProviderRateLimited) as info:
        call(provider)
    assert info.value.retry_after == 7.0
    assert info.value.code == "rate_limited"


def test_retry_after_as_http_date_and_in_milliseconds(fake_llm):
    future = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    fake_llm.push_error(529, retry_after=future)
    with pytest.raises(ProviderRateLimited) as info:
        call("anthropic")
    assert 25 <= info.value.retry_after <= 31
    fake_llm.push_error(429, headers={"retry-after-ms": "1500"})
    with pytest.raises(ProviderRateLimited) as info:
        call("openai")
    assert info.value.retry_after == 1.5


def test_server_error_retry_after_is_kept_too(fake_llm):
    fake_llm.push_error(503, retry_after=3)
    with pytest.raises(ProviderUnavailable) as info:
        call("openai")
    assert info.value.retry_after == 3.0


def test_exhausted_openai_quota_is_not_retryable(fake_llm):
    fake_llm.push_error(429, code="insufficient_quota", message="You exceeded your quota")
    with pytest.raises(ProviderBadRequest) as info:
        call("openai")
    assert info.value.code == "provider_quota_exceeded"
    assert not info.value.retryable


def test_bad_request_message_is_ours_not_the_providers(fake_llm):
    # The provider's text may carry the key in a disguise: users get our words only.
    fake_llm.push_error(400, message="The model `gpt-9` does not exist")
    with pytest.raises(ProviderBadRequest) as info:
        call("openai")
    assert info.value.message == "OpenAI refused the request (HTTP 400)"
    fake_llm.push_error(404, message="The model `gpt-9` does not exist")
    with pytest.raises(ProviderBadRequest) as info:
        call("openai")
    assert info.value.code == "model_unavailable"
    assert "gpt-9" not in info.value.message


@pytest.mark.parametrize("provider", PROVIDERS)
def test_timeout_when_the_provider_is_slower_than_the_client(fake_llm, provider):
    fake_llm.push_delay(1.5)
    started = time.monotonic()
    with pytest.raises(ProviderUnavailable) as info:
        call(provider, timeout=0.3)
    assert info.value.code == "timeout"
    assert info.value.retryable
    assert time.monotonic() - started < 1.4
    assert len(fake_llm.requests) == 1


def test_timeout_comes_from_settings_when_not_given(fake_llm, settings):
    settings.PROVIDER_TIMEOUT_SECONDS = 0.3
    fake_llm.push_delay(1.5)
    with pytest.raises(ProviderUnavailable):
        call("openai", timeout=None)


def test_connection_refused_is_unavailable(settings):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.OPENAI_BASE_URL = f"http://127.0.0.1:{port}/v1"
    with pytest.raises(ProviderUnavailable) as info:
        call("openai")
    assert info.value.code == "connection_error"


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("status", [400, 401, 429, 500])
def test_canary_key_never_appears_in_errors_or_logs(fake_llm, provider, status, caplog):
    canary = CANARY[provider]
    fake_llm.push_error(status, message=f"Incorrect API key provided: {canary}")
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ProviderError) as info:
        call(provider)
    exc = info.value
    for text in (str(exc), repr(exc), exc.message, repr(exc.__dict__), caplog.text):
        assert canary not in text
        assert canary[10:30] not in text
    assert exc.__cause__ is None and exc.__suppress_context__
    assert fake_llm.requests[-1].api_key == canary  # the key really was sent


def test_errors_survive_pickling_with_their_attributes():
    exc = ProviderRateLimited("slow down", provider="openai", status=429, retry_after=2.0)
    copy = pickle.loads(pickle.dumps(exc))  # noqa: S301 - our own bytes
    assert (copy.message, copy.provider, copy.status, copy.retry_after, copy.code) == (
        "slow down",
        "openai",
        429,
        2.0,
        "rate_limited",
    )


@pytest.mark.parametrize("provider", PROVIDERS)
def test_verify_key_reports_connected_invalid_and_unreachable(fake_llm, provider):
    assert verify_key(provider=provider, api_key=CANARY[provider]) == "connected"
    fake_llm.push_error(401, on="models")
    assert verify_key(provider=provider, api_key=CANARY[provider]) == "invalid"
    fake_llm.push_error(500, on="models")
    assert verify_key(provider=provider, api_key=CANARY[provider]) == "unreachable"


def test_pooled_transport_is_shared_but_never_carries_cookies_between_callers(fake_llm):
    from crewbuilder.providers import _http_client
    from tests.fakes.llm import Reply

    assert _http_client("openai") is _http_client("openai")
    assert _http_client("openai") is not _http_client("anthropic")
    fake_llm.push(Reply("design", sample_design(), headers={"set-cookie": "sid=tenant-a; Path=/"}))
    call("openai")
    call("openai", api_key="sk-proj-OTHERcallerOTHERcaller0123456789")
    assert "cookie" not in fake_llm.requests[-1].headers
    assert fake_llm.requests[-1].api_key.startswith("sk-proj-OTHER")
