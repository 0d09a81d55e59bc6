"""Who may do what in an organisation: the one permission matrix.

Views, API views and services ask ``can(role, capability)``; nothing else compares roles.
"""

from __future__ import annotations

from accounts.models import Role


class Cap:
    VIEW = "view"
    GENERATE = "generate"
    USE_ORG_KEYS = "use_org_keys"
    MANAGE_ORG_KEYS = "manage_org_keys"
    MANAGE_MEMBERS = "manage_members"
    CHANGE_ROLES = "change_roles"
    MANAGE_BILLING = "manage_billing"
    MANAGE_API_TOKENS = "manage_api_tokens"
    MANAGE_BRANDING = "manage_branding"
    VIEW_AUDIT = "view_audit"
    VIEW_USAGE = "view_usage"
    DELETE_ORG = "delete_org"


_VIEWER = {Cap.VIEW}
_MEMBER = _VIEWER | {Cap.GENERATE, Cap.USE_ORG_KEYS}
_BILLING_MANAGER = _VIEWER | {Cap.MANAGE_BILLING, Cap.VIEW_USAGE}
_ADMIN = _MEMBER | {
    Cap.MANAGE_ORG_KEYS,
    Cap.MANAGE_MEMBERS,
    Cap.MANAGE_API_TOKENS,
    Cap.MANAGE_BRANDING,
    Cap.VIEW_AUDIT,
    Cap.VIEW_USAGE,
}
_OWNER = _ADMIN | {Cap.CHANGE_ROLES, Cap.MANAGE_BILLING, Cap.DELETE_ORG}

MATRIX: dict[str, frozenset[str]] = {
    Role.OWNER: frozenset(_OWNER),
    Role.ADMIN: frozenset(_ADMIN),
    Role.BILLING_MANAGER: frozenset(_BILLING_MANAGER),
    Role.MEMBER: frozenset(_MEMBER),
    Role.VIEWER: frozenset(_VIEWER),
}


def can(role: str | None, capability: str) -> bool:
    return role is not None and capability in MATRIX.get(role, frozenset())


def can_grant(actor_role: str | None, role: str) -> bool:
    """May someone with ``actor_role`` give ``role`` to another person (invite or change)?

    Ownership is never granted by invitation. Whoever may change roles (owners) grants any
    other role; others who manage members may only grant roles strictly weaker than their own, so
    an admin can invite members and viewers but not admins or billing managers (who hold a
    capability admins lack).
    """
    if role not in MATRIX or role == Role.OWNER:
        return False
    if can(actor_role, Cap.CHANGE_ROLES):
        return True
    if not can(actor_role, Cap.MANAGE_MEMBERS):
        return False
    mine = MATRIX.get(actor_role or "", frozenset())
    return MATRIX[role] < mine


INVITABLE_ROLES = [Role.MEMBER, Role.VIEWER, Role.BILLING_MANAGER, Role.ADMIN]
