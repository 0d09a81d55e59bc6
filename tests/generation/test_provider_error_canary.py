"""Issue 12 item 2: a hostile provider echoes the key back, in disguise, in its error body.

The fake provider (tests/fakes/llm.py, real HTTP, official SDKs) answers every call with an
error whose message is the key it received — spaced out, reversed, base64, split across
lines or upper-cased. A member who may generate with the organisation's key (but never see
it) runs generations on it; the owner tests the key. Afterwards the key, in any of those
disguises (and any 12-character run of it, forwards or backwards, ignoring case and
punctuation), is absent from every page the member and the owner load, every API response,
and every log line — both the raw records and what the project's redacting JSON handler
writes for operators, where the raw provider body is kept, scrubbed.
"""

from __future__ import annotations

import base64
import io
import logging
import re

import pytest
from django.urls import reverse

from accounts.models import ApiToken
from crewbuilder.api.tokens import api_token_create
from crewbuilder.logging import JsonFormatter, RedactSecretsFilter
from generation.models import Generation
from keys import services as keys
from tests.api.conftest import ApiClient
from tests.generation.conftest import assign_plan

pytestmark = pytest.mark.django_db

KEYS = {
    "openai": "sk-proj-HOSTILEecho0123456789abcdefghijKLMNopq",
    "anthropic": "sk-ant-api03-HOSTILEecho0123456789abcdefghijKLM",
}


def _split_lines(key: str) -> str:
    third = len(key) // 3
    return f"{key[:third]}\n{key[third : 2 * third]}\r\n{key[2 * third :]}"


DISGUISES = {
    "spaced": lambda key: " ".join(key),
    "reversed": lambda key: key[::-1],
    "base64": lambda key: base64.b64encode(key.encode()).decode(),
    "split_lines": _split_lines,
    "upper": lambda key: key.upper(),
}
WINDOW = 12


def _normalised(text: str) -> str:
    return re.sub(r"[\W_]", "", text).lower()


def hits(text: str) -> list[str]:
    """Every way a key shows up in ``text``: a disguise verbatim, or a 12-character run of
    the key (forwards or backwards) once case and punctuation are ignored, or its base64."""
    found = []
    flat = _normalised(text)
    for provider, key in KEYS.items():
        for name, disguise in DISGUISES.items():
            if disguise(key) in text:
                found.append(f"{provider}:{name}")
        for label, candidate in (("run", key), ("reversed-run", key[::-1])):
            norm = _normalised(candidate)
            if any(norm[i : i + WINDOW] in flat for i in range(len(norm) - WINDOW + 1)):
                found.append(f"{provider}:{label}")
        encoded = base64.b64encode(key.encode()).decode()
        if any(encoded[i : i + 16] in text for i in range(4, len(encoded) - 20, 4)):
            found.append(f"{provider}:base64-run")
    return found


class _Raw(logging.Handler):
    """Every record as it was logged, before any redaction filter touches it."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []

    def handle(self, record):  # before filters: the record exactly as the caller made it
        extras = " ".join(str(v) for k, v in vars(record).items() if k not in _STANDARD)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001
            message = str(record.msg)
        self.texts.append(f"{message} {extras}")
        return True

    def emit(self, record):  # pragma: no cover - handle() does the work
        pass


_STANDARD = set(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {"message"}
# the loggers that do not propagate to root (crewbuilder/settings.py LOGGING)
_LOGGERS = ("", "crewbuilder", "django", "django.request", "celery")


@pytest.fixture
def logs():
    """Raw records, and what the project's console handler writes for operators (JSON,
    redaction filter), from every logger at DEBUG."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactSecretsFilter())
    raw = _Raw()
    saved = []
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        saved.append((logger, logger.level))
        # first in line: it must see each record before a redaction filter rewrites it
        logger.handlers.insert(0, raw)
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    yield raw, stream
    for logger, level in saved:
        logger.removeHandler(raw)
        logger.removeHandler(handler)
        logger.setLevel(level)


def test_disguised_key_echoed_by_a_provider_reaches_no_page_api_response_or_log(
    tenant,
    fake_llm,
    settings,
    logs,
    owner_client,
    member_client,
    django_capture_on_commit_callbacks,
):
    settings.CREWBUILDER_GENERATION_MAX_RETRIES = 1
    raw_log, operator_log = logs
    assign_plan(tenant.org, "professional")
    stored = {
        provider: keys.provider_key_store(
            organization=tenant.org, actor=tenant.owner, provider=provider, api_key=key
        )
        for provider, key in KEYS.items()
    }
    _, token = api_token_create(
        organization=tenant.org, actor=tenant.owner, name="CI", scope=ApiToken.Scope.READ_WRITE
    )
    api = ApiClient(token)
    outputs: list[tuple[str, str]] = []
    statuses = (400, 401, 404, 500)
    runs = 0
    for provider in KEYS:
        for name, disguise in DISGUISES.items():
            for status in statuses:
                fake_llm.clear()
                # 500 is retried once (MAX_RETRIES=1): both answers echo the key.
                for _ in range(2 if status == 500 else 1):
                    fake_llm.push_error(
                        status, echo=lambda key, d=disguise: f"Incorrect API key: {d(key)}"
                    )
                with django_capture_on_commit_callbacks(execute=True):
                    response = member_client.post(
                        reverse("generation:generate"),
                        {
                            "requirement": "Every Monday, summarise our competitors' pricing "
                            "pages for the sales team.",
                            "key_choice": provider,
                            "template": "",
                            "model": "",
                        },
                    )
                assert response.status_code == 302, response.content[:500]
                g = Generation.objects.latest("created_at")
                assert g.status == Generation.Status.FAILED, (provider, name, status)
                # the provider really did receive the key, and really echoed it
                assert fake_llm.requests and fake_llm.requests[-1].api_key == KEYS[provider]
                runs += 1
                where = f"{provider}/{name}/{status}"
                for url in (
                    reverse("generation:detail", args=[g.pk]),
                    reverse("generation:progress", args=[g.pk]),
                    reverse("generation:list"),
                ):
                    page = member_client.get(url)
                    assert page.status_code == 200
                    outputs.append((f"member page {url} {where}", page.content.decode()))
                for url in (f"/api/v1/generations/{g.pk}/", "/api/v1/generations/"):
                    body = api.get(url)
                    assert body.status_code == 200
                    outputs.append((f"api {url} {where}", body.content.decode()))
                outputs.append((f"db error_message {where}", g.error_message))
            # the owner's "Test" of the key against the same hostile endpoint
            fake_llm.clear()
            fake_llm.push_error(401, echo=lambda key, d=disguise: f"bad key {d(key)}", on="models")
            test = owner_client.post(
                reverse("keys:key_test", args=[stored[provider].pk]), follow=True
            )
            outputs.append((f"key test page {provider}/{name}", test.content.decode()))
            fake_llm.clear()
            fake_llm.push_error(401, echo=lambda key, d=disguise: f"bad key {d(key)}", on="models")
            api_test = api.post(f"/api/v1/keys/{stored[provider].pk}/test/")
            outputs.append((f"api key test {provider}/{name}", api_test.content.decode()))

    outputs.append(("raw log records", "\n".join(raw_log.texts)))
    outputs.append(("operator log", operator_log.getvalue()))

    found = {where: hits(text) for where, text in outputs if hits(text)}
    kinds = {"page": 0, "api": 0, "log": len(raw_log.texts), "db": 0}
    for where, _ in outputs:
        if "page" in where:
            kinds["page"] += 1
        elif where.startswith("api"):
            kinds["api"] += 1
        elif where.startswith("db"):
            kinds["db"] += 1
    print(f"canary: {runs} failed generations, checked {kinds}, hits {len(found)}")
    assert runs == len(KEYS) * len(DISGUISES) * len(statuses)
    assert found == {}, found
    # The operator log keeps the provider's body (scrubbed) for every failed call.
    logged = operator_log.getvalue()
    assert logged.count('"provider_body"') >= runs
    assert "Incorrect API key: [REDACTED]" in logged
    # Users get our own words, keyed by what happened.
    codes = set(Generation.objects.values_list("error_code", flat=True))
    assert codes == {"bad_request", "auth_failed", "model_unavailable", "provider_unavailable"}
    messages = set(Generation.objects.values_list("error_message", flat=True))
    assert all("Incorrect API key" not in m for m in messages)


def test_provider_error_text_is_never_the_users_message(fake_llm):
    """The unit-level promise behind it: the message is ours, even for text that looks
    harmless (it could be a key in a disguise no pattern recognises)."""
    from crewbuilder.providers import ProviderBadRequest, request_design

    fake_llm.push_error(400, message="The model `gpt-9` does not exist")
    with pytest.raises(ProviderBadRequest) as info:
        request_design(
            provider="openai",
            api_key=KEYS["openai"],
            model="gpt-4o-mini",
            system="s",
            messages=[{"role": "user", "content": "x"}],
            schema={},
        )
    assert info.value.message == "OpenAI refused the request (HTTP 400)"
    assert "gpt-9" not in repr(info.value.__dict__)
