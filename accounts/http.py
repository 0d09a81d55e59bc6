"""The requests our views receive, for annotations only (django-stubs' documented way:
``HttpRequest`` subclasses that no code instantiates, so nothing changes at runtime).

- ``OrgRequest``: any request, after ``accounts.middleware`` (``organization`` and
  ``membership`` are None for visitors and for users without an organisation).
- ``UserRequest``: behind ``@login_required``, so ``user`` is a ``User``.
- ``MemberRequest``: behind ``accounts.web.organization_view``, so the user is signed in
  and has a current organisation and membership."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crewbuilder.http import WebRequest

if TYPE_CHECKING:
    from django.utils.functional import SimpleLazyObject

    from accounts.models import Membership, Organization, User


class OrgRequest(WebRequest):
    organization: Organization | None
    membership: Membership | None
    # a lazy ``OrganizationBranding | None`` (accounts.middleware.BrandingMiddleware)
    branding: SimpleLazyObject


class UserRequest(OrgRequest):
    user: User


class MemberRequest(UserRequest):
    organization: Organization
    membership: Membership
