"""Signals from lower floors → billing services (no business logic here, only the call)."""

from __future__ import annotations

from django.db.models.signals import post_save
from django.dispatch import receiver

from accounts.models import Organization
from billing.services import billing_account_open


@receiver(post_save, sender=Organization, dispatch_uid="billing_account_open_on_birth")
def _on_organization_saved(sender, instance: Organization, created: bool, raw: bool, **kwargs):
    # Every creation path (sign-up, a new team, the guest holding organisation, the admin)
    # saves an Organization; billing answers in the same transaction, so no organisation is
    # ever seen without its billing account. ``raw``: fixtures load rows as they are.
    if created and not raw:
        billing_account_open(organization=instance)
