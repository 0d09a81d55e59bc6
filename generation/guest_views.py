"""Pages for generating without registration (see generation/guest.py). The templates
(``billing/guest_*.html``) and URL names (``billing:guest_*``) keep their names."""

from __future__ import annotations

import logging

from allauth.account.adapter import get_adapter
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.http import UserRequest
from accounts.middleware import SESSION_KEY
from billing import services
from billing import stripe_gateway as gateway
from billing.forms import GuestStartForm
from billing.models import GuestPass
from generation import guest
from generation.selectors import (
    ZipNotReady,
    generation_zip,
    generation_zip_filename,
    generations_for,
)

logger = logging.getLogger("crewbuilder.billing")


def _apply(form: GuestStartForm, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def _client_ip(request: HttpRequest) -> str:
    # allauth's answer, which honours ALLAUTH_TRUSTED_PROXY_COUNT behind a proxy: the same
    # address its login throttle uses.
    try:
        return get_adapter(request).get_client_ip(request)
    except PermissionDenied:
        return request.META.get("REMOTE_ADDR", "") or "unknown"


def guest_start(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("generation:generate")
    form = GuestStartForm(request.POST or None)
    context = {"form": form, "billing_enabled": gateway.is_configured()}
    if request.method != "POST":
        return render(request, "billing/guest_start.html", context)
    if form.is_valid():
        data = form.cleaned_data
        ip = _client_ip(request)
        try:
            if data["pay_with"] == "one_time":
                _pass, token = guest.guest_generation_start(
                    requirement=data["requirement"],
                    provider=data["provider"],
                    api_key=data["api_key"],
                    ip=ip,
                )
                return redirect("billing:guest_result", token=token)
            url = guest.guest_checkout_start(
                requirement=data["requirement"],
                provider=data["provider"],
                ip=ip,
                result_url=request.build_absolute_uri("/try/") + "{token}/",
                cancel_url=request.build_absolute_uri(reverse("billing:guest_start")),
            )
            redirect_303 = HttpResponseRedirect(url)
            redirect_303.status_code = 303
            return redirect_303
        except ValidationError as exc:
            _apply(form, exc)
        except guest.GuestRateLimited as exc:
            context["error"] = exc.message
            response = render(request, "billing/guest_start.html", context, status=429)
            response["Retry-After"] = "3600"
            return response
        except services.BillingError as exc:
            context["error"] = exc.message
        except gateway.GatewayError:
            context["error"] = "Stripe could not be reached. Please try again in a minute."
            return render(request, "billing/guest_start.html", context, status=502)
    return render(request, "billing/guest_start.html", context, status=400)


def _guest_for(token: str) -> GuestPass:
    found = guest.guest_pass_for_token(token)
    if found is None:
        raise Http404("Not found.")
    return found


def _generation_of(found: GuestPass):
    if found.generation_id is None:
        return None
    return generations_for(organization=found.organization).filter(pk=found.generation_id).first()


def guest_result(request: HttpRequest, token: str) -> HttpResponse:
    found = _guest_for(token)
    g = _generation_of(found)
    return render(
        request,
        "billing/guest_result.html",
        {
            "guest": found,
            "g": g,
            "token": token,
            "polling": g is None or not g.is_finished,
            "keep_days": settings.BILLING_GUEST_KEEP_DAYS,
        },
    )


def guest_download(request: HttpRequest, token: str) -> HttpResponse:
    found = _guest_for(token)
    g = _generation_of(found)
    if g is None:
        raise Http404("Not ready.")
    try:
        data = generation_zip(g)
    except ZipNotReady as exc:
        raise Http404("Not ready.") from exc
    response = HttpResponse(data, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{generation_zip_filename(g)}"'
    return response


@login_required
@require_POST
def guest_keep(request: UserRequest, token: str) -> HttpResponse:
    found = _guest_for(token)
    try:
        org = guest.guest_pass_claim(guest=found, user=request.user)
    except (ValidationError, PermissionDenied) as exc:
        g = _generation_of(found)
        message = " ".join(getattr(exc, "messages", [str(exc)]))
        return render(
            request,
            "billing/guest_result.html",
            {"guest": found, "g": g, "token": token, "error": message, "polling": False},
            status=400,
        )
    request.session[SESSION_KEY] = org.pk
    return redirect(f"/generations/{found.generation_id}/")
