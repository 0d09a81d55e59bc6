"""One place that knows what a secret looks like, for logs, audit metadata and errors."""

from __future__ import annotations

import re
from typing import Any

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


def redact_mapping(data: Any) -> Any:
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


# --- one known key, in disguise -----------------------------------------------------------

# Between two characters of a disguised key: spaces, line breaks, punctuation, quotes.
_GAP = r"[\W_]{0,6}"
_KEY_WINDOW = 12  # any run this long of the key (forwards or backwards) counts as the key


def _spread(chars: str) -> str:
    return _GAP.join(re.escape(c) for c in chars)


def _base64_fragments(key: bytes) -> set[str]:
    """The parts of ``base64(prefix + key)`` that depend on the key alone, for the three
    alignments a key can have inside a larger encoded blob, in both alphabets."""
    import base64

    out: set[str] = set()
    for pad in range(3):
        encoded = base64.b64encode(b"\0" * pad + key).decode()
        # The first ceil(pad*8/6) characters mix the padding with the key, and the last
        # block may mix the key with whatever follows it: drop both ends.
        start = (pad * 8 + 5) // 6
        core = encoded[start:].rstrip("=")
        core = core[: max(0, len(core) - 2)]
        if len(core) >= _KEY_WINDOW:
            out.add(core)
            out.add(core.replace("+", "-").replace("/", "_"))
    return out


def scrub_key(text: str, key: str) -> str:
    """Remove ``key`` from ``text`` even in disguise: spaced out or split across lines,
    reversed, in any letter case, base64-encoded, or only a long run of it (any
    ``_KEY_WINDOW`` consecutive characters). Then the generic ``redact``. For text a
    third party may have built from the key (a provider's error body)."""
    if not text:
        return text
    key = (key or "").strip()
    if len(key) >= _KEY_WINDOW:
        pieces: set[str] = set()
        for candidate in (key, key[::-1]):
            for i in range(len(candidate) - _KEY_WINDOW + 1):
                pieces.add(_spread(candidate[i : i + _KEY_WINDOW]))
        # Longest alternatives first so a whole spread-out key goes in one replacement.
        whole = [_spread(key), _spread(key[::-1])]
        pattern = re.compile("|".join([*whole, *sorted(pieces)]), re.IGNORECASE)
        text = pattern.sub(REDACTED, text)
        for fragment in _base64_fragments(key.encode()):
            for i in range(0, len(fragment) - _KEY_WINDOW + 1):
                window = fragment[i : i + _KEY_WINDOW]
                if window in text:
                    text = text.replace(window, REDACTED)
    return redact(text)
