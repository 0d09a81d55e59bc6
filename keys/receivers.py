"""accounts signals → key services (no business logic here, only the call)."""

from __future__ import annotations

from django.dispatch import receiver

from accounts.signals import member_left, organization_deleting, user_deleting
from keys import services


@receiver(member_left, dispatch_uid="keys.member_left")
def _on_member_left(sender, *, organization, user, **kwargs) -> None:
    services.member_left_delete_personal_keys(organization=organization, user=user)


@receiver(user_deleting, dispatch_uid="keys.user_deleting")
def _on_user_deleting(sender, *, user, actor, **kwargs) -> None:
    services.user_keys_delete(user=user, actor=actor)


@receiver(organization_deleting, dispatch_uid="keys.organization_deleting")
def _on_organization_deleting(sender, *, organization, actor, **kwargs) -> dict:
    services.organization_keys_crypto_shred(organization=organization, actor=actor)
    return {"keys_crypto_shredded": True}
