"""GDPR erasure: deleting a person or an organisation.

accounts owns users and organisations, so the deletion services live here; every app
above erases what it holds by listening to ``accounts.signals`` (``organization_deleting``,
``user_deleting``, ``member_left``) inside the same transaction. The export of a person's
data reads every app and lives on the top floor (``crewbuilder/privacy/export.py``).
"""

from __future__ import annotations

from datetime import UTC

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from accounts.branding import forget_custom_domains
from accounts.models import (
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


def _iso(value) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


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
