"""Every call to an LLM provider goes through this module (the only importer of the
``openai`` and ``anthropic`` SDKs). Base URLs come from settings so tests and proxies can
point the official SDKs at another server.
"""

from __future__ import annotations

import logging

import anthropic
import openai
from django.conf import settings

logger = logging.getLogger("crewbuilder.providers")

PROVIDERS = ("openai", "anthropic")
VERIFY_TIMEOUT_SECONDS = 10.0


def openai_client(*, api_key: str, timeout: float, max_retries: int = 0) -> openai.OpenAI:
    return openai.OpenAI(
        api_key=api_key, base_url=settings.OPENAI_BASE_URL, timeout=timeout, max_retries=max_retries
    )


def anthropic_client(*, api_key: str, timeout: float, max_retries: int = 0) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        api_key=api_key,
        base_url=settings.ANTHROPIC_BASE_URL,
        timeout=timeout,
        max_retries=max_retries,
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
