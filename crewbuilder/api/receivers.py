"""accounts signals → API token services (no business logic here, only the call)."""

from __future__ import annotations

from django.dispatch import receiver

from accounts.signals import member_left
from crewbuilder.api.tokens import api_tokens_revoke_for_member


@receiver(member_left, dispatch_uid="api.revoke_tokens_of_leaving_member")
def _revoke_tokens_of_leaving_member(sender, *, organization, user, **kwargs) -> None:
    api_tokens_revoke_for_member(organization=organization, user=user)
