"""GDPR export: what we hold about a person, as a zip the person downloads.

The export is the user's own data: profile, email addresses, memberships, the metadata of
generations they started, API tokens they created (names and dates only) and the audit
events they performed. Never a password hash, token hash, provider key or another user's
data beyond the organisation names the user belongs to. It reads every app, so it sits on
the top floor; erasure is ``accounts.privacy``.
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC

from allauth.account.models import EmailAddress
from django.utils import timezone

from accounts.models import ApiToken, AuditEvent, Membership, User
from generation.models import Generation

EXPORT_FORMAT_VERSION = 1
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def _iso(value) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


def _generations_of(user: User) -> list[dict]:
    rows = []
    for g in (
        Generation.objects.filter(user=user).select_related("organization").order_by("created_at")
    ):
        rows.append(
            {
                "id": str(g.pk),
                "organization": g.organization.name,
                "created_at": _iso(g.created_at),
                "finished_at": _iso(getattr(g, "finished_at", None)),
                "status": g.status,
                "requirement": g.requirement,
                "provider": g.provider,
                "model": g.model,
                "key_source": g.key_source,
                "charged_as": g.charged_as,
                "input_tokens": g.input_tokens,
                "output_tokens": g.output_tokens,
                "cost_cents": g.cost_cents,
            }
        )
    return rows


def user_export_data(*, user: User) -> dict:
    """Everything we hold about ``user`` as JSON-ready data (read only)."""
    return {
        "format_version": EXPORT_FORMAT_VERSION,
        "exported_at": _iso(timezone.now()),
        "profile": {
            "email": user.email,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "date_joined": _iso(user.date_joined),
            "last_login": _iso(user.last_login),
        },
        "email_addresses": [
            {"email": e.email, "verified": e.verified, "primary": e.primary}
            for e in EmailAddress.objects.filter(user=user).order_by("email")
        ],
        "memberships": [
            {
                "organization": m.organization.name,
                "organization_id": str(m.organization.uuid),
                "personal": m.organization.is_personal,
                "role": m.role,
                "joined_at": _iso(m.created_at),
            }
            for m in Membership.objects.filter(user=user).select_related("organization")
        ],
        "generations": _generations_of(user),
        "api_tokens_created": [
            {
                "name": t.name,
                "organization": t.organization.name,
                "scope": t.scope,
                "created_at": _iso(t.created_at),
                "last_used_at": _iso(t.last_used_at),
                "revoked_at": _iso(t.revoked_at),
            }
            for t in ApiToken.objects.filter(created_by=user).select_related("organization")
        ],
        "audit_events": [
            {
                "at": _iso(e.created_at),
                "organization": e.organization.name if e.organization else None,
                "action": e.action,
                "target_type": e.target_type,
                "target": e.target_label,
                "details": e.metadata,  # scrubbed when written (accounts.services.audit_record)
            }
            for e in AuditEvent.objects.filter(actor=user)
            .select_related("organization")
            .order_by("created_at", "id")
        ],
    }


def user_export_zip(*, user: User) -> bytes:
    data = user_export_data(user=user)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, payload in (
            ("crewbuilder-export/data.json", json.dumps(data, indent=2, ensure_ascii=False)),
            (
                "crewbuilder-export/README.txt",
                "Your CrewBuilder data as of "
                f"{data['exported_at']}.\ndata.json holds your profile, memberships, the "
                "generations you started, API tokens you created and the actions you took.\n"
                "Secrets (passwords, tokens, provider keys) are never exported.\n",
            ),
        ):
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, payload)
    return buffer.getvalue()
