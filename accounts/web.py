"""What every app's pages share: ``organization_view`` (signed in, in an organisation, with
the capability the page needs) and ``form_errors_add`` (a service's ``ValidationError``
shown on the form that sent the input).

Which check lives where (issue 13, "role checks done once"): a page that nobody without
a capability may even open (the audit log, usage analytics, API tokens, webhooks) and a
form a role may not submit (generate) declare it here, so they refuse before parsing any
input; an action a service performs (invite, store a key, create a token …) is checked
by that service only — the authoritative check, shared with the API, the admin and
commands — and the page shows the service's refusal. No view compares roles itself."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from functools import wraps
from typing import Any, cast

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.forms import BaseForm
from django.http import Http404
from django.http.response import HttpResponseBase
from django.shortcuts import redirect

from accounts.http import MemberRequest, UserRequest
from accounts.permissions import can
from accounts.services import user_onboard
from crewbuilder.errors import ApplicationError

View = Callable[..., HttpResponseBase]

# What a request without an organisation gets.
ONBOARD = "onboard"  # the user's own organisation is created and the page loaded again
FORBID = "forbid"  # 403, like a role without the capability
NOT_FOUND = "not_found"  # 404, like another organisation's object


class Forbidden(ApplicationError):
    """You are not allowed to do that."""

    status = 403
    code = "forbidden"


def forbidden(reason: str | Exception = "") -> Forbidden:
    """The 403 to raise for ``reason`` (a message, or a service's ``PermissionDenied``):
    the one error layer (``crewbuilder.error_pages``) renders it as the 403 page."""
    return Forbidden(str(reason) or "You are not allowed to do that.")


def organization_view(
    capability: str | None = None,
    *,
    denied: str = "",
    methods: Collection[str] | None = None,
    no_organization: str = ONBOARD,
) -> Callable[[View], View]:
    """A page of the signed-in user's current organisation: ``login_required``; without
    an organisation, ``ONBOARD`` (default), ``FORBID``, ``NOT_FOUND`` or a URL name to
    redirect to; with ``capability``, a role without it gets the 403 page with ``denied``
    — on every method, or only on ``methods`` (``{"POST"}``: viewers may look at it)."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: UserRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if request.organization is None:
                if no_organization == FORBID:
                    raise forbidden(denied)
                if no_organization == NOT_FOUND:
                    raise Http404("Not found.")
                if no_organization == ONBOARD:
                    user_onboard(user=request.user)
                    return redirect(request.path)
                return redirect(no_organization)
            # In an organisation, so with a membership (accounts.middleware sets both).
            request = cast(MemberRequest, request)
            if (
                capability is not None
                and (methods is None or request.method in methods)
                and not can(request.membership.role, capability)
            ):
                raise forbidden(denied)
            return view(request, *args, **kwargs)

        return login_required(wrapper)

    return decorate


def form_errors_add(
    form: BaseForm, exc: ValidationError, fields: Mapping[str, str] | None = None
) -> None:
    """Put a service's ``ValidationError`` on ``form``: each field's messages on that
    field (renamed through ``fields`` when the form calls it otherwise), the rest — and a
    message without a field — on the form as a whole."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc.messages)
        return
    for field, errors in exc.message_dict.items():
        name = (fields or {}).get(field, field)
        form.add_error(name if name in form.fields else None, errors)
