"""Generating without registration ("try it"): a visitor brings a one-time key
(rate-limited per IP) or pays $5 by Checkout, and gets the result at an unguessable URL
with an invitation to sign up and keep it.

The generation runs through the ordinary pipeline (``generation_create`` with no user) in a
holding organisation that has no members; paying buys that organisation one credit, which
the generation then consumes like any other credit. Keeping it makes the visitor the owner
of that organisation."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import Membership, Organization, Role, User
from accounts.services import audit_record
from billing import checkout, services
from billing import stripe_gateway as gateway
from billing.models import GuestPass
from billing.plans import CREDIT_LOOKUP_KEY
from crewbuilder.errors import REDIS_UNAVAILABLE
from crewbuilder.outage import degraded
from crewbuilder.providers import PROVIDERS
from generation.requirements import requirement_problems
from generation.services import generation_create


class GuestRateLimited(services.BillingError):
    """Too many tries from this address; try again later or sign up."""

    code = "rate_limited"
    status = 429


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def guest_rate_check(*, ip: str) -> None:
    """At most BILLING_GUEST_PER_HOUR starts per IP per hour (fixed window in the cache;
    the address itself is only used hashed)."""
    bucket = int(timezone.now().timestamp() // 3600)
    key = f"billing:guest:{_hash(ip or 'unknown')[:32]}:{bucket}"
    try:
        cache.add(key, 0, timeout=3600)
        try:
            count = cache.incr(key)
        except ValueError:  # evicted between add and incr
            cache.set(key, 1, timeout=3600)
            count = 1
    except REDIS_UNAVAILABLE as exc:  # fail open, like the API's rate limiter
        degraded("guest_rate_limiter", exc)
        return
    if count > settings.BILLING_GUEST_PER_HOUR:
        raise GuestRateLimited(
            "Too many tries from your network in the last hour. Sign up for free to keep going."
        )


def _validate(*, requirement: str, provider: str) -> str:
    requirement = (requirement or "").strip()
    errors: dict[str, list[str]] = {}
    if problems := requirement_problems(requirement):
        errors["requirement"] = problems
    if provider not in PROVIDERS:
        errors["provider"] = ["Choose OpenAI or Anthropic."]
    if errors:
        raise ValidationError(errors)
    return requirement


def _holding_organization() -> Organization:
    # A member-less tenant: everything the pipeline writes stays scoped to it.
    return Organization.objects.create(name="Guest workspace")


def _new_pass(*, organization: Organization, **fields) -> tuple[GuestPass, str]:
    token = secrets.token_urlsafe(32)
    guest = GuestPass.objects.create(token_hash=_hash(token), organization=organization, **fields)
    return guest, token


@transaction.atomic
def guest_generation_start(
    *, requirement: str, provider: str, api_key: str, ip: str
) -> tuple[GuestPass, str]:
    """One-time-key path: the key goes straight to the pipeline (which stashes it for the
    run only). Returns the pass and the secret token for the result URL."""
    requirement = _validate(requirement=requirement, provider=provider)
    guest_rate_check(ip=ip)
    org = _holding_organization()
    generation = generation_create(
        organization=org,
        user=None,
        requirement=requirement,
        key_source="one_time",
        provider=provider,
        api_key=api_key,
    )
    return _new_pass(
        organization=org,
        status=GuestPass.Status.STARTED,
        requirement=requirement,
        provider=provider,
        generation_id=generation.id,
    )


def guest_checkout_start(
    *, requirement: str, provider: str, ip: str, result_url: str, cancel_url: str
) -> str:
    """Pay-as-you-go path: Checkout (payment mode) for one credit; the webhook starts the
    generation. ``result_url`` contains ``{token}``. Returns the Checkout URL."""
    requirement = _validate(requirement=requirement, provider=provider)
    checkout.require_configured()
    price_id = checkout.price_id_for(CREDIT_LOOKUP_KEY)
    guest_rate_check(ip=ip)
    with transaction.atomic():
        org = _holding_organization()
        guest, token = _new_pass(
            organization=org,
            status=GuestPass.Status.AWAITING_PAYMENT,
            requirement=requirement,
            provider=provider,
        )
    session = gateway.checkout_session_create(
        organization=org,
        customer_id=None,
        mode="payment",
        price_id=price_id,
        quantity=1,
        success_url=result_url.format(token=token),
        cancel_url=cancel_url,
        metadata={"organization_uuid": str(org.uuid), "credits": "1", "guest_pass": str(guest.pk)},
    )
    GuestPass.objects.filter(pk=guest.pk).update(checkout_session_id=session["id"])
    return session["url"]


def guest_paid_generation_start(*, organization: Organization) -> GuestPass | None:
    """Called by the webhook (inside its transaction) once the guest's credit is
    purchased: starts the generation exactly once."""
    guest = (
        GuestPass.objects.select_for_update()
        .filter(organization=organization, status=GuestPass.Status.AWAITING_PAYMENT)
        .first()
    )
    if guest is None:
        return None
    generation = generation_create(
        organization=organization,
        user=None,
        requirement=guest.requirement,
        key_source="platform",
        provider=guest.provider,
        # paid for and nobody waiting on this request: if the broker is down it stays
        # queued (and charged) until the stale-work scan queues it again
        refuse_unqueued=False,
    )
    guest.generation_id = generation.id
    guest.status = GuestPass.Status.STARTED
    guest.save(update_fields=["generation_id", "status"])
    return guest


def guest_pass_for_token(token: str) -> GuestPass | None:
    return GuestPass.objects.select_related("organization").filter(token_hash=_hash(token)).first()


@transaction.atomic
def guest_pass_claim(*, guest: GuestPass, user: User) -> Organization:
    """Keep it: the visitor (now signed in) becomes the owner of the holding organisation."""
    guest = GuestPass.objects.select_for_update().select_related("organization").get(pk=guest.pk)
    if guest.status == GuestPass.Status.CLAIMED:
        if guest.claimed_by_id == user.pk:
            return guest.organization
        raise ValidationError("This generation has already been kept by someone else.")
    if guest.status != GuestPass.Status.STARTED:
        raise ValidationError("This generation has not started yet; wait for the payment.")
    org = guest.organization
    Membership.objects.get_or_create(organization=org, user=user, defaults={"role": Role.OWNER})
    org.name = f"{user.email.split('@', 1)[0]}'s guest crew"[:120]
    org.created_by = user
    org.save(update_fields=["name", "created_by"])
    guest.status = GuestPass.Status.CLAIMED
    guest.claimed_by = user
    guest.claimed_at = timezone.now()
    guest.save(update_fields=["status", "claimed_by", "claimed_at"])
    audit_record(
        organization=org,
        actor=user,
        action="guest.generation_kept",
        target=org,
        metadata={"generation_id": str(guest.generation_id)},
    )
    return org
