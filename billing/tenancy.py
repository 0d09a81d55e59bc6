"""Who acts, in which organisation, under which plan: read once per request and passed
down to the services that need it (``generation_create_for``, ``charge_reserve``).

It lives on the billing floor because it joins the two answers below it: the member's
role (``accounts``) and the organisation's plan (``billing``'s entitlements)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from accounts.models import Membership, Organization, User
from accounts.permissions import can
from accounts.services import role_of
from billing.models import BillingAccount
from billing.selectors import Entitlements, billing_account_of, entitlements_from


@dataclass(frozen=True)
class Tenant:
    """``user`` None is an actor without a person (the ``/try/`` guest flow): no role
    applies. ``role`` is the user's current role in ``organization`` (None: not a member).
    ``account`` is the organisation's billing account with its plan (None: it has none).
    ``personal_keys`` False (API tokens) means the actor acts for the organisation and
    never spends a member's personal provider key."""

    organization: Organization
    user: User | None
    role: str | None
    account: BillingAccount | None
    personal_keys: bool = True

    @cached_property
    def entitlements(self) -> Entitlements:
        return entitlements_from(self.account)

    def can(self, capability: str) -> bool:
        return self.user is None or can(self.role, capability)


def tenant_for(*, organization: Organization, user: User | None) -> Tenant:
    """Read the user's role and the billing account (two queries)."""
    role = None if user is None else role_of(user=user, organization=organization)
    return Tenant(
        organization=organization,
        user=user,
        role=role,
        account=billing_account_of(organization),
    )


def tenant_for_member(*, membership: Membership, user: User) -> Tenant:
    """The signed-in member's tenant from the membership the page middleware read (one
    query: the billing account)."""
    return Tenant(
        organization=membership.organization,
        user=user,
        role=membership.role,
        account=billing_account_of(membership.organization),
    )


def organization_billing_account(organization: Organization) -> BillingAccount | None:
    """The organisation's billing account through the relation: no query when the row
    (or its absence) came with the organisation (``select_related``)."""
    try:
        return organization.billing_account
    except BillingAccount.DoesNotExist:
        return None
