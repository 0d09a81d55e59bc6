"""``/settings/webhooks/``: owners and admins register endpoints, see the delivery log,
resend, rotate the secret, enable/disable and delete. The secret is rendered once in the
response to the POST that made it (never in the session, a message or a URL), with
``Cache-Control: no-store``, like API tokens."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts import selectors as account_selectors
from accounts.http import MemberRequest, UserRequest
from accounts.permissions import Cap
from accounts.web import NOT_FOUND, forbidden, form_errors_add, organization_view
from crewbuilder.webhooks import selectors, services
from crewbuilder.webhooks.forms import EndpointForm, RotateForm
from crewbuilder.webhooks.models import WebhookDelivery, WebhookEndpoint


def _endpoint_for(request: HttpRequest, pk: int) -> WebhookEndpoint:
    return account_selectors.get_for_org_or_404(
        WebhookEndpoint.objects.select_related("organization"), request, pk=pk
    )


def _list_context(request: MemberRequest, form: EndpointForm, created=None) -> dict:
    allowed, plan_name = services.webhooks_allowed(request.organization)
    return {
        "form": form,
        "endpoints": selectors.webhook_endpoints_of(organization=request.organization),
        "allowed": allowed,
        "plan_name": plan_name,
        "created": created,
    }


MANAGE_DENIED = "Only owners and admins can manage webhooks."


@organization_view(Cap.MANAGE_API_TOKENS, denied=MANAGE_DENIED)
def endpoints(request: MemberRequest) -> HttpResponse:
    form = EndpointForm(request.POST or None)
    if request.method != "POST":
        return render(request, "webhooks/endpoints.html", _list_context(request, form))
    if form.is_valid():
        try:
            created = services.webhook_endpoint_create(
                organization=request.organization, actor=request.user, **form.cleaned_data
            )
        except PermissionDenied as exc:
            raise forbidden(exc) from exc
        except ValidationError as exc:
            form_errors_add(form, exc)
        else:
            response = render(
                request,
                "webhooks/endpoints.html",
                _list_context(request, EndpointForm(), created=created),
            )
            response["Cache-Control"] = "no-store"
            return response
    return render(request, "webhooks/endpoints.html", _list_context(request, form), status=400)


def _detail(request, endpoint, *, form=None, rotate_form=None, new_secret=None, status=200):
    response = render(
        request,
        "webhooks/endpoint.html",
        {
            "endpoint": endpoint,
            "form": form
            or EndpointForm(
                initial={
                    "url": endpoint.url,
                    "events": endpoint.events,
                    "description": endpoint.description,
                }
            ),
            "rotate_form": rotate_form or RotateForm(),
            "deliveries": selectors.recent_deliveries(endpoint=endpoint),
            "new_secret": new_secret,
        },
        status=status,
    )
    if new_secret:
        response["Cache-Control"] = "no-store"
    return response


@organization_view(Cap.MANAGE_API_TOKENS, denied=MANAGE_DENIED, no_organization=NOT_FOUND)
def endpoint_detail(request: MemberRequest, pk: int) -> HttpResponse:
    endpoint = _endpoint_for(request, pk)
    if request.method != "POST":
        return _detail(request, endpoint)
    form = EndpointForm(request.POST)
    if form.is_valid():
        try:
            services.webhook_endpoint_update(
                endpoint=endpoint, actor=request.user, **form.cleaned_data
            )
        except PermissionDenied as exc:
            raise forbidden(exc) from exc
        except ValidationError as exc:
            form_errors_add(form, exc)
        else:
            messages.success(request, "Endpoint saved.")
            return redirect("webhooks:detail", pk=endpoint.pk)
    return _detail(request, endpoint, form=form, status=400)


@login_required
@require_POST
def endpoint_rotate(request: UserRequest, pk: int) -> HttpResponse:
    endpoint = _endpoint_for(request, pk)
    form = RotateForm(request.POST)
    if not form.is_valid():
        return _detail(request, endpoint, rotate_form=form, status=400)
    try:
        result = services.webhook_endpoint_rotate_secret(
            endpoint=endpoint, actor=request.user, overlap_hours=form.cleaned_data["overlap_hours"]
        )
    except PermissionDenied as exc:
        raise forbidden(exc) from exc
    except ValidationError as exc:
        form_errors_add(form, exc)
        return _detail(request, endpoint, rotate_form=form, status=400)
    return _detail(request, result.endpoint, new_secret=result.secret)


@login_required
@require_POST
def endpoint_toggle(request: UserRequest, pk: int) -> HttpResponse:
    endpoint = _endpoint_for(request, pk)
    try:
        services.webhook_endpoint_update(
            endpoint=endpoint, actor=request.user, enabled=not endpoint.enabled
        )
    except PermissionDenied as exc:
        raise forbidden(exc) from exc
    messages.success(request, "Endpoint disabled." if endpoint.enabled else "Endpoint enabled.")
    return redirect("webhooks:detail", pk=endpoint.pk)


@login_required
@require_POST
def endpoint_delete(request: UserRequest, pk: int) -> HttpResponse:
    endpoint = _endpoint_for(request, pk)
    try:
        services.webhook_endpoint_delete(endpoint=endpoint, actor=request.user)
    except PermissionDenied as exc:
        raise forbidden(exc) from exc
    messages.success(request, f"Endpoint {endpoint.url} deleted.")
    return redirect("webhooks:list")


@login_required
@require_POST
def delivery_resend(request: UserRequest, pk: int, delivery_pk: int) -> HttpResponse:
    endpoint = _endpoint_for(request, pk)
    delivery = (
        WebhookDelivery.objects.select_related("event", "endpoint__organization")
        .filter(endpoint=endpoint, pk=delivery_pk)
        .first()
    )
    if delivery is None:
        return render(request, "404.html", status=404)
    try:
        again = services.webhook_delivery_resend(delivery=delivery, actor=request.user)
    except PermissionDenied as exc:
        raise forbidden(exc) from exc
    except ValidationError as exc:
        message = " ".join(m for ms in exc.message_dict.values() for m in ms)
        if request.htmx:
            return HttpResponse(message, status=400, content_type="text/plain")
        messages.error(request, message)
        return redirect("webhooks:detail", pk=endpoint.pk)
    if request.htmx:
        again.refresh_from_db()
        return render(request, "webhooks/_delivery_row.html", {"d": again, "endpoint": endpoint})
    messages.success(request, f"Event {delivery.event.public_id} queued again.")
    return redirect("webhooks:detail", pk=endpoint.pk)
