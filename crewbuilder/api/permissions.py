"""What an API token may do: plan, scope and the creator's role, checked on every request.

- the organisation's plan must include API access (billing's ``entitlements_for``), else
  403 ``plan_not_allowed`` naming the plan that does;
- a ``read`` token may only use safe methods (403 ``insufficient_scope``);
- the token acts as its creator, so the creator's *current* role must allow the view's
  capability (``required_capabilities`` per method, ``Cap.VIEW`` by default) via the one
  permission matrix.
"""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.permissions import SAFE_METHODS, BasePermission

from accounts.models import ApiToken
from accounts.permissions import Cap, can
from crewbuilder.api.tokens import api_access_denied_message, api_token_has_api_access


class ApiTokenPermission(BasePermission):
    def has_permission(self, request, view) -> bool:
        token = request.auth
        if not isinstance(token, ApiToken):
            return False  # DRF answers 401 with WWW-Authenticate: Bearer
        allowed, plan_name = api_token_has_api_access(token)
        if not allowed:
            raise exceptions.PermissionDenied(
                api_access_denied_message(plan_name=plan_name), code="plan_not_allowed"
            )
        if request.method not in SAFE_METHODS and token.scope != ApiToken.Scope.READ_WRITE:
            raise exceptions.PermissionDenied(
                "This API token is read-only; create a read & write token to make changes.",
                code="insufficient_scope",
            )
        capability = getattr(view, "required_capabilities", {}).get(request.method, Cap.VIEW)
        if not can(getattr(token, "creator_role", None), capability):
            raise exceptions.PermissionDenied(
                "The role of the member who created this token does not allow that.",
                code="forbidden",
            )
        return True
