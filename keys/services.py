"""Provider-key vault services: the only place a provider key is encrypted or decrypted.

Layout of the secrets (see README "Key vault"):

* Every organisation has one data key (AES-256, ``OrganizationDataKey``), wrapped by the
  newest master key of ``CREWBUILDER_ENCRYPTION_KEYS`` (or by Vault transit). The wrapped
  blob records which master key wrapped it and binds the organisation id.
* A provider key is sealed with AES-256-GCM under its organisation's data key, with a
  fresh 96-bit nonce per write and associated data naming the row: organisation id, key
  id, provider, key version, scope and owner. A ciphertext copied to any other row,
  organisation or version fails authentication with the same generic error as tampering.
* Rotation re-wraps data keys only (``data_keys_rotate``), so nobody re-enters a key.

Plaintext keys exist only inside this module and in the ``ResolvedKey`` handed to the
provider call, never in a model field, a Celery message, a log line or a response.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import timedelta

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.models import Membership, Organization, Role, User
from accounts.permissions import Cap, can
from accounts.services import audit_record, role_of
from crewbuilder.errors import REDIS_UNAVAILABLE, ApplicationError, ServiceUnavailable
from crewbuilder.metrics import KEY_DECRYPT_FAILURES
from crewbuilder.providers import verify_key
from crewbuilder.redaction import contains_secret, redact
from keys.backends import active_backend, backend_for, backend_name, is_local_key_id
from keys.crypto import DecryptionFailed, aad, master_key_ring, new_data_key, open_sealed, seal
from keys.models import OrganizationDataKey, ProviderKey, TransportKey
from keys.transport import is_transport_payload, transport_context, transport_decrypt

logger = logging.getLogger("crewbuilder.keys")

__all__ = [
    "DecryptionFailed",
    "ResolvedKey",
    "platform_key",
    "provider_key_resolve",
    "one_time_key_stash",
    "one_time_key_take",
    "provider_key_mark_invalid",
    "provider_key_record_use",
    "provider_key_store",
    "provider_key_delete",
    "provider_key_test",
    "provider_keys_recheck",
    "organization_keys_crypto_shred",
    "user_keys_delete",
    "keys_recovery_check",
    "organization_secret_seal",
    "organization_secret_open",
]


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


# --------------------------------------------------------------------------- validation

_FORMATS = {
    "openai": re.compile(r"^sk-(?!ant-)[A-Za-z0-9_\-]{20,300}$"),
    "anthropic": re.compile(r"^sk-ant-[A-Za-z0-9_\-]{20,300}$"),
}
_FORMAT_HELP = {
    "openai": "An OpenAI key starts with “sk-” (for example sk-proj-…) and has no spaces.",
    "anthropic": "An Anthropic key starts with “sk-ant-” and has no spaces.",
}


def provider_key_clean(*, provider: str, api_key: str) -> str:
    """Check a key's format for its provider; returns it stripped. The message never
    repeats the value. A value encrypted in the browser by keycrypt.js (``cbenc1.…``) is
    decrypted first, so every entry point (settings page, generate form, API, one-time
    stash) accepts either form."""
    if provider not in _FORMATS:
        raise ValidationError({"provider": ["Choose OpenAI or Anthropic."]})
    value = (api_key or "").strip()
    if is_transport_payload(value):
        value = transport_decrypt(value).strip()
    if not value:
        raise ValidationError({"api_key": ["Paste your API key."]})
    if provider == "openai" and value.startswith("sk-ant-"):
        raise ValidationError({"api_key": ["This looks like an Anthropic key, not an OpenAI key."]})
    if not _FORMATS[provider].match(value):
        raise ValidationError({"api_key": [_FORMAT_HELP[provider]]})
    return value


def _mask(provider: str, value: str) -> str:
    prefix = "sk-ant-" if provider == "anthropic" else "sk-"
    return f"{prefix}…{value[-4:]}"


# --------------------------------------------------------------------------- data keys

_DATA_KEY_TTL_SECONDS = 300.0
_DATA_KEY_CACHE_MAX = 1024
# (org id, master key id, wrapped bytes) -> (expires, AESGCM, fingerprint key). The
# wrapped bytes are part of the cache key, so a deleted (crypto-shredded) or re-wrapped
# data key can never be served from here: the lookup needs the current row.
_data_key_cache: dict[tuple[int, str, bytes], tuple[float, AESGCM, bytes]] = {}


def _data_key_context(organization_id: int) -> bytes:
    return aad("crewbuilder/data-key/v1", f"org={organization_id}")


def _unwrap(row: OrganizationDataKey) -> tuple[AESGCM, bytes]:
    wrapped = bytes(row.wrapped_key)
    key_id = row.master_key_id
    if _master_key_missing(key_id):
        # A master key removed from the configuration stops working at once, cache or not.
        raise DecryptionFailed()
    cache_key = (row.organization_id, key_id, wrapped)
    hit = _data_key_cache.get(cache_key)
    now = time.monotonic()
    if hit is not None and hit[0] > now:
        return hit[1], hit[2]
    data_key = backend_for(key_id).unwrap(
        wrapped=wrapped, key_id=key_id, context=_data_key_context(row.organization_id)
    )
    entry = (
        now + _DATA_KEY_TTL_SECONDS,
        AESGCM(data_key),
        hmac.new(data_key, b"crewbuilder/fingerprint/v1", hashlib.sha256).digest(),
    )
    if len(_data_key_cache) >= _DATA_KEY_CACHE_MAX:
        _data_key_cache.clear()
    _data_key_cache[cache_key] = entry
    return entry[1], entry[2]


def _forget_data_keys(organization_id: int) -> None:
    for cache_key in [k for k in _data_key_cache if k[0] == organization_id]:
        _data_key_cache.pop(cache_key, None)


def _data_key_for_write(organization: Organization) -> tuple[AESGCM, bytes]:
    row = OrganizationDataKey.objects.filter(organization=organization).first()
    if row is None:
        data_key = new_data_key()
        wrapped, key_id = active_backend().wrap(
            data_key=data_key, context=_data_key_context(organization.pk)
        )
        try:
            with transaction.atomic():
                row = OrganizationDataKey.objects.create(
                    organization=organization, wrapped_key=wrapped, master_key_id=key_id
                )
        except IntegrityError:
            # Another request created it first: use theirs.
            row = OrganizationDataKey.objects.get(organization=organization)
    return _unwrap(row)


def _fingerprint(fingerprint_key: bytes, value: str) -> str:
    return hmac.new(fingerprint_key, value.encode(), hashlib.sha256).hexdigest()[:12]


def _key_aad(key: ProviderKey) -> bytes:
    # One f-string: this runs on every decrypt (see bench/keys_decrypt.py).
    return (
        f"crewbuilder/provider-key/v1|org={key.organization_id}|key={key.id}"
        f"|provider={key.provider}|version={key.key_version}|scope={key.scope}"
        f"|owner={key.owner_id or 0}"
    ).encode()


def _decrypt(key: ProviderKey, data_key_row: OrganizationDataKey | None) -> str:
    """Open a stored key. Any failure (tampered, transplanted, shredded, unknown master
    key) is the same ``DecryptionFailed``."""
    if data_key_row is None or data_key_row.organization_id != key.organization_id:
        KEY_DECRYPT_FAILURES.labels(backend="none").inc()
        raise DecryptionFailed()
    try:
        aead, _ = _unwrap(data_key_row)
        return open_sealed(aead, bytes(key.ciphertext), _key_aad(key)).decode()
    except DecryptionFailed:
        KEY_DECRYPT_FAILURES.labels(backend=backend_name(data_key_row.master_key_id)).inc()
        raise


def _data_key_row(organization_id: int) -> OrganizationDataKey | None:
    return OrganizationDataKey.objects.filter(organization_id=organization_id).first()


# --------------------------------------------------------------------------- permissions


def _require_manage(*, key_scope: str, owner_id: int | None, actor: User, organization) -> None:
    role = role_of(user=actor, organization=organization)
    if key_scope == ProviderKey.Scope.ORGANIZATION:
        if not can(role, Cap.MANAGE_ORG_KEYS):
            raise PermissionDenied("Only owners and admins can change organisation keys.")
    elif key_scope == ProviderKey.Scope.USER:
        if role is None or (owner_id is not None and owner_id != actor.pk):
            raise PermissionDenied("A personal key can only be changed by its owner.")
        if not can(role, Cap.GENERATE):
            raise PermissionDenied("Your role in this organisation cannot generate.")
    else:
        raise ValidationError({"scope": ["Choose a personal or an organisation key."]})


def _audit(key: ProviderKey, *, actor: User | None, action: str, **metadata) -> None:
    audit_record(
        organization=key.organization,
        actor=actor,
        action=f"provider_key.{action}",
        target=key,
        metadata={
            "provider": key.provider,
            "scope": key.scope,
            "fingerprint": key.fingerprint,
            "key_version": key.key_version,
            **metadata,
        },
    )


# --------------------------------------------------------------------------- store / delete


class ProviderKeyExists(ApplicationError):  # noqa: N818 - an HTTP-style outcome (409)
    """A key for this provider and scope is already stored and replacing was not asked."""

    code = "key_exists"
    status = 409

    def __init__(self, key: ProviderKey):
        self.key = key
        super().__init__(
            f"A {key.provider} key is already stored ({key.masked}). Send replace: true to "
            "replace it."
        )


@transaction.atomic
def provider_key_store(
    *,
    organization: Organization,
    actor: User,
    provider: str,
    api_key: str,
    label: str = "",
    scope: str = "organization",
    replace: bool = True,
) -> ProviderKey:
    """Save (or replace) the organisation's or the actor's personal key for a provider.

    Replacing keeps the row id and its audit history and bumps ``key_version`` (bound into
    the ciphertext, so an old ciphertext cannot be put back); it is audited as
    ``provider_key.replaced``. With ``replace=False`` an existing key is left alone and
    ``ProviderKeyExists`` is raised (the API's 409). Raises ``ValidationError`` with field
    messages for bad input and ``PermissionDenied`` for the wrong role.
    """
    value = provider_key_clean(provider=provider, api_key=api_key)
    label = (label or "").strip()
    if len(label) > 80:
        raise ValidationError({"label": ["Keep the label under 80 characters."]})
    if contains_secret(label) or value in label:
        # Labels are stored and shown in plain text: never let a key end up there.
        raise ValidationError({"label": ["That looks like a key. Put the key in the key field."]})
    _require_manage(key_scope=scope, owner_id=None, actor=actor, organization=organization)
    owner = actor if scope == ProviderKey.Scope.USER else None
    aead, fingerprint_key = _data_key_for_write(organization)
    now = timezone.now()
    mine = ProviderKey.objects.select_for_update().filter(
        organization=organization, provider=provider, scope=scope, owner=owner
    )
    key = mine.first()
    action = "replaced"
    if key is not None and not replace:
        raise ProviderKeyExists(key)
    if key is None:
        try:
            # The id is part of the associated data, so the row exists before sealing.
            with transaction.atomic():
                key = ProviderKey.objects.create(
                    organization=organization,
                    owner=owner,
                    scope=scope,
                    provider=provider,
                    label=label,
                    ciphertext=b"",
                    masked="",
                    fingerprint="",
                    created_by=actor,
                    created_at=now,
                    updated_at=now,
                )
            action = "created"
        except IntegrityError:
            # A concurrent first save won the insert (and has committed): replace it.
            key = mine.first()
            if key is not None and not replace:
                raise ProviderKeyExists(key) from None
            if key is None:
                raise ValidationError(
                    {"api_key": ["The key could not be saved. Try again."]}
                ) from None
    if action == "replaced":
        key.key_version += 1
        if label:
            key.label = label
    key.ciphertext = seal(aead, value.encode(), _key_aad(key))
    key.masked = _mask(provider, value)
    key.fingerprint = _fingerprint(fingerprint_key, value)
    key.status = ProviderKey.Status.UNTESTED
    key.status_reason = ""
    key.checked_at = None
    key.updated_at = now
    key.save()
    _audit(key, actor=actor, action=action)
    return key


@transaction.atomic
def provider_key_delete(*, key: ProviderKey, actor: User) -> None:
    _require_manage(
        key_scope=key.scope, owner_id=key.owner_id, actor=actor, organization=key.organization
    )
    _audit(key, actor=actor, action="deleted")
    key.delete()


@transaction.atomic
def user_keys_delete(*, user: User, actor: User | None) -> int:
    """Delete every personal key of a user (account deletion)."""
    count = 0
    for key in ProviderKey.objects.select_related("organization").filter(owner=user):
        _audit(key, actor=actor, action="deleted", reason="account deleted")
        key.delete()
        count += 1
    return count


def member_left_delete_personal_keys(*, organization: Organization, user: User) -> None:
    """A member who leaves an organisation takes no key along and leaves none behind."""
    for key in ProviderKey.objects.filter(organization=organization, owner=user):
        _audit(key, actor=None, action="deleted", reason="member left")
        key.delete()


@transaction.atomic
def organization_keys_crypto_shred(*, organization: Organization, actor: User | None) -> None:
    """Destroy the organisation's data key, making every ciphertext sealed with it
    unreadable for good, and delete the key rows (GDPR organisation deletion)."""
    deleted = ProviderKey.objects.filter(organization=organization).delete()[0]
    OrganizationDataKey.objects.filter(organization=organization).delete()
    _forget_data_keys(organization.pk)
    audit_record(
        organization=organization,
        actor=actor,
        action="provider_keys.crypto_shredded",
        target=organization,
        metadata={"keys_deleted": deleted},
    )


# --------------------------------------------------------------------------- status


def provider_key_test(*, key: ProviderKey, actor: User) -> str:
    """Call the provider with the key (cheapest authenticated call) and record the result:
    ``connected``, ``invalid`` or ``unreachable``. No transaction is held open across the
    network call."""
    _require_manage(
        key_scope=key.scope, owner_id=key.owner_id, actor=actor, organization=key.organization
    )
    try:
        secret = _decrypt(key, _data_key_row(key.organization_id))
    except DecryptionFailed:
        status, reason = ProviderKey.Status.INVALID, "The stored key could not be decrypted."
    else:
        status = verify_key(provider=key.provider, api_key=secret)
        reason = {
            "invalid": "The provider rejected this key.",
            "unreachable": "The provider could not be reached. Try again later.",
        }.get(status, "")
        del secret
    with transaction.atomic():
        _set_status(key, status=status, reason=reason)
        _audit(key, actor=actor, action="tested", status=status)
    return status


def _set_status(key: ProviderKey, *, status: str, reason: str) -> bool:
    """Record a check; returns True when the key just turned invalid (owner is told)."""
    previous = (
        ProviderKey.objects.select_for_update()
        .filter(pk=key.pk)
        .values_list("status", flat=True)
        .first()
    )
    now = timezone.now()
    ProviderKey.objects.filter(pk=key.pk).update(
        status=status, status_reason=redact(reason)[:200], checked_at=now
    )
    key.status, key.status_reason, key.checked_at = status, redact(reason)[:200], now
    return status == ProviderKey.Status.INVALID and previous != ProviderKey.Status.INVALID


@transaction.atomic
def provider_key_mark_invalid(*, key_id: int, reason: str = "") -> None:
    """The provider rejected a stored key (401): flag it and tell its owner by email."""
    key = ProviderKey.objects.select_related("organization", "owner").filter(pk=key_id).first()
    if key is None:
        return
    if _set_status(key, status=ProviderKey.Status.INVALID, reason=reason or "Rejected."):
        _audit(key, actor=None, action="flagged_invalid", reason=redact(reason)[:200])
        transaction.on_commit(lambda: _notify_invalid(key.pk))


def _notify_invalid(key_id: int) -> None:
    key = ProviderKey.objects.select_related("organization", "owner").filter(pk=key_id).first()
    if key is None:
        return
    if key.scope == ProviderKey.Scope.USER:
        recipients = [key.owner.email]
    else:
        recipients = list(
            Membership.objects.filter(organization=key.organization, role=Role.OWNER)
            .values_list("user__email", flat=True)
            .order_by("user__email")
        )
    if not recipients:
        return
    context = {
        "key": key,
        "organization": key.organization,
        "settings_url": settings.SITE_URL.rstrip("/") + "/settings/api-keys/",
    }
    send_mail(
        subject=render_to_string("keys/emails/key_invalid_subject.txt", context).strip(),
        message=render_to_string("keys/emails/key_invalid_body.txt", context),
        from_email=None,
        recipient_list=recipients,
    )


def provider_keys_recheck(*, stale_after: timedelta = timedelta(hours=20)) -> dict[str, int]:
    """Scheduled re-check: test every key not checked recently; a key that stopped
    working is flagged invalid and its owner told. Returns counts by status."""
    cutoff = timezone.now() - stale_after
    counts: dict[str, int] = {}
    candidates = (
        ProviderKey.objects.exclude(status=ProviderKey.Status.INVALID)
        .filter(Q(checked_at__isnull=True) | Q(checked_at__lt=cutoff))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for key_id in list(candidates):
        key = ProviderKey.objects.select_related("organization").filter(pk=key_id).first()
        if key is None:
            continue
        try:
            secret = _decrypt(key, _data_key_row(key.organization_id))
        except DecryptionFailed:
            status, reason = ProviderKey.Status.INVALID, "The stored key could not be decrypted."
        else:
            status = verify_key(provider=key.provider, api_key=secret)
            reason = "The provider rejected this key." if status == "invalid" else ""
            del secret
        with transaction.atomic():
            turned_invalid = _set_status(key, status=status, reason=reason)
            _audit(key, actor=None, action="rechecked", status=status)
            if turned_invalid:
                _audit(key, actor=None, action="flagged_invalid", reason=reason)
                transaction.on_commit(lambda pk=key.pk: _notify_invalid(pk))
        counts[status] = counts.get(status, 0) + 1
    return counts


def provider_key_record_use(*, key_id: int, generation_id, actor=None) -> None:
    """Audit that a stored key was used by a generation (feeds "usage this month")."""
    key = ProviderKey.objects.select_related("organization").filter(pk=key_id).first()
    if key is None:
        return
    now = timezone.now()
    with transaction.atomic():
        ProviderKey.objects.filter(pk=key_id).update(last_used_at=now)
        key.last_used_at = now
        _audit(key, actor=actor, action="used", generation_id=str(generation_id))


# --------------------------------------------------------------------------- resolve


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
    designer).

    A one-time reference that is spent or expired returns None rather than quietly
    substituting a stored or platform key the caller did not ask for (and would charge
    differently). ``user=None`` means the organisation itself is acting (API token): its
    organisation keys are usable, personal keys are not.
    """
    if one_time_ref:
        secret = one_time_key_take(ref=one_time_ref)
        if secret is None:
            return None
        return ResolvedKey(
            provider=provider,
            source="one_time",
            fingerprint=_one_time_fingerprint(secret),
            secret=secret,
        )
    if organization is not None:
        resolved = _resolve_stored(organization=organization, user=user, provider=provider)
        if resolved is not None:
            return resolved
    if allow_platform and platform_key(provider):
        return ResolvedKey(provider=provider, source="platform", secret=platform_key(provider))
    return None


def _resolve_stored(*, organization, user, provider: str) -> ResolvedKey | None:
    allowed = Q(scope=ProviderKey.Scope.ORGANIZATION)
    if user is not None:
        role = role_of(user=user, organization=organization)
        if role is None:
            return None  # not a member: nothing of this organisation is usable
        allowed = Q(scope=ProviderKey.Scope.USER, owner=user)
        if can(role, Cap.USE_ORG_KEYS):
            allowed |= Q(scope=ProviderKey.Scope.ORGANIZATION)
    keys = sorted(
        ProviderKey.objects.filter(allowed, organization=organization, provider=provider),
        key=lambda k: 0 if k.scope == ProviderKey.Scope.USER else 1,
    )
    if not keys:
        return None
    data_key_row = _data_key_row(organization.pk)
    for key in keys:
        try:
            secret = _decrypt(key, data_key_row)
        except DecryptionFailed:
            logger.error("stored provider key %s could not be decrypted; skipped", key.pk)
            continue
        return ResolvedKey(
            provider=provider,
            source=key.scope,
            key_id=key.pk,
            fingerprint=key.fingerprint,
            secret=secret,
        )
    return None


# --------------------------------------------------------------------------- one-time keys
#
# A one-time key is sealed with a random 256-bit key that exists only inside the returned
# reference; the ciphertext alone goes to the cache (Redis in production) with a TTL,
# under a random handle. So:
#   * the reference (stored on the generation row, visible to whoever reads the DB or the
#     task) is useless on its own: it holds a random key, not the API key, and once the
#     cache entry is deleted (on use or expiry) nothing anywhere can be decrypted with it;
#   * the cache entry is useless on its own: ciphertext without its key;
#   * taking is single use: only the caller whose DELETE actually removed the entry gets
#     the key, so two workers racing on the same reference cannot both use it.

_OT_CACHE_PREFIX = "keys:ot:"
_OT_REF = re.compile(r"^ot1\.([A-Za-z0-9_\-]{22})\.([A-Za-z0-9_\-]{43})$")


def _b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _one_time_fingerprint(secret: str) -> str:
    fp_key = hmac.new(
        settings.SECRET_KEY.encode(), b"crewbuilder/one-time-fingerprint/v1", hashlib.sha256
    ).digest()
    return _fingerprint(fp_key, secret)


def one_time_key_stash(*, api_key: str, provider: str, ttl_seconds: int = 3600) -> str:
    """Hold a one-time key for one generation; returns an opaque reference that is safe to
    store on the generation and put in a Celery message. Raises ``ValidationError``
    ({"api_key": [...]}) for a badly formatted key."""
    value = provider_key_clean(provider=provider, api_key=api_key)
    handle = secrets.token_bytes(16)
    one_time_key = AESGCM.generate_key(bit_length=256)
    blob = seal(AESGCM(one_time_key), value.encode(), aad("crewbuilder/one-time/v1", handle.hex()))
    try:
        cache.set(_OT_CACHE_PREFIX + handle.hex(), blob, timeout=max(1, int(ttl_seconds)))
    except REDIS_UNAVAILABLE as exc:
        # The key cannot be held for the worker: refuse now (the caller's transaction
        # rolls back, nothing is charged) rather than queue a run that cannot start.
        raise ServiceUnavailable(
            "Your one-time key cannot be held for the generation right now. Nothing was "
            "charged; please try again shortly."
        ) from exc
    return f"ot1.{_b64u(handle)}.{_b64u(one_time_key)}"


def one_time_key_take(*, ref: str) -> str | None:
    """Return the one-time key and forget it (single use). None when spent, expired or
    not a reference."""
    match = _OT_REF.match(ref or "")
    if match is None:
        return None
    try:
        handle, one_time_key = _unb64u(match.group(1)), _unb64u(match.group(2))
    except (binascii.Error, ValueError):
        return None
    cache_key = _OT_CACHE_PREFIX + handle.hex()
    blob = cache.get(cache_key)
    if blob is None or not cache.delete(cache_key):
        return None
    try:
        return open_sealed(
            AESGCM(one_time_key), blob, aad("crewbuilder/one-time/v1", handle.hex())
        ).decode()
    except (DecryptionFailed, ValueError):
        return None


# --------------------------------------------------------------------------- recovery drill


@dataclass(frozen=True)
class OrganizationRecovery:
    """Whether one organisation's stored keys can be read with the configured keys."""

    organization_id: int
    organization_name: str
    wrapped_by: str  # the master key id recorded with the data key ("" when there is none)
    keys_total: int
    keys_ok: int
    problem: str = ""  # empty when every key decrypts

    @property
    def recoverable(self) -> bool:
        return not self.problem


@dataclass
class RecoveryReport:
    organizations: list[OrganizationRecovery] = field(default_factory=list)
    transport_problems: list[str] = field(default_factory=list)
    transport_keys: int = 0

    @property
    def unrecoverable(self) -> list[OrganizationRecovery]:
        return [org for org in self.organizations if not org.recoverable]


def _master_key_missing(key_id: str) -> bool:
    """A data key wrapped by a local master key that is not in the configured ring."""
    return is_local_key_id(key_id) and master_key_ring().get(key_id) is None


def _unwrap_uncached(row: OrganizationDataKey) -> bytes:
    """Unwrap through the backend every time: a cached data key must not vouch for a
    master key that has since disappeared."""
    if _master_key_missing(row.master_key_id):
        raise DecryptionFailed()
    return backend_for(row.master_key_id).unwrap(
        wrapped=bytes(row.wrapped_key),
        key_id=row.master_key_id,
        context=_data_key_context(row.organization_id),
    )


def keys_recovery_check() -> RecoveryReport:
    """Open every stored key with the configured master keys / backends and report, per
    organisation, whether all of its keys can be recovered. Read-only: it writes no row,
    no audit event and no cache entry (``manage.py keys_verify``, the restore drill).

    A key counts as recovered when its ciphertext authenticates under the unwrapped data
    key with its row binding *and* its recomputed fingerprint matches the stored one."""
    report = RecoveryReport()
    keys_by_org: dict[int, list[ProviderKey]] = {}
    for key in ProviderKey.objects.order_by("organization_id", "pk"):
        keys_by_org.setdefault(key.organization_id, []).append(key)
    rows = {
        row.organization_id: row
        for row in OrganizationDataKey.objects.select_related("organization")
    }
    names = dict(
        Organization.objects.filter(pk__in=set(keys_by_org) | set(rows)).values_list("pk", "name")
    )
    for org_id in sorted(set(keys_by_org) | set(rows)):
        report.organizations.append(
            _organization_recovery(
                organization_id=org_id,
                organization_name=names.get(org_id, ""),
                row=rows.get(org_id),
                keys=keys_by_org.get(org_id, []),
            )
        )
    report.transport_keys, report.transport_problems = _transport_keys_recovery()
    return report


def _organization_recovery(
    *,
    organization_id: int,
    organization_name: str,
    row: OrganizationDataKey | None,
    keys: list[ProviderKey],
) -> OrganizationRecovery:
    """Whether one organisation's stored keys all open (read-only)."""

    def result(*, wrapped_by: str, keys_ok: int, problem: str) -> OrganizationRecovery:
        return OrganizationRecovery(
            organization_id=organization_id,
            organization_name=organization_name,
            wrapped_by=wrapped_by,
            keys_total=len(keys),
            keys_ok=keys_ok,
            problem=problem,
        )

    if row is None:
        return result(
            wrapped_by="", keys_ok=0, problem="it has stored keys but no data key (destroyed)"
        )
    try:
        data_key = _unwrap_uncached(row)
    except DecryptionFailed:
        if _master_key_missing(row.master_key_id):
            problem = (
                f"its data key is wrapped by master key {row.master_key_id!r}, "
                "which is not configured"
            )
        else:
            problem = f"its data key could not be unwrapped by {row.master_key_id!r}"
        return result(wrapped_by=row.master_key_id, keys_ok=0, problem=problem)
    bad = _keys_not_opening(data_key, keys)
    del data_key
    problem = (
        f"{len(bad)} of {len(keys)} stored key(s) do not decrypt "
        f"(key ids {', '.join(map(str, bad))})"
        if bad
        else ""
    )
    return result(wrapped_by=row.master_key_id, keys_ok=len(keys) - len(bad), problem=problem)


def _keys_not_opening(data_key: bytes, keys: list[ProviderKey]) -> list[int]:
    """Ids of the keys whose ciphertext does not authenticate under ``data_key`` with its
    row binding, or whose recomputed fingerprint differs from the stored one."""
    aead = AESGCM(data_key)
    fingerprint_key = hmac.new(data_key, b"crewbuilder/fingerprint/v1", hashlib.sha256).digest()
    bad: list[int] = []
    for key in keys:
        try:
            value = open_sealed(aead, bytes(key.ciphertext), _key_aad(key)).decode()
        except (DecryptionFailed, UnicodeDecodeError):
            bad.append(key.pk)
            continue
        if not hmac.compare_digest(_fingerprint(fingerprint_key, value), key.fingerprint):
            bad.append(key.pk)
        del value
    del aead, fingerprint_key
    return bad


def _transport_keys_recovery() -> tuple[int, list[str]]:
    """(transport keys checked, the ones that do not unwrap)."""
    checked, problems = 0, []
    for transport in TransportKey.objects.order_by("pk"):
        checked += 1
        try:
            backend_for(transport.master_key_id).unwrap(
                wrapped=bytes(transport.wrapped_key),
                key_id=transport.master_key_id,
                context=transport_context(transport.kid),
            )
        except DecryptionFailed:
            problems.append(
                f"transport key {transport.kid} (wrapped by {transport.master_key_id!r})"
            )
    return checked, problems


# --------------------------------------------------------------------------- other secrets


def _secret_aad(*, organization_id: int, purpose: str, binding: str) -> bytes:
    return aad("crewbuilder/org-secret/v1", f"org={organization_id}", purpose, binding)


def organization_secret_seal(
    *, organization: Organization, purpose: str, binding: str, plaintext: str
) -> bytes:
    """Seal another secret of the organisation (e.g. a webhook signing secret) under its
    data key, bound to ``purpose`` and ``binding`` (the row and version it belongs to).
    Master-key rotation leaves it untouched; crypto-shredding the data key destroys it."""
    aead, _ = _data_key_for_write(organization)
    return seal(
        aead,
        plaintext.encode(),
        _secret_aad(organization_id=organization.pk, purpose=purpose, binding=binding),
    )


def organization_secret_open(
    *, organization_id: int, purpose: str, binding: str, sealed: bytes
) -> str:
    """Open what ``organization_secret_seal`` sealed; ``DecryptionFailed`` otherwise."""
    row = _data_key_row(organization_id)
    if row is None:
        raise DecryptionFailed()
    try:
        aead, _ = _unwrap(row)
        return open_sealed(
            aead,
            bytes(sealed),
            _secret_aad(organization_id=organization_id, purpose=purpose, binding=binding),
        ).decode()
    except DecryptionFailed:
        KEY_DECRYPT_FAILURES.labels(backend=backend_name(row.master_key_id)).inc()
        raise
