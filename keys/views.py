from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts import selectors as account_selectors
from accounts.http import MemberRequest, UserRequest
from accounts.permissions import Cap, can
from accounts.web import forbidden, form_errors_add, organization_view
from keys import selectors, services
from keys.forms import ProviderKeyForm
from keys.models import ProviderKey


def _key_for(request: UserRequest, pk: int) -> ProviderKey:
    """The caller's organisation key or own personal key; anything else is a 404."""
    visible = selectors.provider_keys_visible_to(
        organization=request.organization, user=request.user
    ).select_related("organization")
    return account_selectors.get_for_org_or_404(visible, request, pk=pk)


# the form's fields → the id prefix of their input in keys/_key_table.html
_FIELD_IDS = {"api_key": "key", "label": "label", "replace": "replace"}


def _page(request: MemberRequest, form: ProviderKeyForm, status: int = 200) -> HttpResponse:
    role = request.membership.role
    sections = selectors.api_keys_page_rows(organization=request.organization, user=request.user)
    # The row the posted form belongs to shows its errors (and stays open); the summary at
    # the top links to each field with an error, so a page reloaded without JavaScript
    # says at once what went wrong and where.
    error_links = []
    for rows in sections.values():
        for row in rows:
            row["bound"] = form.is_bound and (
                (form.data.get("provider"), form.data.get("scope"))
                == (row["provider"], row["scope"])
            )
            if row["bound"]:
                for field, prefix in _FIELD_IDS.items():
                    error_links += [
                        (f"{prefix}-{row['scope']}-{row['provider']}", message)
                        for message in form.errors.get(field, [])
                    ]
    return render(
        request,
        "keys/api_keys.html",
        {
            "personal_rows": sections[ProviderKey.Scope.USER],
            "org_rows": sections[ProviderKey.Scope.ORGANIZATION],
            "can_manage_org": can(role, Cap.MANAGE_ORG_KEYS),
            "can_personal": can(role, Cap.GENERATE),
            "form": form,
            "error_links": error_links,
        },
        status=status,
    )


def _replace_refused(exc: services.ProviderKeyExists) -> str:
    key = exc.key
    return (
        f"There is already a saved {key.get_provider_display()} key here ({key.masked}); it "
        "was left unchanged. To replace it, tick “Replace the saved key” and enter the new "
        "key again."
    )


@organization_view()
def api_keys(request: MemberRequest) -> HttpResponse:
    if request.method != "POST":
        return _page(request, ProviderKeyForm())
    form = ProviderKeyForm(request.POST)
    if form.is_valid():
        try:
            key = services.provider_key_store(
                organization=request.organization,
                actor=request.user,
                provider=form.cleaned_data["provider"],
                api_key=form.cleaned_data["api_key"],
                label=form.cleaned_data["label"],
                scope=form.cleaned_data["scope"],
                # never silently: an existing key is replaced only when the box is ticked
                replace=form.cleaned_data["replace"],
            )
        except services.ProviderKeyExists as exc:
            form.add_error("replace", _replace_refused(exc))
            return _page(request, form, status=exc.status)
        except ValidationError as exc:
            form_errors_add(form, exc)
        except PermissionDenied as exc:
            raise forbidden(exc) from exc
        else:
            # key_version starts at 1 on a new row and goes up by one per replacement
            done = (
                f"Replaced the {key.get_provider_display()} key; it is now {key.masked}"
                if key.key_version > 1
                else f"Saved {key}"
            )
            messages.success(request, f"{done}. Use “Test” to check it works.")
            return redirect("keys:api_keys")
    return _page(request, form, status=400)


@login_required
@require_POST
def key_remove(request: UserRequest, pk: int) -> HttpResponse:
    key = _key_for(request, pk)
    try:
        services.provider_key_delete(key=key, actor=request.user)
    except PermissionDenied as exc:
        raise forbidden(exc) from exc
    messages.success(request, f"Removed the {key.get_provider_display()} key.")
    return redirect("keys:api_keys")


@login_required
@require_POST
def key_test(request: UserRequest, pk: int) -> HttpResponse:
    key = _key_for(request, pk)
    try:
        status = services.provider_key_test(key=key, actor=request.user)
    except PermissionDenied as exc:
        raise forbidden(exc) from exc
    if request.htmx:
        return render(request, "keys/_key_status.html", {"key": key})
    label = dict(ProviderKey.Status.choices).get(status, status)
    messages.info(request, f"{key.get_provider_display()} key: {label}.")
    return redirect("keys:api_keys")
