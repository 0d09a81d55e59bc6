"""Provider-key vault services.

STUB INTERFACE (foundation): the key-vault issue replaces the bodies; the signatures are
the contract the generation engine codes against. Plaintext keys exist only inside this
module and in the ``ResolvedKey`` handed to the provider call, never in a model field,
a Celery message, a log line or a response.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings


@dataclass(frozen=True)
class ResolvedKey:
    provider: str  # "openai" | "anthropic"
    source: str  # "one_time" | "user" | "organization" | "platform"
    key_id: int | None = None  # ProviderKey id for stored keys
    fingerprint: str = ""
    secret: str = field(default="", repr=False)


def platform_key(provider: str) -> str:
    return {"openai": settings.OPENAI_API_KEY, "anthropic": settings.ANTHROPIC_API_KEY}.get(
        provider, ""
    )


def provider_key_resolve(
    *,
    organization,
    user,
    provider: str,
    one_time_ref: str | None = None,
    allow_platform: bool = True,
) -> ResolvedKey | None:
    """Pick the key for a generation: one-time > the user's own > the organisation's >
    platform. Returns None when there is none (the caller falls back to the deterministic
    designer)."""
    if one_time_ref:
        secret = one_time_key_take(ref=one_time_ref)
        if secret:
            return ResolvedKey(provider=provider, source="one_time", secret=secret)
    if allow_platform and platform_key(provider):
        return ResolvedKey(provider=provider, source="platform", secret=platform_key(provider))
    return None


_ONE_TIME: dict[str, str] = {}


def one_time_key_stash(*, api_key: str, provider: str, ttl_seconds: int = 3600) -> str:
    """Hold a one-time key for one generation; returns an opaque reference that is safe to
    store on the generation and put in a Celery message."""
    import secrets

    ref = secrets.token_urlsafe(24)
    _ONE_TIME[ref] = api_key
    return ref


def one_time_key_take(*, ref: str) -> str | None:
    """Return the one-time key and forget it (single use)."""
    return _ONE_TIME.pop(ref, None)


def provider_key_mark_invalid(*, key_id: int, reason: str = "") -> None:
    """The provider rejected a stored key (401): flag it so the owner is told."""
    return None


def provider_key_record_use(*, key_id: int, generation_id, actor=None) -> None:
    """Audit that a stored key was used by a generation."""
    return None
