"""White-label helpers: logo validation and custom-domain host matching.

A logo is accepted only if its first bytes say PNG or JPEG *and* Pillow decodes it; it is then
re-encoded as PNG, which drops metadata and anything smuggled after the image data. SVG is
refused outright (it can carry script).
"""

from __future__ import annotations

import io
import re

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError

from crewbuilder.errors import REDIS_UNAVAILABLE
from crewbuilder.outage import degraded

LOGO_MAX_BYTES = 512 * 1024
LOGO_MAX_SIDE = 2048
LOGO_OUTPUT_MAX_SIDE = 512
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"
COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
HOSTNAME_RE = re.compile(
    r"^(?=.{4,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$"
)
DOMAINS_CACHE_KEY = "branding:custom-domains:v2"


def logo_to_png(data: bytes) -> bytes:
    """Validate an uploaded logo and return it re-encoded as a PNG (at most 512 px a side)."""
    from PIL import Image, UnidentifiedImageError

    if len(data) > LOGO_MAX_BYTES:
        raise ValidationError({"logo": f"The logo must be at most {LOGO_MAX_BYTES // 1024} KB."})
    if data.startswith(PNG_MAGIC):
        expected = "PNG"
    elif data.startswith(JPEG_MAGIC):
        expected = "JPEG"
    else:
        raise ValidationError({"logo": "Upload a PNG or JPEG image (SVG is not accepted)."})
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.format != expected:
                raise ValidationError({"logo": "The file is not the image its header claims."})
            if max(probe.size) > LOGO_MAX_SIDE:
                raise ValidationError(
                    {"logo": f"The logo must be at most {LOGO_MAX_SIDE}×{LOGO_MAX_SIDE} pixels."}
                )
            probe.verify()
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            image = image.convert("RGBA")
            image.thumbnail((LOGO_OUTPUT_MAX_SIDE, LOGO_OUTPUT_MAX_SIDE))
            out = io.BytesIO()
            image.save(out, format="PNG", optimize=True)
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        OSError,
        SyntaxError,
        ValueError,
    ) as exc:
        raise ValidationError(
            {"logo": "That image could not be read. Upload a valid PNG or JPEG."}
        ) from exc
    return out.getvalue()


def normalise_host(host: str) -> str:
    """Lower-case host without port or trailing dot."""
    host = (host or "").strip().lower().rstrip(".")
    if host.startswith("["):  # IPv6 literal
        return host
    return host.rsplit(":", 1)[0] if ":" in host else host


def validate_custom_domain(value: str) -> str:
    host = normalise_host(value)
    if not host:
        return ""
    if not HOSTNAME_RE.match(host):
        raise ValidationError({"custom_domain": "Enter a host name like crews.example.com."})
    static = {
        normalise_host(h) for h in getattr(settings.ALLOWED_HOSTS, "static", settings.ALLOWED_HOSTS)
    }
    if host in static or any(h.startswith(".") and host.endswith(h) for h in static):
        raise ValidationError({"custom_domain": "That host name belongs to CrewBuilder itself."})
    return host


def custom_domains() -> frozenset[str]:
    """Every *verified* custom domain (DNS TXT proof, accounts/domains.py); a claim is
    never served. Cached; cleared whenever branding or a verification changes."""
    try:
        domains = cache.get(DOMAINS_CACHE_KEY)
    except REDIS_UNAVAILABLE as exc:  # Redis down: read them from the database
        degraded("custom_domains_cache", exc)
        return _custom_domains_from_database()
    if domains is None:
        domains = _custom_domains_from_database()
        try:
            cache.set(DOMAINS_CACHE_KEY, domains, 300)
        except REDIS_UNAVAILABLE as exc:
            degraded("custom_domains_cache", exc)
    return domains


def _custom_domains_from_database() -> frozenset[str]:
    from accounts.models import OrganizationBranding

    return frozenset(
        OrganizationBranding.objects.exclude(custom_domain__isnull=True)
        .exclude(custom_domain="")
        .filter(domain_verified_at__isnull=False)
        .values_list("custom_domain", flat=True)
    )


def forget_custom_domains() -> None:
    try:
        cache.delete(DOMAINS_CACHE_KEY)
    except REDIS_UNAVAILABLE as exc:  # entries expire within 300 s anyway
        degraded("custom_domains_cache", exc)
