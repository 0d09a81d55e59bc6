"""Signals → generation: a guest's paid credit starts its generation; a catalogue change drops
the cached catalogue (no business logic here, only the call)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from billing.services import BillingError
from billing.signals import guest_credit_purchased
from generation.guest import guest_paid_generation_start
from generation.models import LlmModel
from generation.selectors import llm_catalogue_forget


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


@receiver(post_save, sender=LlmModel, dispatch_uid="generation.catalogue_saved")
@receiver(post_delete, sender=LlmModel, dispatch_uid="generation.catalogue_deleted")
def _on_catalogue_changed(sender, **kwargs) -> None:
    # Now, and again once the change is committed: a request in this process may read the
    # old rows between the two.
    llm_catalogue_forget()
    transaction.on_commit(llm_catalogue_forget)
