from __future__ import annotations

import json
import logging

import pytest
from django.test import Client

from accounts.services import audit_record
from crewbuilder.logging import JsonFormatter, RedactSecretsFilter

CANARY_OPENAI = "sk-proj-CANARYcanary0123456789abcdefABCDEF"
CANARY_ANTHROPIC = "sk-ant-api03-CANARYcanary0123456789abcdef"
CANARY_TOKEN = "cb_CANARYcanary0123456789abcdef"


def _emit(logger_name: str, *args, exc: BaseException | None = None, **extra) -> str:
    """Send one record through the configured handler chain (filter + JSON formatter)."""
    logger = logging.getLogger(logger_name)
    record = logger.makeRecord(
        logger_name,
        logging.ERROR,
        __file__,
        1,
        args[0],
        args[1:],
        (type(exc), exc, exc.__traceback__) if exc else None,
        extra=extra,
    )
    assert RedactSecretsFilter().filter(record)
    return JsonFormatter().format(record)


@pytest.mark.parametrize(
    "canary", [CANARY_OPENAI, CANARY_ANTHROPIC, CANARY_TOKEN, "sk-abcdefghijklmnopqrstuvwx"]
)
def test_redaction_canary_in_message_args_extra_and_traceback(canary):
    try:
        raise ValueError(f"provider rejected key {canary}")
    except ValueError as error:
        line = _emit(
            "crewbuilder.test", "calling provider with %s", canary, exc=error, key_hint=canary
        )
    assert canary not in line
    assert "[REDACTED]" in line
    payload = json.loads(line)
    assert payload["level"] == "ERROR"


def test_every_configured_handler_has_the_redaction_filter(settings):
    handlers = settings.LOGGING["handlers"]
    assert handlers
    for name, handler in handlers.items():
        assert "redact_secrets" in handler.get("filters", []), name


def test_live_logging_pipeline_redacts(capsys):
    # The real configured handler writes to stderr; the canary must not reach it.
    logging.getLogger("crewbuilder.canary").error("key=%s", CANARY_OPENAI)
    captured = capsys.readouterr()
    assert CANARY_OPENAI not in captured.err + captured.out


@pytest.mark.django_db
def test_audit_metadata_never_holds_secrets(tenant):
    event = audit_record(
        organization=tenant.org,
        actor=tenant.owner,
        action="test.secret",
        metadata={
            "api_key": CANARY_OPENAI,
            "note": f"pasted {CANARY_ANTHROPIC}",
            "nested": {"token": "x"},
        },
    )
    event.refresh_from_db()
    dumped = json.dumps(event.metadata)
    assert CANARY_OPENAI not in dumped
    assert CANARY_ANTHROPIC not in dumped
    assert event.metadata["api_key"] == "[REDACTED]"
    assert event.metadata["nested"]["token"] == "[REDACTED]"


@pytest.mark.django_db
def test_healthz_reports_database_and_cache(client: Client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["cache"]["ok"] is True
    assert body["checks"]["broker"]["ok"] is True


@pytest.mark.django_db
def test_healthz_is_503_when_cache_is_down(client: Client, monkeypatch):
    from django.core.cache import cache

    def boom(*a, **k):
        raise ConnectionError("cache down")

    monkeypatch.setattr(cache, "set", boom)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["cache"]["ok"] is False


@pytest.mark.django_db
def test_healthz_is_503_when_database_is_down(client: Client, monkeypatch):
    from crewbuilder import views

    monkeypatch.setattr(
        views.connection, "cursor", lambda: (_ for _ in ()).throw(OSError("db down"))
    )
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"]["ok"] is False
