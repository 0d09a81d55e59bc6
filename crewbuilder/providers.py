"""Every call to an LLM provider goes through this module (the only importer of the
``openai`` and ``anthropic`` SDKs). Base URLs come from settings so tests and proxies can
point the official SDKs at another server.

It stands on the ground floor beside ``crewbuilder.metrics`` and ``crewbuilder.redaction``
(it imports no app): keys calls ``verify_key`` (a key's Test and the scheduled re-check)
and generation calls ``request_design``, both through this one seam.
"""

from __future__ import annotations

import email.utils
import http.cookiejar
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Any

import anthropic
import openai
from django.conf import settings
from django.db import models

from crewbuilder.metrics import PROVIDER_ERRORS, PROVIDER_REQUEST_SECONDS
from crewbuilder.redaction import scrub_key

logger = logging.getLogger("crewbuilder.providers")


class Provider(models.TextChoices):
    """The LLM providers CrewBuilder works with: the one list every form, serializer,
    model and service imports (this seam is the lowest floor that knows providers)."""

    OPENAI = "openai", "OpenAI"
    ANTHROPIC = "anthropic", "Anthropic"


PROVIDERS: tuple[str, ...] = tuple(Provider.values)


def provider_label(provider: str) -> str:
    """``"OpenAI"`` for ``"openai"``; any other name (the fallback designer) as it is."""
    return dict(Provider.choices).get(provider, provider)


VERIFY_TIMEOUT_SECONDS = 10.0
# Standard-class defaults, matching the catalogue defaults (migration 0004).
DEFAULT_MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-haiku-4-5"}
# One provider call may take this long. The SDKs' own retries are switched off
# (max_retries=0): retrying belongs to the Celery task, which owns the backoff, honours
# Retry-After and sits inside ordered time limits (timeout x calls per run < soft limit <
# hard limit < broker visibility timeout). SDK retries hidden inside a call would multiply
# the worst case invisibly and break that ordering.
PROVIDER_TIMEOUT_SECONDS = 60.0
# The designer makes at most this many calls per run (design + one repair); the task may
# run the designer twice (a checks failure is fed back once), so 4 calls bound one run.
MAX_CALLS_PER_DESIGN = 2
MAX_OUTPUT_TOKENS = 8000
MAX_RETRY_AFTER_SECONDS = 600.0


_HTTP_LOCK = threading.Lock()
_HTTP_CLIENTS: dict[tuple[int, str], Any] = {}


def _http_client(provider: str):
    """One pooled HTTP client per provider and process, shared by every call.

    Building an SDK client builds a fresh httpx client, and with it an SSL context that
    loads the CA bundle (~60 ms of CPU each time) and a cold connection pool. Sharing the
    transport removes that from every generation; keys are still sent per request, and a
    cookie policy that accepts nothing keeps one caller's provider cookies from reaching
    another's requests. Keyed by pid so a forked worker never reuses its parent's sockets.
    """
    slot = (os.getpid(), provider)
    client = _HTTP_CLIENTS.get(slot)
    if client is None:
        with _HTTP_LOCK:
            client = _HTTP_CLIENTS.get(slot)
            if client is None:
                factory = (
                    openai.DefaultHttpxClient
                    if provider == "openai"
                    else anthropic.DefaultHttpxClient
                )
                client = factory(
                    cookies=http.cookiejar.CookieJar(
                        policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[])
                    )
                )
                _HTTP_CLIENTS[slot] = client
    return client


def openai_client(*, api_key: str, timeout: float, max_retries: int = 0) -> openai.OpenAI:
    return openai.OpenAI(
        api_key=api_key,
        base_url=settings.OPENAI_BASE_URL,
        timeout=timeout,
        max_retries=max_retries,
        http_client=_http_client("openai"),
    )


def anthropic_client(*, api_key: str, timeout: float, max_retries: int = 0) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        api_key=api_key,
        base_url=settings.ANTHROPIC_BASE_URL,
        timeout=timeout,
        max_retries=max_retries,
        http_client=_http_client("anthropic"),
    )


def verify_key(*, provider: str, api_key: str) -> str:
    """Make the cheapest authenticated call (list models). Returns ``connected``,
    ``invalid`` (the provider refused the key) or ``unreachable`` (network, 5xx, timeout)."""
    try:
        if provider == "openai":
            openai_client(api_key=api_key, timeout=VERIFY_TIMEOUT_SECONDS).models.list()
        elif provider == "anthropic":
            anthropic_client(api_key=api_key, timeout=VERIFY_TIMEOUT_SECONDS).models.list(limit=1)
        else:
            raise ValueError(f"unknown provider {provider!r}")
    except (openai.AuthenticationError, openai.PermissionDeniedError):
        return "invalid"
    except (anthropic.AuthenticationError, anthropic.PermissionDeniedError):
        return "invalid"
    except (openai.APIError, anthropic.APIError) as exc:
        logger.warning("key verification could not reach %s: %s", provider, type(exc).__name__)
        return "unreachable"
    return "connected"


def provider_timeout() -> float:
    """Seconds one provider call may take: ``settings.PROVIDER_TIMEOUT_SECONDS`` when set
    (read per call, so tests and operators can change it), else the default."""
    return float(getattr(settings, "PROVIDER_TIMEOUT_SECONDS", None) or PROVIDER_TIMEOUT_SECONDS)


# --- errors -------------------------------------------------------------------------------


class ProviderError(Exception):
    """A provider call failed. ``message`` is safe to store and show: it is always our own
    text (``map_sdk_error``), never the provider's error body."""

    code = "provider_error"
    retryable = False

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        status: int | None = None,
        retry_after: float | None = None,
        code: str | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.status = status
        self.retry_after = retry_after
        if code:
            self.code = code

    def __reduce__(self):  # picklable with its attributes (Celery, multiprocessing)
        return (
            _rebuild_error,
            (type(self), self.message, self.provider, self.status, self.retry_after, self.code),
        )


def _rebuild_error(cls, message, provider, status, retry_after, code):
    return cls(message, provider=provider, status=status, retry_after=retry_after, code=code)


class ProviderRateLimited(ProviderError):
    """429 (rate limit) or 529 (overloaded): retry after ``retry_after`` seconds if given."""

    code = "rate_limited"
    retryable = True


class ProviderUnavailable(ProviderError):
    """5xx, timeout or connection failure: retry with backoff."""

    code = "provider_unavailable"
    retryable = True


class ProviderAuthError(ProviderError):
    """401/403: the key is wrong or lacks access. Not retryable; flag the key invalid."""

    code = "auth_failed"
    retryable = False


class ProviderBadRequest(ProviderError):
    """400 and other 4xx the same request would get again (unknown model, quota gone)."""

    code = "bad_request"
    retryable = False


def _retry_after(headers: Any) -> float | None:
    """Seconds to wait from ``retry-after-ms`` / ``retry-after`` (seconds or HTTP date)."""
    if headers is None:
        return None
    try:
        ms = headers.get("retry-after-ms")
        if ms is not None:
            return min(max(float(ms) / 1000.0, 0.0), MAX_RETRY_AFTER_SECONDS)
        value = headers.get("retry-after")
        if value is None:
            return None
        try:
            seconds = float(value)
        except ValueError:
            parsed = email.utils.parsedate_to_datetime(value)
            seconds = parsed.timestamp() - time.time()
        return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)
    except (TypeError, ValueError, OverflowError):
        return None


OPERATOR_BODY_CHARS = 2000


def operator_body(exc: Exception, api_key: str) -> str:
    """The provider's raw error body for the operator log only: the key is scrubbed in
    every disguise we know (spaced, split, reversed, any case, base64, long fragments),
    then generic secret redaction, then truncated. Never shown to users."""
    body = getattr(exc, "body", None)
    if body is None:
        response = getattr(exc, "response", None)
        try:
            text = response.text if response is not None else ""
        except Exception:  # noqa: BLE001 - a stream that cannot be read: log nothing
            text = ""
    elif isinstance(body, str):
        text = body
    else:
        text = json.dumps(body, ensure_ascii=False, default=str)
    return scrub_key(text[: OPERATOR_BODY_CHARS * 2], api_key)[:OPERATOR_BODY_CHARS]


def _error_code_of(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            return str(err.get("code") or err.get("type") or "")
    return ""


def map_sdk_error(exc: Exception, *, provider: str, api_key: str = "") -> ProviderError:
    """Translate an openai/anthropic SDK exception into our hierarchy.

    The message is ours, chosen by the HTTP status (and the provider's error code, used
    only to classify): the provider's own error text never reaches it, because a hostile
    or compromised endpoint can echo the key in a disguise no pattern recognises. The raw
    body goes to the operator log only (``operator_body``)."""
    label = provider_label(provider)
    if isinstance(exc, openai.APITimeoutError | anthropic.APITimeoutError):
        return ProviderUnavailable(
            f"{label} did not answer within the time limit", provider=provider, code="timeout"
        )
    if isinstance(exc, openai.APIConnectionError | anthropic.APIConnectionError):
        return ProviderUnavailable(
            f"Could not connect to {label}", provider=provider, code="connection_error"
        )
    if isinstance(exc, openai.APIStatusError | anthropic.APIStatusError):
        status = exc.status_code
        headers = getattr(getattr(exc, "response", None), "headers", None)
        if status in (401, 403):
            return ProviderAuthError(
                f"{label} rejected the API key (HTTP {status})", provider=provider, status=status
            )
        if status == 429 and _error_code_of(exc) == "insufficient_quota":
            return ProviderBadRequest(
                f"{label} says the account has no quota left (HTTP 429)",
                provider=provider,
                status=status,
                code="provider_quota_exceeded",
            )
        if status in (429, 529):
            what = "is overloaded" if status == 529 else "rate-limited the request"
            return ProviderRateLimited(
                f"{label} {what} (HTTP {status})",
                provider=provider,
                status=status,
                retry_after=_retry_after(headers),
            )
        if status >= 500 or status in (408, 409):
            return ProviderUnavailable(
                f"{label} had a temporary error (HTTP {status})",
                provider=provider,
                status=status,
                retry_after=_retry_after(headers),
            )
        if status == 404:
            return ProviderBadRequest(
                f"{label} does not offer the chosen model to this key (HTTP 404)",
                provider=provider,
                status=status,
                code="model_unavailable",
            )
        if status == 413:
            return ProviderBadRequest(
                f"{label} found the request too large (HTTP 413)",
                provider=provider,
                status=status,
                code="request_too_large",
            )
        return ProviderBadRequest(
            f"{label} refused the request (HTTP {status})", provider=provider, status=status
        )
    if isinstance(exc, openai.APIError | anthropic.APIError):
        return ProviderUnavailable(
            f"{label} sent a response we could not read", provider=provider, code="bad_response"
        )
    raise TypeError(f"not an SDK error: {type(exc).__name__}")


# --- structured design calls ---------------------------------------------------------------


@dataclass(frozen=True)
class ProviderReply:
    """One model answer. ``data`` is the parsed JSON object (None when the model sent
    something that is not a JSON object; ``text`` then holds it for the repair prompt)."""

    provider: str
    model: str
    text: str
    data: dict | None
    tool: str  # "design" or "questions"
    input_tokens: int
    output_tokens: int


DESIGN_TOOL = "submit_crew_design"
QUESTIONS_TOOL = "ask_clarifying_questions"
QUESTIONS_SCHEMA = {
    "type": "object",
    "properties": {
        "questions": {
            "type": "array",
            "items": {"type": "string", "maxLength": 300},
            "minItems": 1,
            "maxItems": 3,
        }
    },
    "required": ["questions"],
}


def _parse_object(text: str) -> dict | None:
    try:
        data = json.loads(text)
    except (TypeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


# Where each SDK's response counts the tokens: (input, output).
_USAGE_FIELDS = {
    "openai": ("prompt_tokens", "completion_tokens"),
    "anthropic": ("input_tokens", "output_tokens"),
}


def _reply(
    response: Any, *, provider: str, model: str, text: str, data: dict | None, tool: str
) -> ProviderReply:
    """The reply to one SDK call: the model the provider says answered (else the one asked
    for) and the tokens its usage reports (0 where it reports none)."""
    usage = response.usage
    input_field, output_field = _USAGE_FIELDS[provider]
    return ProviderReply(
        provider=provider,
        model=getattr(response, "model", None) or model,
        text=text,
        data=data,
        tool=tool,
        input_tokens=int(getattr(usage, input_field, 0) or 0),
        output_tokens=int(getattr(usage, output_field, 0) or 0),
    )


def _call_openai(
    *, api_key: str, model: str, system: str, messages: list[dict], timeout: float
) -> ProviderReply:
    client = openai_client(api_key=api_key, timeout=timeout, max_retries=0)
    response = client.chat.completions.create(
        model=model,
        messages=[{"role": "system", "content": system}, *messages],
        response_format={"type": "json_object"},
        max_completion_tokens=MAX_OUTPUT_TOKENS,
    )
    text = (response.choices[0].message.content or "") if response.choices else ""
    data = _parse_object(text)
    tool = (
        "questions"
        if data is not None and "questions" in data and "agents" not in data
        else "design"
    )
    return _reply(response, provider="openai", model=model, text=text, data=data, tool=tool)


def _call_anthropic(
    *,
    api_key: str,
    model: str,
    system: str,
    messages: list[dict],
    schema: dict,
    allow_questions: bool,
    timeout: float,
) -> ProviderReply:
    client = anthropic_client(api_key=api_key, timeout=timeout, max_retries=0)
    tools = [
        {
            "name": DESIGN_TOOL,
            "description": "Submit the complete crew design.",
            "input_schema": schema,
        }
    ]
    if allow_questions:
        tools.append(
            {
                "name": QUESTIONS_TOOL,
                "description": "Ask up to 3 short questions when the requirement is too vague.",
                "input_schema": QUESTIONS_SCHEMA,
            }
        )
        tool_choice = {"type": "any"}
    else:
        tool_choice = {"type": "tool", "name": DESIGN_TOOL}
    response = client.messages.create(
        model=model,
        system=system,
        messages=messages,
        tools=tools,
        tool_choice=tool_choice,
        max_tokens=MAX_OUTPUT_TOKENS,
    )
    data: dict | None = None
    tool = "design"
    texts = []
    for block in response.content or []:
        if getattr(block, "type", "") == "tool_use" and data is None:
            data = block.input if isinstance(block.input, dict) else None
            tool = "questions" if block.name == QUESTIONS_TOOL else "design"
        elif getattr(block, "type", "") == "text":
            texts.append(block.text)
    text = json.dumps(data, ensure_ascii=False) if data is not None else "\n".join(texts)
    if data is None:
        data = _parse_object(text.strip())
    return _reply(response, provider="anthropic", model=model, text=text, data=data, tool=tool)


def request_design(
    *,
    provider: str,
    api_key: str,
    model: str,
    system: str,
    messages: list[dict],
    schema: dict,
    allow_questions: bool = False,
    timeout: float | None = None,
) -> ProviderReply:
    """Ask ``provider`` for a structured design: OpenAI in JSON mode (the schema travels in
    the system prompt), Anthropic through a forced tool whose ``input_schema`` is the design
    schema. ``messages`` are plain ``{"role", "content": str}`` turns. Raises a
    ``ProviderError`` subclass; never retries by itself."""
    timeout = provider_timeout() if timeout is None else timeout
    started = time.monotonic()
    try:
        if provider == "openai":
            reply = _call_openai(
                api_key=api_key, model=model, system=system, messages=messages, timeout=timeout
            )
        elif provider == "anthropic":
            reply = _call_anthropic(
                api_key=api_key,
                model=model,
                system=system,
                messages=messages,
                schema=schema,
                allow_questions=allow_questions,
                timeout=timeout,
            )
        else:
            raise ProviderBadRequest(f"unknown provider {provider!r}", code="unknown_provider")
    except (openai.APIError, anthropic.APIError) as exc:
        error = map_sdk_error(exc, provider=provider, api_key=api_key)
        PROVIDER_REQUEST_SECONDS.labels(provider=provider, model=model).observe(
            time.monotonic() - started
        )
        PROVIDER_ERRORS.labels(provider=provider, model=model, code=error.code).inc()
        logger.warning(
            "design call failed provider=%s model=%s code=%s status=%s after %.2fs",
            provider,
            model,
            error.code,
            error.status,
            time.monotonic() - started,
            extra={"provider_body": operator_body(exc, api_key)},
        )
        raise error from None
    PROVIDER_REQUEST_SECONDS.labels(provider=provider, model=model).observe(
        time.monotonic() - started
    )
    logger.info(
        "design call provider=%s model=%s tokens=%d/%d in %.2fs",
        provider,
        model,
        reply.input_tokens,
        reply.output_tokens,
        time.monotonic() - started,
    )
    return reply
