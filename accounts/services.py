"""Writes for accounts, organisations, memberships and invitations.

Every rule about who may change membership lives here; views, the admin and tests call
these functions. Each change writes an audit row in the same transaction.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from urllib.parse import urlsplit

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.branding import (
    COLOR_RE,
    forget_custom_domains,
    logo_to_png,
    validate_custom_domain,
)
from accounts.models import (
    AuditEvent,
    Invitation,
    Membership,
    Organization,
    OrganizationBranding,
    Role,
    User,
)
from accounts.permissions import INVITABLE_ROLES, Cap, can, can_grant
from accounts.selectors import branding_for_org, plan_entitlements
from accounts.signals import member_left
from crewbuilder.redaction import redact_mapping


def audit_record(
    *,
    organization: Organization | None,
    actor: User | None,
    action: str,
    target: object | None = None,
    metadata: dict | None = None,
) -> AuditEvent:
    """Append an audit row. Metadata is scrubbed: secret-named fields and secret-looking
    values never reach the table."""
    target_type = target_id = target_label = ""
    if target is not None:
        target_type = type(target).__name__
        target_id = str(getattr(target, "pk", "") or "")
        target_label = str(target)[:254]
    return AuditEvent.objects.create(
        organization=organization,
        actor=actor if actor is not None and actor.pk else None,
        actor_label=(actor.email if actor is not None and actor.pk else "system")[:254],
        action=action,
        target_type=target_type,
        target_id=target_id,
        target_label=redact_mapping(target_label),
        metadata=redact_mapping(metadata or {}),
    )


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def role_of(*, user: User, organization: Organization) -> str | None:
    return (
        Membership.objects.filter(organization=organization, user=user)
        .values_list("role", flat=True)
        .first()
    )


def _require(*, actor: User, organization: Organization, capability: str) -> str:
    role = role_of(user=actor, organization=organization)
    if not can(role, capability):
        raise PermissionDenied("Your role in this organisation does not allow that.")
    return role


@transaction.atomic
def organization_create(*, name: str, owner: User, is_personal: bool = False) -> Organization:
    org = Organization.objects.create(
        name=name.strip()[:120], is_personal=is_personal, created_by=owner
    )
    Membership.objects.create(organization=org, user=owner, role=Role.OWNER)
    audit_record(organization=org, actor=owner, action="organization.created", target=org)
    return org


@transaction.atomic
def operator_create(*, email: str, password: str) -> User:
    """The bootstrap operator (``manage.py createoperator``): a staff superuser whose email
    address is already verified and primary, so the first sign-in lands in ``/admin/``
    instead of on "Verify your email address". Raises ValidationError (field → messages)
    for a bad or taken address and for a password the validators refuse."""
    email = email.strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError({"email": "Enter a valid email address."}) from None
    if (
        User.objects.filter(email__iexact=email).exists()
        or EmailAddress.objects.filter(email__iexact=email).exists()
    ):
        raise ValidationError(
            {
                "email": f"A user with the email address {email} already exists. Choose "
                "another address, or make that user staff in the admin."
            }
        )
    try:
        validate_password(password, user=User(email=email))
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from None
    user = User.objects.create_superuser(email=email, password=password)
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    audit_record(organization=None, actor=None, action="operator.created", target=user)
    return user


def user_onboard(*, user: User) -> Organization:
    """Give a new user their personal organisation (idempotent)."""
    existing = Organization.objects.filter(created_by=user, is_personal=True).first()
    if existing is not None:
        return existing
    local = user.email.split("@", 1)[0]
    return organization_create(name=f"{local}'s workspace", owner=user, is_personal=True)


def organization_seat_limit(*, organization: Organization) -> int | None:
    """Members allowed by the organisation's plan; None means unlimited (billing decides)."""
    return plan_entitlements(organization).max_members


def _seats_in_use(organization: Organization) -> int:
    members = Membership.objects.filter(organization=organization).count()
    pending = Invitation.objects.filter(
        organization=organization, status=Invitation.Status.PENDING, expires_at__gt=timezone.now()
    ).count()
    return members + pending


@transaction.atomic
def invitation_create(
    *, organization: Organization, actor: User, email: str, role: str = Role.MEMBER
) -> tuple[Invitation, str]:
    """Invite someone by email. Returns the invitation and the one-time accept token."""
    _require(actor=actor, organization=organization, capability=Cap.MANAGE_MEMBERS)
    email = email.strip().lower()
    if role not in INVITABLE_ROLES:
        raise ValidationError(
            {
                "role": "Invite as an admin, member, viewer or billing manager; ownership is transferred later."
            }
        )
    if not can_grant(role_of(user=actor, organization=organization), role):
        raise ValidationError({"role": "Only an owner can invite someone with that role."})
    if Membership.objects.filter(organization=organization, user__email__iexact=email).exists():
        raise ValidationError({"email": "That person is already a member."})
    # Lock the organisation row so two concurrent invites cannot both take the last seat.
    Organization.objects.select_for_update().filter(pk=organization.pk).first()
    limit = organization_seat_limit(organization=organization)
    if limit is not None and _seats_in_use(organization) >= limit:
        raise ValidationError(
            {
                "email": f"Your plan allows {limit} member{'s' if limit != 1 else ''} "
                "(including pending invitations). Upgrade to invite more people."
            }
        )
    # An expired pending invitation for the same address is superseded by the new one.
    Invitation.objects.filter(
        organization=organization, email=email, status=Invitation.Status.PENDING
    ).update(status=Invitation.Status.REVOKED, responded_at=timezone.now())
    token = secrets.token_urlsafe(32)
    try:
        with transaction.atomic():
            invitation = Invitation.objects.create(
                organization=organization,
                email=email,
                role=role,
                token_hash=_hash_token(token),
                invited_by=actor,
                expires_at=timezone.now() + timedelta(days=settings.INVITATION_TTL_DAYS),
            )
    except IntegrityError as exc:
        raise ValidationError(
            {"email": "An invitation for that address is already pending."}
        ) from exc
    audit_record(
        organization=organization,
        actor=actor,
        action="invitation.created",
        target=invitation,
        metadata={"email": email, "role": role},
    )
    brand = _email_brand(organization)
    accept_url = brand.pop("site_url") + reverse("accounts:invitation_accept", args=[token])
    context = {
        "invitation": invitation,
        "organization": organization,
        "inviter": actor,
        "accept_url": accept_url,
        **brand,
    }
    transaction.on_commit(
        lambda: send_mail(
            subject=render_to_string("emails/invitation_subject.txt", context).strip(),
            message=render_to_string("emails/invitation_body.txt", context),
            html_message=render_to_string("emails/invitation_body.html", context),
            from_email=None,
            recipient_list=[email],
        )
    )
    return invitation, token


def _email_brand(organization: Organization) -> dict:
    """Brand name, colour and link base for emails about this organisation (white-label
    when entitled)."""
    branding = branding_for_org(organization)
    site_url = settings.SITE_URL.rstrip("/")
    if branding is not None and branding.custom_domain and branding.domain_verified_at:
        # links in the organisation's emails point at its own domain (same scheme as ours)
        site_url = f"{urlsplit(site_url).scheme or 'https'}://{branding.custom_domain}"
    return {
        "brand_name": (branding.brand_name if branding else "") or "CrewBuilder",
        "brand_color": (branding.primary_color if branding else "") or "#4f46e5",
        "site_url": site_url,
    }


def invitation_for_token(token: str) -> Invitation | None:
    return (
        Invitation.objects.select_related("organization")
        .filter(token_hash=_hash_token(token))
        .first()
    )


@transaction.atomic
def invitation_accept(*, token: str, user: User) -> Membership:
    invitation = (
        Invitation.objects.select_for_update().filter(token_hash=_hash_token(token)).first()
    )
    if invitation is None or invitation.status == Invitation.Status.REVOKED:
        raise ValidationError("This invitation is no longer valid. Ask for a new one.")
    if invitation.status == Invitation.Status.ACCEPTED:
        raise ValidationError("This invitation has already been used.")
    if invitation.is_expired:
        raise ValidationError("This invitation has expired. Ask for a new one.")
    if invitation.email.lower() != user.email.lower():
        raise PermissionDenied(
            "This invitation was sent to a different email address. Sign in as that address to accept it."
        )
    organization = invitation.organization
    already_member = Membership.objects.filter(organization=organization, user=user).exists()
    if not already_member:
        # Seats are checked again on acceptance (under the organisation lock): the plan may
        # have shrunk since the invitation was sent.
        Organization.objects.select_for_update().filter(pk=organization.pk).first()
        limit = organization_seat_limit(organization=organization)
        if (
            limit is not None
            and Membership.objects.filter(organization=organization).count() >= limit
        ):
            raise ValidationError(
                f"{organization.name} has no free seat on its current plan ({limit} "
                f"member{'s' if limit != 1 else ''}). Ask an owner to upgrade, then try again."
            )
    membership, created = Membership.objects.get_or_create(
        organization=organization, user=user, defaults={"role": invitation.role}
    )
    invitation.status = Invitation.Status.ACCEPTED
    invitation.accepted_by = user
    invitation.responded_at = timezone.now()
    invitation.save(update_fields=["status", "accepted_by", "responded_at"])
    audit_record(
        organization=invitation.organization,
        actor=user,
        action="invitation.accepted",
        target=invitation,
        metadata={"email": invitation.email, "role": membership.role, "new_member": created},
    )
    return membership


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, actor: User) -> None:
    _require(actor=actor, organization=invitation.organization, capability=Cap.MANAGE_MEMBERS)
    if invitation.status != Invitation.Status.PENDING:
        raise ValidationError("Only a pending invitation can be revoked.")
    invitation.status = Invitation.Status.REVOKED
    invitation.responded_at = timezone.now()
    invitation.save(update_fields=["status", "responded_at"])
    audit_record(
        organization=invitation.organization,
        actor=actor,
        action="invitation.revoked",
        target=invitation,
        metadata={"email": invitation.email},
    )


def _owners(organization: Organization):
    """The organisation's owners, counted under a lock on the organisation row.

    Django drops FOR UPDATE from ``.count()``, so locking the owner rows alone would let
    two owners leave (or demote each other) at once and leave nobody in charge; every
    owner-count check serialises on the organisation row instead.
    """
    Organization.objects.select_for_update().filter(pk=organization.pk).first()
    return Membership.objects.filter(organization=organization, role=Role.OWNER)


@transaction.atomic
def membership_change_role(*, membership: Membership, actor: User, role: str) -> Membership:
    _require(actor=actor, organization=membership.organization, capability=Cap.CHANGE_ROLES)
    if role not in Role.values:
        raise ValidationError({"role": "Unknown role."})
    old = membership.role
    if old == role:
        return membership
    if old == Role.OWNER and _owners(membership.organization).count() <= 1:
        raise ValidationError(
            {"role": "An organisation needs at least one owner. Make someone else owner first."}
        )
    membership.role = role
    membership.save(update_fields=["role"])
    audit_record(
        organization=membership.organization,
        actor=actor,
        action="membership.role_changed",
        target=membership.user,
        metadata={"from": old, "to": role},
    )
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, actor: User) -> None:
    """Remove someone (or leave, when actor is the member). The last owner cannot go."""
    org = membership.organization
    leaving = membership.user_id == actor.pk
    if not leaving:
        actor_role = _require(actor=actor, organization=org, capability=Cap.MANAGE_MEMBERS)
        # Admins remove the roles they could grant (members, viewers); owners remove anyone.
        if membership.role == Role.OWNER and not can(actor_role, Cap.CHANGE_ROLES):
            raise PermissionDenied("Only an owner can remove another owner.")
        if membership.role != Role.OWNER and not can_grant(actor_role, membership.role):
            raise PermissionDenied("Only an owner can remove someone with that role.")
    if membership.role == Role.OWNER and _owners(org).count() <= 1:
        raise ValidationError("You are the last owner. Make someone else owner before leaving.")
    user = membership.user
    membership.delete()
    audit_record(
        organization=org,
        actor=actor,
        action="membership.left" if leaving else "membership.removed",
        target=user,
        metadata={"role": membership.role},
    )
    member_left.send(sender=Organization, organization=org, user=user)


@transaction.atomic
def branding_update(
    *,
    organization: Organization,
    actor: User,
    brand_name: str,
    primary_color: str,
    accent_color: str,
    custom_domain: str,
    logo: bytes | None = None,
    remove_logo: bool = False,
) -> OrganizationBranding:
    """Save an organisation's white-label settings (owners/admins, Enterprise plans).

    ``custom_domain`` is a *claim*: it is served only after its DNS TXT proof checks out
    (``accounts.domains.branding_domain_verify``), and it reserves nothing — another
    organisation may claim the same name, and whoever proves it gets it. The verified
    domain keeps being served while a new claim waits; a blank value stops serving it.
    Raises PermissionDenied when the role or the plan does not allow it, ValidationError
    with field messages for bad colours, domains or images."""
    _require(actor=actor, organization=organization, capability=Cap.MANAGE_BRANDING)
    if not plan_entitlements(organization).white_label:
        raise PermissionDenied("White-label branding is part of the Enterprise plan.")
    domain, png = _branding_input_checked(
        primary_color=primary_color,
        accent_color=accent_color,
        custom_domain=custom_domain,
        logo=logo,
    )
    branding, _ = OrganizationBranding.objects.select_for_update().get_or_create(
        organization=organization
    )
    old_domain = branding.domain_claim or branding.custom_domain or ""
    old_file = branding.logo.name if branding.logo else ""
    branding.brand_name = brand_name.strip()[:80]
    branding.primary_color = primary_color.lower()
    branding.accent_color = accent_color.lower()
    _branding_domain_claim(branding, domain)
    branding.updated_at = timezone.now()
    _branding_logo_set(branding, png=png, remove_logo=remove_logo)
    branding.save()
    if old_file and not branding.logo:
        storage = branding.logo.storage
        transaction.on_commit(lambda: storage.delete(old_file))
    transaction.on_commit(forget_custom_domains)
    audit_record(
        organization=organization,
        actor=actor,
        action="branding.updated",
        target=organization,
        metadata={
            "brand_name": branding.brand_name,
            "primary_color": branding.primary_color,
            "accent_color": branding.accent_color,
            "custom_domain": domain,
            "custom_domain_verified": bool(domain) and domain == branding.custom_domain,
            "custom_domain_changed": domain != old_domain,
            "logo": "replaced" if png is not None else ("removed" if remove_logo else "kept"),
        },
    )
    return branding


def _branding_input_checked(
    *, primary_color: str, accent_color: str, custom_domain: str, logo: bytes | None
) -> tuple[str, bytes | None]:
    """(the normalised custom domain, the logo as PNG), or every field's problem at once
    as a ``ValidationError``."""
    errors: dict[str, str] = {}
    for field, value in (("primary_color", primary_color), ("accent_color", accent_color)):
        if value and not COLOR_RE.match(value):
            errors[field] = "Use a colour like #4f46e5."
    try:
        domain = validate_custom_domain(custom_domain)
    except ValidationError as exc:
        errors.update({k: v[0] for k, v in exc.message_dict.items()})
        domain = ""
    png = None
    if logo is not None:
        try:
            png = logo_to_png(logo)
        except ValidationError as exc:
            errors.update({k: v[0] for k, v in exc.message_dict.items()})
    if errors:
        raise ValidationError(errors)
    return domain, png


def _branding_domain_claim(branding: OrganizationBranding, domain: str) -> None:
    if not domain:
        # no custom domain any more: stop serving the verified one and drop any claim
        branding.custom_domain = None
        branding.domain_verified_at = branding.domain_checked_at = None
        branding.domain_claim = ""
    elif domain == branding.custom_domain and branding.domain_verified_at is not None:
        branding.domain_claim = ""  # back to the domain already verified
    else:
        branding.domain_claim = domain  # served once proved (accounts/domains.py)
        if branding.domain_verified_at is None:
            branding.custom_domain = None  # an unproved pre-0.2.0 domain: now a claim
    if not branding.domain_token:
        branding.domain_token = secrets.token_urlsafe(24)


def _branding_logo_set(
    branding: OrganizationBranding, *, png: bytes | None, remove_logo: bool
) -> None:
    if png is not None:
        # In the row, not on a disk: every web process and every redeploy serves it.
        branding.logo_png = png
        branding.logo_sha256 = hashlib.sha256(png).hexdigest()
    elif remove_logo:
        branding.logo_png = None
        branding.logo_sha256 = ""
    if png is not None or remove_logo:
        branding.logo = ""  # a 0.1.0 file, superseded (the column goes in 0.3.0)


def branding_logos_import(*, batch_size: int = 100) -> dict[str, int]:
    """Copy logo files saved by 0.1.0 (``MEDIA_ROOT/branding/…``) into their rows, byte for
    byte, in batches (the data migration accounts 0004 does the same at upgrade time; run
    ``manage.py branding_logos_import`` again once no 0.1.0 process is left). Idempotent:
    rows that already hold their logo are skipped; a missing file is counted, not fatal."""
    copied = missing = 0
    pending = OrganizationBranding.objects.exclude(logo="").filter(logo_png__isnull=True)
    last_pk = 0
    while batch := list(pending.filter(pk__gt=last_pk).order_by("pk")[:batch_size]):
        with transaction.atomic():
            for branding in batch:
                try:
                    with branding.logo.open("rb") as handle:
                        data = handle.read()
                except OSError:
                    missing += 1
                    continue
                copied += OrganizationBranding.objects.filter(
                    pk=branding.pk, logo_png__isnull=True
                ).update(logo_png=data, logo_sha256=hashlib.sha256(data).hexdigest())
        last_pk = batch[-1].pk
    return {"copied": copied, "missing": missing}
