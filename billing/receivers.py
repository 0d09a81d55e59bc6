"""Signals from lower floors → billing services (no business logic here, only the call)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models.signals import post_save
from django.dispatch import receiver

from accounts.models import Organization
from accounts.signals import organization_deleting, plan_entitlements_requested
from billing import selectors, services
from billing.models import CreditEntry
from billing.stripe_gateway import GatewayError


@receiver(post_save, sender=Organization, dispatch_uid="billing_account_open_on_birth")
def _on_organization_saved(sender, instance: Organization, created: bool, raw: bool, **kwargs):
    # Every creation path (sign-up, a new team, the guest holding organisation, the admin)
    # saves an Organization; billing answers in the same transaction, so no organisation is
    # ever seen without its billing account. ``raw``: fixtures load rows as they are.
    if created and not raw:
        services.billing_account_open(organization=instance)


@receiver(organization_deleting, dispatch_uid="billing.organization_deleting")
def _on_organization_deleting(sender, *, organization: Organization, actor, **kwargs) -> dict:
    try:
        services.subscription_cancel_for_deletion(organization=organization, actor=actor)
    except GatewayError as exc:
        # Nobody may keep being billed for a deleted workspace: stop here, delete nothing.
        raise ValidationError(
            "Stripe could not cancel the subscription just now, so nothing was deleted. "
            "Try again in a minute."
        ) from exc
    # Ledger rows protect their purchases; remove the ledger before the cascade reaches both.
    CreditEntry.objects.filter(organization=organization).delete()
    return {"subscription_cancelled": True}


@receiver(plan_entitlements_requested, dispatch_uid="billing.plan_entitlements_requested")
def _on_plan_entitlements_requested(sender, *, organization: Organization, **kwargs):
    return selectors.entitlements_for(organization)
