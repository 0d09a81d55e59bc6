"""allauth signals → account services (no business logic here, only the call)."""

from __future__ import annotations

from allauth.account.signals import user_signed_up
from django.dispatch import receiver

from accounts.services import user_onboard


@receiver(user_signed_up)
def _on_user_signed_up(sender, request, user, **kwargs) -> None:
    user_onboard(user=user)
