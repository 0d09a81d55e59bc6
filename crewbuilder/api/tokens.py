"""API tokens: an organisation's ``cb_…`` bearer tokens for the public API.

A token is ``cb_`` + a 12-character lookup prefix + a random secret. Only the prefix and
the SHA-256 of the whole token are stored; the plaintext is returned once by
``api_token_create`` and never again. Authentication looks the row up by prefix and
compares hashes in constant time (healthchecks' ``hcw_`` keys do the same).

A token acts as the member who created it, inside its organisation, limited by its
scope. It stops working when it is revoked or expires, when its creator leaves the
organisation (``crewbuilder.api.receivers`` revokes it on ``accounts.signals.member_left``,
and authentication re-checks membership) and, at the API's permission layer, when the plan loses API access.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from accounts.models import ApiToken, Membership, Organization, User
from accounts.permissions import Cap, can
from accounts.services import audit_record, role_of
from billing.selectors import Feature, entitlements_for, entitlements_from, plan_refusal
from billing.tenancy import organization_billing_account

TOKEN_PREFIX = "cb_"  # noqa: S105 (a public marker, not a secret)
LOOKUP_LENGTH = 12  # hex characters after "cb_"; unique per token
SECRET_BYTES = 32
# last_used_at is written at most this often per token, so a busy client costs no writes.
LAST_USED_RESOLUTION = timedelta(minutes=1)
NAME_MAX = 80


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def api_access_denied_message(*, plan_name: str) -> str:
    return plan_refusal(Feature.API_ACCESS, plan_name=plan_name)


def organization_has_api_access(organization: Organization) -> tuple[bool, str]:
    """(allowed, plan name): billing's plan gate for the API."""
    entitlements = entitlements_for(organization)
    return entitlements.allows(Feature.API_ACCESS), entitlements.plan_name


def api_token_has_api_access(token: ApiToken) -> tuple[bool, str]:
    """``organization_has_api_access`` for an authenticated token, from the billing account
    (with its plan) its lookup already read: no query."""
    entitlements = entitlements_from(organization_billing_account(token.organization))
    return entitlements.allows(Feature.API_ACCESS), entitlements.plan_name


# --- reads -------------------------------------------------------------------------------


def api_tokens_for(*, organization: Organization) -> QuerySet[ApiToken]:
    return (
        ApiToken.objects.filter(organization=organization)
        .select_related("created_by")
        .order_by("revoked_at", "-created_at")
    )


def api_token_is_active(token: ApiToken) -> bool:
    if token.revoked_at is not None:
        return False
    return token.expires_at is None or token.expires_at > timezone.now()


# --- writes ------------------------------------------------------------------------------


def _require_manager(*, organization: Organization, actor: User) -> None:
    if not can(role_of(user=actor, organization=organization), Cap.MANAGE_API_TOKENS):
        raise PermissionDenied("Only owners and admins can manage API tokens.")


@transaction.atomic
def api_token_create(
    *,
    organization: Organization,
    actor: User,
    name: str,
    scope: str = ApiToken.Scope.READ_WRITE,
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """Create a token for ``organization``. Returns the row and the plaintext token, which
    the caller shows once and must not store, log or put in a URL.

    Raises PermissionDenied when the actor is not an owner/admin or the plan has no API
    access (the message names the plan that has it), ValidationError for bad input."""
    _require_manager(organization=organization, actor=actor)
    allowed, plan_name = organization_has_api_access(organization)
    if not allowed:
        raise PermissionDenied(api_access_denied_message(plan_name=plan_name))
    name = (name or "").strip()
    errors: dict[str, list[str]] = {}
    if not name:
        errors["name"] = ["Give the token a name, e.g. the system that will use it."]
    elif len(name) > NAME_MAX:
        errors["name"] = [f"Use at most {NAME_MAX} characters."]
    if scope not in ApiToken.Scope.values:
        errors["scope"] = ["Choose read or read & write."]
    if expires_at is not None and expires_at <= timezone.now():
        errors["expires_at"] = ["The expiry date must be in the future."]
    if errors:
        raise ValidationError(errors)
    for _attempt in range(5):
        lookup = secrets.token_hex(LOOKUP_LENGTH // 2)
        raw = f"{TOKEN_PREFIX}{lookup}{secrets.token_urlsafe(SECRET_BYTES)}"
        try:
            with transaction.atomic():
                token = ApiToken.objects.create(
                    organization=organization,
                    created_by=actor,
                    name=name,
                    prefix=lookup,
                    token_hash=_hash(raw),
                    scope=scope,
                    expires_at=expires_at,
                )
            break
        except IntegrityError:  # prefix collision (48 random bits): draw again
            continue
    else:  # pragma: no cover - five collisions in a row means something else is wrong
        raise RuntimeError("Could not allocate a unique API token prefix.")
    audit_record(
        organization=organization,
        actor=actor,
        action="api_token.created",
        target=token,
        metadata={
            "name": name,
            "scope": scope,
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
    )
    return token, raw


@transaction.atomic
def api_token_revoke(*, token: ApiToken, actor: User | None, reason: str = "") -> ApiToken:
    """Revoke a token; it fails authentication from the next request on. ``actor`` None is
    the system (e.g. its creator left the organisation). Revoking twice is a no-op."""
    if actor is not None:
        _require_manager(organization=token.organization, actor=actor)
    updated = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    token.refresh_from_db(fields=["revoked_at"])
    if updated:
        audit_record(
            organization=token.organization,
            actor=actor,
            action="api_token.revoked",
            target=token,
            metadata={"name": token.name, "reason": reason or "revoked"},
        )
    return token


def api_tokens_revoke_for_member(*, organization: Organization, user: User) -> int:
    """Revoke every active token ``user`` created in ``organization`` (they left it)."""
    tokens = list(
        ApiToken.objects.filter(
            organization=organization, created_by=user, revoked_at__isnull=True
        ).select_related("organization")
    )
    for token in tokens:
        api_token_revoke(token=token, actor=None, reason="creator left the organisation")
    return len(tokens)


def _token_queryset(lookup: str) -> QuerySet[ApiToken]:
    """The one lookup row: the unrevoked token by its (unique) prefix with its
    organisation, creator, the organisation's billing account and plan (so the API's plan
    check and the charge reservation need no further read, see
    ``billing.tenancy.organization_billing_account``) and the creator's current role. No ORDER BY: the
    prefix and (organisation, user) memberships are unique."""
    return (
        ApiToken.objects.select_related(
            "organization", "created_by", "organization__billing_account__plan"
        )
        .annotate(
            creator_role=Subquery(
                Membership.objects.filter(
                    organization_id=OuterRef("organization_id"), user_id=OuterRef("created_by_id")
                )
                .order_by()
                .values("role")[:1]
            )
        )
        .filter(prefix=lookup, revoked_at__isnull=True)
        .order_by()
    )[:1]


def _token_lookup(lookup: str) -> ApiToken | None:
    return next(iter(_token_queryset(lookup)), None)


def api_token_authenticate(*, raw: str) -> ApiToken | None:
    """Return the active token for a presented ``cb_…`` string, or None.

    One query: the row by its lookup prefix, with its organisation, creator, the
    organisation's billing account and plan, and the creator's current role in the
    organisation (``token.creator_role``; None when they are no longer a member, which
    makes the token invalid)."""
    if not raw or not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
        return None
    lookup = raw[len(TOKEN_PREFIX) : len(TOKEN_PREFIX) + LOOKUP_LENGTH]
    if len(lookup) != LOOKUP_LENGTH:
        return None
    now = timezone.now()
    token = _token_lookup(lookup)
    if token is not None and token.expires_at is not None and token.expires_at <= now:
        token = None
    if token is None or not hmac.compare_digest(token.token_hash, _hash(raw)):
        return None
    # creator_role: annotated by the lookup above (None once they left the organisation)
    if token.created_by_id is None or getattr(token, "creator_role", None) is None:
        return None
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        # Conditional update: concurrent requests in the same minute write once at most.
        ApiToken.objects.filter(pk=token.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
        ).update(last_used_at=now)
        token.last_used_at = now
    return token
