"""Your data: export as a zip, delete your account, delete an organisation."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from accounts import privacy
from accounts.forms import AccountDeleteForm, OrganizationDeleteForm
from accounts.http import MemberRequest, UserRequest
from accounts.middleware import SESSION_KEY
from accounts.permissions import Cap
from accounts.web import FORBID, forbidden, form_errors_add, organization_view
from crewbuilder.privacy.export import user_export_zip


def _account_context(request: UserRequest, form: AccountDeleteForm | None = None) -> dict:
    return {
        "delete_form": form or AccountDeleteForm(user=request.user),
        "blockers": privacy.account_deletion_blockers(user=request.user),
        "confirm_text": AccountDeleteForm.CONFIRM_TEXT,
    }


@login_required
@require_GET
def account(request: UserRequest) -> HttpResponse:
    return render(request, "accounts/account.html", _account_context(request))


@login_required
@require_GET
def account_export(request: UserRequest) -> HttpResponse:
    payload = user_export_zip(user=request.user)
    stamp = timezone.now().strftime("%Y%m%d")
    response = HttpResponse(payload, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="crewbuilder-export-{stamp}.zip"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_http_methods(["POST"])
def account_delete(request: UserRequest) -> HttpResponse:
    form = AccountDeleteForm(request.POST, user=request.user)
    if form.is_valid():
        try:
            privacy.user_delete(user=request.user, actor=request.user)
        except ValidationError as exc:
            form_errors_add(form, exc)
        else:
            logout(request)
            messages.success(request, "Your account and its data were deleted.")
            return redirect("landing")
    return render(request, "accounts/account.html", _account_context(request, form), status=400)


@organization_view(
    Cap.DELETE_ORG, denied="Only an owner can delete the organisation.", no_organization=FORBID
)
@require_http_methods(["GET", "POST"])
def organization_delete(request: MemberRequest) -> HttpResponse:
    org = request.organization
    form = OrganizationDeleteForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            try:
                privacy.organization_delete(
                    organization=org, actor=request.user, confirm_name=form.cleaned_data["confirm"]
                )
            except ValidationError as exc:
                form_errors_add(form, exc)
            except PermissionDenied as exc:
                raise forbidden(exc) from exc
            else:
                request.session.pop(SESSION_KEY, None)
                messages.success(request, f"{org.name} and all its data were deleted.")
                return redirect("accounts:team")
        return render(
            request, "accounts/organization_delete.html", {"form": form, "org": org}, status=400
        )
    return render(request, "accounts/organization_delete.html", {"form": form, "org": org})
