"""``/settings/api-tokens/``: owners and admins create, list and revoke API tokens.

The plaintext token is rendered once in the response to the POST that created it (never
put in the session, a flash message or a URL) with ``Cache-Control: no-store``.
"""

from __future__ import annotations

from datetime import UTC, datetime, time

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts import selectors
from accounts.http import MemberRequest, UserRequest
from accounts.models import ApiToken
from accounts.permissions import Cap
from accounts.web import forbidden, form_errors_add, organization_view
from crewbuilder.api import tokens


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        max_length=tokens.NAME_MAX,
        widget=forms.TextInput(attrs={"placeholder": "e.g. Zapier, CI pipeline"}),
    )
    scope = forms.ChoiceField(
        choices=ApiToken.Scope.choices, initial=ApiToken.Scope.READ_WRITE, widget=forms.RadioSelect
    )
    expires_on = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Optional. The token stops working at 00:00 UTC on this day.",
    )

    def clean_expires_on(self):
        day = self.cleaned_data.get("expires_on")
        if day is not None and day <= timezone.now().date():
            raise ValidationError("Choose a day after today.")
        return day

    def expires_at(self) -> datetime | None:
        day = self.cleaned_data.get("expires_on")
        return datetime.combine(day, time.min, tzinfo=UTC) if day else None


MANAGE_DENIED = "Only owners and admins can manage API tokens."


def _context(request: MemberRequest, form: ApiTokenForm, new_token: str | None = None) -> dict:
    org = request.organization
    allowed, plan_name = tokens.organization_has_api_access(org)
    rows = list(tokens.api_tokens_for(organization=org))
    for row in rows:
        row.is_active = tokens.api_token_is_active(row)  # type: ignore[attr-defined]  # for the template
    return {
        "form": form,
        "tokens": rows,
        "new_token": new_token,
        "api_allowed": allowed,
        "plan_message": "" if allowed else tokens.api_access_denied_message(plan_name=plan_name),
    }


@organization_view(Cap.MANAGE_API_TOKENS, denied=MANAGE_DENIED)
def api_tokens(request: MemberRequest) -> HttpResponse:
    form = ApiTokenForm(request.POST or None)
    if request.method != "POST":
        return render(request, "accounts/api_tokens.html", _context(request, form))
    if form.is_valid():
        try:
            token, raw = tokens.api_token_create(
                organization=request.organization,
                actor=request.user,
                name=form.cleaned_data["name"],
                scope=form.cleaned_data["scope"],
                expires_at=form.expires_at(),
            )
        except PermissionDenied as exc:
            raise forbidden(exc) from exc
        except ValidationError as exc:
            form_errors_add(form, exc)
        else:
            response = render(
                request, "accounts/api_tokens.html", _context(request, ApiTokenForm(), raw)
            )
            response["Cache-Control"] = "no-store"
            return response
    return render(request, "accounts/api_tokens.html", _context(request, form), status=400)


@login_required
@require_POST
def api_token_revoke(request: UserRequest, pk: int) -> HttpResponse:
    token = selectors.get_for_org_or_404(
        ApiToken.objects.select_related("organization"), request, pk=pk
    )
    try:
        tokens.api_token_revoke(token=token, actor=request.user)
    except PermissionDenied as exc:
        raise forbidden(exc) from exc
    messages.success(request, f"Token “{token.name}” revoked; it no longer works.")
    return redirect("api_tokens")
