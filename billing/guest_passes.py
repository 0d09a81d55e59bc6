"""Retention of the guest (``/try/``) holding organisations: the flow itself is
``generation/guest.py``; billing keeps the ``GuestPass`` rows and their clean-up."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from accounts.privacy import organization_delete
from billing.models import GuestPass


def guest_passes_expire(*, older_than_days: int | None = None) -> int:
    """Delete holding organisations of guest generations nobody kept (beat, daily).
    Goes through the organisation deletion service so keys are shredded and it is audited."""
    days = older_than_days if older_than_days is not None else settings.BILLING_GUEST_KEEP_DAYS
    cutoff = timezone.now() - timedelta(days=days)
    stale = GuestPass.objects.filter(created_at__lt=cutoff).exclude(status=GuestPass.Status.CLAIMED)
    count = 0
    for guest in stale.select_related("organization"):
        organization_delete(organization=guest.organization, actor=None)
        count += 1
    return count
