"""One place that knows what a secret looks like, for logs, audit metadata and errors."""

from __future__ import annotations

import re

# Provider keys (OpenAI sk-/sk-proj-/sk-svcacct-, Anthropic sk-ant-), our API tokens (cb_),
# Stripe secrets and webhook secrets, and bearer headers.
SECRET_PATTERN = re.compile(
    r"""
    (?:sk-ant-[A-Za-z0-9_\-]{8,})
    |(?:sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{16,})
    |(?:cb_[A-Za-z0-9_\-]{16,})
    |(?:(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{8,})
    |(?:whsec_[A-Za-z0-9+/=]{8,})
    |(?:(?<=Bearer\s)[A-Za-z0-9_\-\.=]{16,})
    """,
    re.VERBOSE,
)
REDACTED = "[REDACTED]"

SECRET_FIELD_NAMES = re.compile(
    r"(api_?key|secret|password|token|authorization|passwd|credential)", re.I
)


def redact(text: str) -> str:
    """Replace every substring that looks like a secret with ``[REDACTED]``."""
    if not text:
        return text
    return SECRET_PATTERN.sub(REDACTED, text)


def contains_secret(text: str) -> bool:
    return bool(text) and SECRET_PATTERN.search(text) is not None


def redact_mapping(data):
    """Recursively redact a JSON-like structure; values under secret-looking names are dropped."""
    if isinstance(data, dict):
        return {
            key: (REDACTED if SECRET_FIELD_NAMES.search(str(key)) else redact_mapping(value))
            for key, value in data.items()
        }
    if isinstance(data, list | tuple):
        return [redact_mapping(item) for item in data]
    if isinstance(data, str):
        return redact(data)
    return data
