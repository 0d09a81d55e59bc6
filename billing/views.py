from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import cast

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from accounts.http import MemberRequest, OrgRequest
from accounts.permissions import Cap, can
from accounts.web import forbidden, organization_view
from billing import checkout, selectors, services
from billing import stripe_gateway as gateway
from billing.forms import CreditsCheckoutForm, PlanCheckoutForm
from billing.webhooks import stripe_event_receive
from crewbuilder.metrics import WEBHOOKS_RECEIVED
from crewbuilder.reporting.charts import daily_usage_charts

logger = logging.getLogger("crewbuilder.billing")


def pricing(request: OrgRequest) -> HttpResponse:
    current = None
    if getattr(request, "organization", None) is not None:
        current = selectors.entitlements_for(request.organization).plan_slug
    unit_cents, _currency = selectors.credit_price()
    return render(
        request,
        "billing/pricing.html",
        {
            "plans": selectors.plans_for_pricing(),
            "billing_enabled": gateway.is_configured(),
            "current_plan": current,
            "credit_price_cents": unit_cents,
        },
    )


def _settings_context(request: MemberRequest) -> dict:
    org = request.organization
    ent = selectors.entitlements_for(org)
    usage = selectors.usage_for(org)
    account = selectors.billing_account_of(org)
    history = selectors.usage_daily_history(org)
    unit_cents, _currency = selectors.credit_price()
    return {
        "entitlements": ent,
        "usage": usage,
        "account": account,
        "percent": (min(100, round(100 * usage["used"] / usage["limit"])) if usage["limit"] else 0),
        "chart": daily_usage_charts(history),
        "history_total": sum(count for _, count in history),
        "credit_entries": selectors.credit_entries_for(org, limit=10),
        "plans": selectors.plans_for_pricing(),
        "can_manage": can(request.membership.role, Cap.MANAGE_BILLING),
        "billing_enabled": gateway.is_configured(),
        "has_customer": bool(account and account.stripe_customer_id),
        "credit_form": CreditsCheckoutForm(),
        "credit_price_cents": unit_cents,
    }


@organization_view()
def billing_settings(request: MemberRequest) -> HttpResponse:
    return render(request, "billing/settings.html", _settings_context(request))


def _error_page(request: MemberRequest, message: str, status: int) -> HttpResponse:
    if status == 403:
        raise forbidden(message)
    context = _settings_context(request)
    context["error"] = message
    return render(request, "billing/settings.html", context, status=status)


def _start(request: MemberRequest, start) -> HttpResponse:
    """Run a service returning a Stripe-hosted URL and send the browser there (303)."""
    try:
        url = start()
    except PermissionDenied as exc:
        return _error_page(request, str(exc), 403)
    except services.BillingError as exc:
        return _error_page(request, exc.message, 400)
    except gateway.GatewayError as exc:
        logger.warning("stripe unavailable for a billing page", extra={"status": exc.stripe_status})
        return _error_page(
            request, "Stripe could not be reached. Please try again in a minute.", 502
        )
    response = HttpResponseRedirect(url)
    response.status_code = 303
    return response


def _absolute(request: HttpRequest, name: str, query: str = "") -> str:
    return request.build_absolute_uri(reverse(name)) + query


@organization_view(no_organization="billing:settings")
@require_POST
def checkout_subscription(request: MemberRequest) -> HttpResponse:
    form = PlanCheckoutForm(request.POST)
    if not form.is_valid():
        return _error_page(request, "Choose a plan.", 400)
    return _start(
        request,
        lambda: checkout.checkout_subscription_start(
            organization=request.organization,
            actor=request.user,
            plan_slug=form.cleaned_data["plan"],
            success_url=_absolute(request, "billing:settings", "?checkout=success"),
            cancel_url=_absolute(request, "billing:pricing"),
        ),
    )


@organization_view(no_organization="billing:settings")
@require_POST
def checkout_credits(request: MemberRequest) -> HttpResponse:
    form = CreditsCheckoutForm(request.POST)
    if not form.is_valid():
        return _error_page(
            request, " ".join(cast(Iterable[str], form.errors.get("quantity", ["Invalid."]))), 400
        )
    return _start(
        request,
        lambda: checkout.checkout_credits_start(
            organization=request.organization,
            actor=request.user,
            quantity=form.cleaned_data["quantity"],
            success_url=_absolute(request, "billing:settings", "?credits=success"),
            cancel_url=_absolute(request, "billing:settings"),
        ),
    )


@organization_view(no_organization="billing:settings")
@require_POST
def portal(request: MemberRequest) -> HttpResponse:
    return _start(
        request,
        lambda: checkout.billing_portal_url(
            organization=request.organization,
            actor=request.user,
            return_url=_absolute(request, "billing:settings"),
        ),
    )


@csrf_exempt
@require_POST
def webhook(request: HttpRequest) -> HttpResponse:
    """Stripe webhook: verified signature (never skippable), then stored and handled once.
    400 on a bad signature, 200 on success or duplicate, 500 on a real failure (Stripe
    retries)."""
    try:
        event = gateway.webhook_event_construct(
            payload=request.body,
            signature=request.headers.get("Stripe-Signature"),
            secret=settings.STRIPE_WEBHOOK_SECRET,
        )
    except gateway.SignatureInvalid:
        WEBHOOKS_RECEIVED.labels(source="stripe", outcome="invalid_signature").inc()
        return HttpResponse("invalid signature", status=400, content_type="text/plain")
    except gateway.MalformedEvent:
        WEBHOOKS_RECEIVED.labels(source="stripe", outcome="malformed").inc()
        return HttpResponse("malformed event", status=400, content_type="text/plain")
    try:
        outcome = stripe_event_receive(event=event)
    except Exception:
        WEBHOOKS_RECEIVED.labels(source="stripe", outcome="failed").inc()
        logger.exception("stripe webhook handling failed", extra={"event_id": event.get("id")})
        return HttpResponse("handler failed", status=500, content_type="text/plain")
    WEBHOOKS_RECEIVED.labels(source="stripe", outcome="processed").inc()
    return HttpResponse(outcome, status=200, content_type="text/plain")
