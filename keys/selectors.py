"""Reads for the key vault. Nothing here decrypts: a key is only ever read back as its
masked form, fingerprint and status."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from accounts.models import AuditEvent, Organization, User
from keys.models import ProviderKey


def provider_keys_visible_to(
    *, organization: Organization | None, user: User | None
) -> QuerySet[ProviderKey]:
    """The organisation's keys plus the user's own personal keys in it. Another member's
    personal key is never visible, nor anything of another organisation."""
    if organization is None or user is None:
        return ProviderKey.objects.none()
    return ProviderKey.objects.filter(organization=organization).filter(
        Q(scope=ProviderKey.Scope.ORGANIZATION) | Q(scope=ProviderKey.Scope.USER, owner=user)
    )


def provider_key_public(key: ProviderKey) -> dict[str, Any]:
    """The only shape in which a key leaves the vault (pages, API)."""
    return {
        "id": key.pk,
        "provider": key.provider,
        "label": key.label,
        "masked": key.masked,
        "fingerprint": key.fingerprint,
        "status": key.status,
        "last_used_at": key.last_used_at,
        "created_at": key.created_at,
    }


def month_start(now: datetime | None = None) -> datetime:
    now = now or timezone.now()
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def provider_key_usage_this_month(*, keys: Iterable[ProviderKey]) -> dict[int, int]:
    """Generations per key since the first of the month (from the audit log), one query."""
    ids = [str(key.pk) for key in keys]
    if not ids:
        return {}
    rows = (
        AuditEvent.objects.filter(
            action="provider_key.used",
            target_type="ProviderKey",
            target_id__in=ids,
            created_at__gte=month_start(),
        )
        .values("target_id")
        .annotate(n=Count("id"))
    )
    return {int(row["target_id"]): row["n"] for row in rows}


PROVIDER_HELP = {
    "openai": {
        "name": "OpenAI",
        "placeholder": "sk-proj-…",
        "help": "Create a key in the OpenAI dashboard under API keys:",
        "help_url": "https://platform.openai.com/api-keys",
    },
    "anthropic": {
        "name": "Anthropic",
        "placeholder": "sk-ant-…",
        "help": "Create a key in the Anthropic Console under Settings → API keys:",
        "help_url": "https://console.anthropic.com/settings/keys",
    },
}


def api_keys_page_rows(
    *, organization: Organization | None, user: User | None
) -> dict[str, list[dict[str, Any]]]:
    """One row per provider for the personal and the organisation section (3 queries)."""
    keys = list(provider_keys_visible_to(organization=organization, user=user))
    usage = provider_key_usage_this_month(keys=keys)
    sections: dict[str, list[dict[str, Any]]] = {}
    for scope in (ProviderKey.Scope.USER, ProviderKey.Scope.ORGANIZATION):
        rows = []
        for provider, info in PROVIDER_HELP.items():
            key = next((k for k in keys if k.scope == scope and k.provider == provider), None)
            rows.append(
                {
                    "provider": provider,
                    "scope": scope,
                    "key": key,
                    "usage": usage.get(key.pk, 0) if key else 0,
                    **info,
                }
            )
        sections[scope] = rows
    return sections
