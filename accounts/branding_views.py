"""White-label settings page and the public logo endpoint."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import condition, require_GET, require_http_methods

from accounts import domains, selectors, services
from accounts.branding import COLOR_RE, LOGO_MAX_BYTES
from accounts.forms import BrandingForm
from accounts.http import MemberRequest
from accounts.models import OrganizationBranding
from accounts.permissions import Cap
from accounts.web import FORBID, forbidden, form_errors_add, organization_view


def _initial(branding: OrganizationBranding | None) -> dict:
    if branding is None:
        return {}
    return {
        "brand_name": branding.brand_name,
        "primary_color": branding.primary_color,
        "accent_color": branding.accent_color,
        "custom_domain": domains.pending_domain(branding) or branding.custom_domain or "",
    }


def _domain_status(branding: OrganizationBranding | None) -> dict | None:
    """What the page says about the custom domain: the served one, and the claim waiting
    for its TXT record (name and value to publish)."""
    if branding is None or not (branding.domain_claim or branding.custom_domain):
        return None
    token = domains.branding_domain_token(branding)
    pending = domains.pending_domain(branding)
    return {
        "served": branding.custom_domain if branding.domain_verified_at else "",
        "verified_at": branding.domain_verified_at,
        "pending": pending,
        "record_name": domains.challenge_name(pending or branding.custom_domain or ""),
        "record_value": domains.challenge_value(token),
    }


def _preview(data: Mapping[str, Any]) -> dict:
    """Only well-formed colours reach the preview's style attribute."""

    def colour(value: str, default: str) -> str:
        return value if value and COLOR_RE.match(value) else default

    return {
        "brand_name": (data.get("brand_name") or "").strip() or "CrewBuilder",
        "primary_color": colour(data.get("primary_color") or "", "#4f46e5"),
        "accent_color": colour(data.get("accent_color") or "", "#067647"),
    }


@organization_view(
    Cap.MANAGE_BRANDING, denied="Only owners and admins manage branding.", no_organization=FORBID
)
@require_http_methods(["GET", "POST"])
def branding(request: MemberRequest) -> HttpResponse:
    org = request.organization
    entitled = selectors.plan_entitlements(org).white_label
    saved = OrganizationBranding.objects.filter(organization=org).defer("logo_png").first()
    form = BrandingForm(initial=_initial(saved))
    status = 200
    if request.method == "POST":
        if not entitled:
            raise forbidden("White-label branding is part of the Enterprise plan.")
        form = BrandingForm(request.POST, request.FILES)
        if "verify" in request.POST:
            form = BrandingForm(_initial(saved))  # the saved settings, for the page
            form.is_valid()
            try:
                domains.branding_domain_verify(organization=org, actor=request.user)
            except ValidationError as exc:
                form_errors_add(form, exc)
            except PermissionDenied as exc:
                raise forbidden(exc) from exc
            else:
                from django.contrib import messages

                messages.success(request, "Domain verified: it now shows your brand.")
                return redirect("accounts:branding")
        elif form.is_valid() and "preview" not in request.POST:
            data = form.cleaned_data
            upload = data.get("logo")
            try:
                services.branding_update(
                    organization=org,
                    actor=request.user,
                    brand_name=data["brand_name"],
                    primary_color=data["primary_color"].strip(),
                    accent_color=data["accent_color"].strip(),
                    custom_domain=data["custom_domain"],
                    # read one byte past the limit: enough to refuse, never the whole file
                    logo=upload.read(LOGO_MAX_BYTES + 1) if upload else None,
                    remove_logo=data["remove_logo"],
                )
            except ValidationError as exc:
                form_errors_add(form, exc)
            except PermissionDenied as exc:
                raise forbidden(exc) from exc
            else:
                from django.contrib import messages

                messages.success(request, "Branding saved.")
                return redirect("accounts:branding")
        status = 400 if form.errors else 200
    preview_source = form.data if form.is_bound else form.initial
    return render(
        request,
        "accounts/branding.html",
        {
            "form": form,
            "entitled": entitled,
            "saved": saved,
            "domain": _domain_status(saved),
            "preview": _preview(preview_source),
        },
        status=status,
    )


def _logo_etag(request: HttpRequest, org_uuid) -> str | None:
    return selectors.branding_logo_digest(org_uuid)


@require_GET
@condition(etag_func=_logo_etag)
def branding_logo(request: HttpRequest, org_uuid) -> HttpResponse:
    """The logo from the database. ``?v=<digest prefix>`` (as the pages link it) names one
    version, so it may be cached for a year; the bare URL is revalidated after 5 minutes
    with its ETag (a 304 costs no image read)."""
    found = selectors.branding_logo(org_uuid)
    if found is None:
        raise Http404("No logo.")
    data, digest = found
    response = HttpResponse(data, content_type="image/png")
    if request.GET.get("v") and request.GET["v"] == digest[:16]:
        response["Cache-Control"] = "public, max-age=31536000, immutable"
    else:
        response["Cache-Control"] = "public, max-age=300"
    response["X-Content-Type-Options"] = "nosniff"
    return response
