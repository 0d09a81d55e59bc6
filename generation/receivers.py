"""Signals from lower floors → generation services (no business logic here, only the call)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.dispatch import receiver

from billing.services import BillingError
from billing.signals import guest_credit_purchased
from generation.guest import guest_paid_generation_start


@receiver(guest_credit_purchased, dispatch_uid="generation.guest_credit_purchased")
def _on_guest_credit_purchased(sender, *, organization, **kwargs) -> str:
    try:
        with transaction.atomic():
            guest = guest_paid_generation_start(organization=organization)
    except (BillingError, ValidationError) as exc:
        # The credit stays with the guest organisation; an operator can see why in the
        # Stripe event's note.
        return f"guest generation not started: {getattr(exc, 'message', exc)}"
    return "guest generation started" if guest else "guest generation already started"
