from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from accounts.permissions import Cap, can


def organization(request: HttpRequest) -> dict:
    membership = getattr(request, "membership", None)
    role = membership.role if membership else None
    return {
        "current_organization": getattr(request, "organization", None),
        "current_role": role,
        "caps": {
            name.lower(): can(role, value) for name, value in vars(Cap).items() if name.isupper()
        },
        "billing_enabled": settings.BILLING_ENABLED,
        "branding": getattr(request, "branding", None),
    }
