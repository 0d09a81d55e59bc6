"""GDPR: what we hold about a person (export) and erasing a person or an organisation.

The export is the user's own data: profile, email addresses, memberships, the metadata of
generations they started, API tokens they created (names and dates only) and the audit
events they performed. Never a password hash, token hash, provider key or another user's
data beyond the organisation names the user belongs to.
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from accounts.branding import forget_custom_domains
from accounts.models import (
    ApiToken,
    AuditEvent,
    Membership,
    Organization,
    OrganizationBranding,
    Role,
    User,
)
from accounts.permissions import Cap, can
from accounts.services import audit_record, role_of
from accounts.signals import member_left, organization_deleting, user_deleting

EXPORT_FORMAT_VERSION = 1
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def _iso(value) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


def _generations_of(user: User) -> list[dict]:
    try:
        from generation.models import Generation
    except ImportError:  # the generation app has no models yet
        return []
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
    from allauth.account.models import EmailAddress

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


def _others_in(organization: Organization, user: User) -> bool:
    return Membership.objects.filter(organization=organization).exclude(user=user).exists()


def account_deletion_blockers(*, user: User) -> list[Organization]:
    """Shared organisations the user is the last owner of: they must hand over first."""
    blockers = []
    for m in Membership.objects.filter(user=user, role=Role.OWNER).select_related("organization"):
        org = m.organization
        if org.is_personal or not _others_in(org, user):
            continue
        if (
            not Membership.objects.filter(organization=org, role=Role.OWNER)
            .exclude(user=user)
            .exists()
        ):
            blockers.append(org)
    return blockers


@transaction.atomic
def organization_delete(
    *, organization: Organization, actor: User | None, confirm_name: str | None = None
) -> None:
    """Delete an organisation and everything it owns.

    Inside one transaction the apps above react to ``organization_deleting``: the Stripe
    subscription is cancelled (so nobody is billed for a deleted workspace; when Stripe
    cannot, nothing is deleted), the organisation's data key is destroyed (every stored
    provider key becomes unreadable even in backups); then the rows are deleted. A
    system-level audit row (no organisation) keeps the fact of the deletion."""
    if actor is not None and not can(
        role_of(user=actor, organization=organization), Cap.DELETE_ORG
    ):
        raise PermissionDenied("Only an owner can delete the organisation.")
    if confirm_name is not None and confirm_name.strip() != organization.name:
        raise ValidationError({"confirm": "Type the organisation's name exactly to confirm."})
    org_id, name, uuid = organization.pk, organization.name, str(organization.uuid)
    Organization.objects.select_for_update().filter(pk=org_id).first()
    # Each app erases what it holds: billing cancels the subscription (a ValidationError
    # when Stripe cannot, and nothing is deleted) and removes the credit ledger, keys
    # destroys the data key. Their answers are facts for the audit row.
    facts = {"subscription_cancelled": False, "keys_crypto_shredded": False}
    for _receiver, answer in organization_deleting.send(
        sender=Organization, organization=organization, actor=actor
    ):
        facts.update(answer or {})
    members = Membership.objects.filter(organization=organization).count()
    _delete_rows(organization)
    transaction.on_commit(forget_custom_domains)
    audit_record(
        organization=None,
        actor=actor,
        action="organization.deleted",
        metadata={
            "organization_id": uuid,
            "name": name,
            "members": members,
            **facts,
        },
    )


def _delete_rows(organization: Organization) -> None:
    branding = OrganizationBranding.objects.filter(organization=organization).first()
    logo_name = branding.logo.name if branding is not None and branding.logo else ""
    organization.delete()
    if logo_name:
        transaction.on_commit(lambda: default_storage.delete(logo_name))


@transaction.atomic
def user_delete(*, user: User, actor: User) -> None:
    """Erase a person: refuse while they are the last owner of a shared organisation;
    delete organisations nobody else belongs to, their personal keys, and then the user.
    Audit rows they wrote stay for the organisations' records, with the email replaced."""
    blockers = account_deletion_blockers(user=user)
    if blockers:
        names = ", ".join(o.name for o in blockers)
        raise ValidationError(
            f"You are the last owner of {names}. Make someone else owner or delete "
            "the organisation first."
        )
    user_deleting.send(sender=User, user=user, actor=actor)
    for m in list(Membership.objects.filter(user=user).select_related("organization")):
        org = m.organization
        if not _others_in(org, user):
            organization_delete(organization=org, actor=None)
            continue
        m.delete()
        audit_record(
            organization=org,
            actor=None,
            action="membership.left",
            target=None,
            metadata={"reason": "account deleted", "role": m.role},
        )
        member_left.send(sender=Organization, organization=org, user=user)
    pseudonym = f"deleted user #{user.pk}"
    AuditEvent.objects.filter(actor=user).update(actor_label=pseudonym)
    AuditEvent.objects.filter(actor_label=user.email).update(actor_label=pseudonym)
    AuditEvent.objects.filter(target_label=user.email).update(target_label=pseudonym)
    audit_record(
        organization=None,
        actor=None,
        action="user.deleted",
        metadata={"user_id": user.pk, "deleted_at": _iso(timezone.now())},
    )
    user.delete()
