"""Custom-domain ownership: a DNS TXT proof before a domain is served.

An organisation that wants ``crews.example.com`` publishes

    _crewbuilder-challenge.crews.example.com.  TXT  "crewbuilder-verify=<its token>"

(the token is per organisation, shown on /settings/branding/) and presses *Verify*.
Until then the domain is only a *claim*: it is not served (no host routing, no branding,
no links in emails) and it reserves nothing — any number of organisations may claim the
same name, and whoever proves control of its DNS gets it, taking it from an organisation
that proved it earlier but no longer can. A daily re-check stops serving a domain whose
record has been gone for longer than ``CREWBUILDER_DOMAIN_GRACE_DAYS``.

Lookups use dnspython against ``CREWBUILDER_DNS_RESOLVER`` (``host[:port]``, comma list)
or, when unset, the system's resolvers.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

import dns.exception
import dns.nameserver
import dns.rdatatype
import dns.resolver
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts import selectors
from accounts.branding import forget_custom_domains
from accounts.models import Organization, OrganizationBranding, User
from accounts.permissions import Cap
from accounts.services import _require, audit_record

logger = logging.getLogger("crewbuilder.accounts")

CHALLENGE_LABEL = "_crewbuilder-challenge"
VALUE_PREFIX = "crewbuilder-verify="


class DomainLookupFailed(Exception):  # noqa: N818 - reads as an outcome
    """The resolver could not give an answer (timeout, SERVFAIL): nothing is decided."""


def challenge_name(domain: str) -> str:
    return f"{CHALLENGE_LABEL}.{domain}"


def challenge_value(token: str) -> str:
    return f"{VALUE_PREFIX}{token}"


def _resolver() -> dns.resolver.Resolver:
    configured = [h.strip() for h in settings.CREWBUILDER_DNS_RESOLVER.split(",") if h.strip()]
    if not configured:
        resolver = dns.resolver.Resolver()
    else:
        resolver = dns.resolver.Resolver(configure=False)
        servers = []
        for entry in configured:
            host, port = entry, 53
            if entry.count(":") == 1:  # host:port (a bare IPv6 address has several colons)
                host, _, raw_port = entry.partition(":")
                port = int(raw_port)
            elif entry.startswith("[") and "]:" in entry:
                host, _, raw_port = entry[1:].partition("]:")
                port = int(raw_port)
            servers.append(dns.nameserver.Do53Nameserver(host.strip("[]"), port))
        resolver.nameservers = servers
    resolver.lifetime = settings.CREWBUILDER_DNS_TIMEOUT_SECONDS
    resolver.timeout = settings.CREWBUILDER_DNS_TIMEOUT_SECONDS
    resolver.cache = None  # a fresh answer every time: a removed record must count
    return resolver


def txt_values(name: str) -> list[str]:
    """The TXT strings published at ``name`` ([] when the name or the record does not
    exist). Raises ``DomainLookupFailed`` when no answer could be had."""
    try:
        answer = _resolver().resolve(name, dns.rdatatype.TXT, search=False)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except (dns.resolver.NoNameservers, dns.exception.Timeout, dns.resolver.LifetimeTimeout) as exc:
        raise DomainLookupFailed(type(exc).__name__) from None
    except dns.exception.DNSException as exc:
        raise DomainLookupFailed(type(exc).__name__) from None
    values = []
    for rdata in answer:
        # A TXT record may be split into several strings; they form one value.
        values.append(b"".join(rdata.strings).decode("utf-8", "replace").strip())
    return values


def domain_proved(*, domain: str, token: str) -> bool:
    """Whether ``domain`` publishes this organisation's token (exact match)."""
    if not domain or not token:
        return False
    return challenge_value(token) in txt_values(challenge_name(domain))


def pending_domain(branding: OrganizationBranding) -> str:
    """The domain waiting for its proof: the claim, or a custom domain saved before proofs
    existed (set, never verified)."""
    if branding.domain_claim:
        return branding.domain_claim
    if branding.custom_domain and branding.domain_verified_at is None:
        return branding.custom_domain
    return ""


def branding_domain_token(branding: OrganizationBranding) -> str:
    """The organisation's verification token, created on first use."""
    if not branding.domain_token:
        token = secrets.token_urlsafe(24)
        OrganizationBranding.objects.filter(pk=branding.pk, domain_token="").update(
            domain_token=token
        )
        branding.refresh_from_db(fields=["domain_token"])
    return branding.domain_token


def branding_domain_verify(*, organization: Organization, actor: User) -> OrganizationBranding:
    """Check the TXT proof of the organisation's claimed domain and, when it is there,
    serve the domain for this organisation (taking it from any other organisation that
    held it). Raises ``ValidationError`` (``custom_domain``) when the record is missing or
    the lookup failed, ``PermissionDenied`` for the wrong role or plan."""
    _require(actor=actor, organization=organization, capability=Cap.MANAGE_BRANDING)
    # None when the organisation has no branding or its plan has no white-label
    branding = selectors.branding_for_org(organization)
    if branding is None and OrganizationBranding.objects.filter(organization=organization).exists():
        raise PermissionDenied("White-label branding is part of the Enterprise plan.")
    domain = pending_domain(branding) if branding is not None else ""
    if branding is None or not domain:
        raise ValidationError({"custom_domain": "Enter a custom domain and save it first."})
    token = branding_domain_token(branding)
    try:
        proved = domain_proved(domain=domain, token=token)
    except DomainLookupFailed:
        raise ValidationError(
            {"custom_domain": "The DNS lookup failed. Try again in a few minutes."}
        ) from None
    if not proved:
        raise ValidationError(
            {
                "custom_domain": (
                    f"No TXT record {challenge_name(domain)} with the value "
                    f"{challenge_value(token)} was found yet. DNS changes can take a while "
                    "to appear."
                )
            }
        )
    now = timezone.now()
    with transaction.atomic():
        previous = list(
            OrganizationBranding.objects.select_for_update()
            .select_related("organization")
            .filter(custom_domain=domain)
            .exclude(organization=organization)
        )
        for other in previous:
            OrganizationBranding.objects.filter(pk=other.pk).update(
                custom_domain=None, domain_verified_at=None, domain_checked_at=None
            )
            audit_record(
                organization=other.organization,
                actor=None,
                action="branding.domain_released",
                target=other.organization,
                metadata={"custom_domain": domain, "reason": "another organisation proved it"},
            )
        OrganizationBranding.objects.filter(pk=branding.pk).update(
            custom_domain=domain,
            domain_claim="",
            domain_verified_at=now,
            domain_checked_at=now,
            updated_at=now,
        )
        audit_record(
            organization=organization,
            actor=actor,
            action="branding.domain_verified",
            target=organization,
            metadata={"custom_domain": domain, "taken_from": len(previous)},
        )
        transaction.on_commit(forget_custom_domains)
    branding.refresh_from_db()
    return branding


def branding_domains_recheck(*, now=None) -> dict[str, int]:
    """Daily: look for every served domain's proof again. Seen → ``domain_checked_at``
    moves on. Gone (no such name, or no matching value) for longer than
    ``CREWBUILDER_DOMAIN_GRACE_DAYS`` since it was last seen → no longer served (it
    becomes a claim again, audited). A failed lookup decides nothing."""
    now = now or timezone.now()
    grace = timedelta(days=settings.CREWBUILDER_DOMAIN_GRACE_DAYS)
    counts = {"seen": 0, "missing": 0, "unverified": 0, "lookup_failed": 0}
    served = OrganizationBranding.objects.filter(
        custom_domain__isnull=False, domain_verified_at__isnull=False
    ).exclude(custom_domain="")
    for branding in served.select_related("organization").iterator():
        domain = branding.custom_domain or ""
        try:
            proved = domain_proved(domain=domain, token=branding.domain_token)
        except DomainLookupFailed:
            counts["lookup_failed"] += 1
            continue
        if proved:
            counts["seen"] += 1
            OrganizationBranding.objects.filter(pk=branding.pk).update(domain_checked_at=now)
            continue
        counts["missing"] += 1
        last_seen = branding.domain_checked_at or branding.domain_verified_at
        if last_seen is not None and now - last_seen < grace:
            continue
        with transaction.atomic():
            updated = OrganizationBranding.objects.filter(
                pk=branding.pk, custom_domain=domain
            ).update(
                custom_domain=None,
                domain_claim=domain,
                domain_verified_at=None,
                updated_at=now,
            )
            if updated:
                counts["unverified"] += 1
                audit_record(
                    organization=branding.organization,
                    actor=None,
                    action="branding.domain_unverified",
                    target=branding.organization,
                    metadata={"custom_domain": domain, "reason": "TXT proof gone"},
                )
                transaction.on_commit(forget_custom_domains)
        logger.warning("custom domain %s lost its TXT proof; no longer served", domain)
    return counts
