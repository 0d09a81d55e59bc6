from __future__ import annotations

from typing import cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts import selectors, services
from accounts.forms import InvitationForm, OrganizationForm, RoleForm, SwitchOrganizationForm
from accounts.http import MemberRequest, UserRequest
from accounts.middleware import SESSION_KEY
from accounts.models import Invitation, Membership
from accounts.permissions import INVITABLE_ROLES, Cap, can, can_grant
from accounts.web import forbidden, form_errors_add, organization_view


def _error_text(exc: ValidationError | PermissionDenied) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc) or "You are not allowed to do that."


def _team_context(request: MemberRequest, invite_form: InvitationForm | None = None) -> dict:
    org = request.organization
    return {
        "members": selectors.organization_members(org),
        "invitations": selectors.pending_invitations(org),
        "invite_form": invite_form or _invite_form(request),
        "role_choices": Membership._meta.get_field("role").choices,
        "seat_limit": services.organization_seat_limit(organization=org),
        "can_manage": can(request.membership.role, Cap.MANAGE_MEMBERS),
        "can_change_roles": can(request.membership.role, Cap.CHANGE_ROLES),
        "memberships": selectors.memberships_for(request.user),
    }


def _invite_form(request: MemberRequest, data=None) -> InvitationForm:
    role = request.membership.role
    return InvitationForm(data, grantable=[r for r in INVITABLE_ROLES if can_grant(role, r)])


@organization_view()
def team(request: MemberRequest) -> HttpResponse:
    status = 200
    form = _invite_form(request)
    if request.method == "POST":
        form = InvitationForm(request.POST)
        if form.is_valid():
            try:
                invitation, _token = services.invitation_create(
                    organization=request.organization,
                    actor=request.user,
                    email=form.cleaned_data["email"],
                    role=form.cleaned_data["role"],
                )
            except ValidationError as exc:
                form_errors_add(form, exc)
            except PermissionDenied as exc:
                raise forbidden(_error_text(exc)) from exc
            else:
                messages.success(request, f"Invitation sent to {invitation.email}.")
                return redirect("accounts:team")
        status = 400
    return render(request, "accounts/team.html", _team_context(request, form), status=status)


def _membership_for(request: HttpRequest, pk: int) -> Membership:
    return selectors.get_for_org_or_404(
        Membership.objects.select_related("user", "organization"), request, pk=pk
    )


def _invitation_for(request: HttpRequest, pk: int) -> Invitation:
    return selectors.get_for_org_or_404(
        Invitation.objects.select_related("organization"), request, pk=pk
    )


def _run(request: UserRequest, action, success: str) -> HttpResponse:
    try:
        action()
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, _error_text(exc))
        status = 403 if isinstance(exc, PermissionDenied) else 400
        # the caller found the object in the current organisation, so there is one
        context = _team_context(cast(MemberRequest, request))
        return render(request, "accounts/team.html", context, status=status)
    messages.success(request, success)
    return redirect("accounts:team")


@login_required
@require_POST
def member_role(request: UserRequest, pk: int) -> HttpResponse:
    membership = _membership_for(request, pk)
    request = cast(MemberRequest, request)  # found in the current organisation, so it has one
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a valid role.")
        return render(request, "accounts/team.html", _team_context(request), status=400)
    return _run(
        request,
        lambda: services.membership_change_role(
            membership=membership, actor=request.user, role=form.cleaned_data["role"]
        ),
        f"{membership.user.email} is now {form.cleaned_data['role']}.",
    )


@login_required
@require_POST
def member_remove(request: UserRequest, pk: int) -> HttpResponse:
    membership = _membership_for(request, pk)
    if membership.user_id == request.user.pk:
        return leave(request)
    return _run(
        request,
        lambda: services.membership_remove(membership=membership, actor=request.user),
        f"{membership.user.email} was removed.",
    )


@login_required
@require_POST
def leave(request: UserRequest) -> HttpResponse:
    membership = request.membership
    if membership is None:
        return redirect("landing")
    request = cast(MemberRequest, request)  # a membership comes with its organisation
    org_name = membership.organization.name
    try:
        services.membership_remove(membership=membership, actor=request.user)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, _error_text(exc))
        return render(request, "accounts/team.html", _team_context(request), status=400)
    request.session.pop(SESSION_KEY, None)
    messages.success(request, f"You left {org_name}.")
    return redirect("accounts:team")


@login_required
@require_POST
def invitation_revoke(request: UserRequest, pk: int) -> HttpResponse:
    invitation = _invitation_for(request, pk)
    return _run(
        request,
        lambda: services.invitation_revoke(invitation=invitation, actor=request.user),
        f"Invitation for {invitation.email} revoked.",
    )


def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    invitation = services.invitation_for_token(token)
    if invitation is None:
        return render(
            request,
            "accounts/invitation.html",
            {"error": "This invitation link is not valid."},
            status=404,
        )
    if not request.user.is_authenticated:
        request.session["pending_invitation_token"] = token
        return render(
            request, "accounts/invitation.html", {"invitation": invitation, "anonymous": True}
        )
    if request.method == "POST":
        try:
            membership = services.invitation_accept(token=token, user=request.user)
        except (ValidationError, PermissionDenied) as exc:
            status = 403 if isinstance(exc, PermissionDenied) else 400
            return render(
                request,
                "accounts/invitation.html",
                {"invitation": invitation, "error": _error_text(exc)},
                status=status,
            )
        request.session[SESSION_KEY] = membership.organization_id
        messages.success(request, f"Welcome to {membership.organization.name}.")
        return redirect("accounts:team")
    error = None
    if invitation.status != Invitation.Status.PENDING:
        error = "This invitation is no longer valid."
    elif invitation.is_expired:
        error = "This invitation has expired. Ask for a new one."
    return render(request, "accounts/invitation.html", {"invitation": invitation, "error": error})


@login_required
@require_POST
def organization_switch(request: UserRequest) -> HttpResponse:
    form = SwitchOrganizationForm(request.POST)
    if form.is_valid():
        org_id = form.cleaned_data["organization"]
        if selectors.memberships_for(request.user).filter(organization_id=org_id).exists():
            request.session[SESSION_KEY] = org_id
            return redirect(
                # _safe_next: "next" is there and safe
                cast(str, request.POST.get("next"))
                if _safe_next(request)
                else reverse("accounts:team")
            )
    messages.error(request, "You are not a member of that organisation.")
    return redirect("accounts:team")


def _safe_next(request: HttpRequest) -> bool:
    from django.utils.http import url_has_allowed_host_and_scheme

    nxt = request.POST.get("next")
    return bool(nxt) and url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()})


@login_required
def organization_new(request: UserRequest) -> HttpResponse:
    form = OrganizationForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            org = services.organization_create(name=form.cleaned_data["name"], owner=request.user)
            request.session[SESSION_KEY] = org.pk
            messages.success(request, f"Created {org.name}.")
            return redirect("accounts:team")
        return render(request, "accounts/organization_new.html", {"form": form}, status=400)
    return render(request, "accounts/organization_new.html", {"form": form})
