from __future__ import annotations

import base64
import logging
import secrets

import pytest


def make_master(key_id: str) -> str:
    return f"{key_id}:{base64.b64encode(secrets.token_bytes(32)).decode()}"


@pytest.fixture
def master_keys(settings):
    """Two fresh master keys; ``k1`` encrypts. Returns a helper to reconfigure the ring."""
    k1, k0 = make_master("k1"), make_master("k0")
    settings.CREWBUILDER_ENCRYPTION_KEYS = f"{k1},{k0}"
    settings.CREWBUILDER_KEY_BACKEND = "database"

    class Ring:
        entries = {"k1": k1, "k0": k0}

        def use(self, *ids: str) -> None:
            for key_id in ids:
                if key_id not in self.entries:
                    self.entries[key_id] = make_master(key_id)
            settings.CREWBUILDER_ENCRYPTION_KEYS = ",".join(self.entries[i] for i in ids)

    return Ring()


@pytest.fixture
def fake_provider(fake_llm):
    """The shared fake OpenAI/Anthropic server (tests/fakes/llm.py, real HTTP, SDK base URLs
    pointed at it) accepting only the keys a test adds to ``valid_keys``."""
    fake_llm.valid_keys = set()
    return fake_llm


class _ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def text(self) -> str:
        out = []
        for record in self.records:
            out.append(record.getMessage())
            out.append(repr(vars(record)))
            if record.exc_info:
                out.append(logging.Formatter().formatException(record.exc_info))
        return "\n".join(out)


_LOGGERS = [
    "",
    "crewbuilder",
    "django",
    "celery",
    "openai",
    "anthropic",
    "httpx",
    "httpcore",
    "hvac",
    "urllib3",
]


@pytest.fixture
def all_logs():
    """Every log record of every logger at DEBUG, raw (before any redaction filter)."""
    handler = _ListHandler()
    saved = []
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        saved.append((logger, logger.level))
        logger.setLevel(logging.DEBUG)
        logger.addHandler(handler)
    yield handler
    for logger, level in saved:
        logger.removeHandler(handler)
        logger.setLevel(level)
