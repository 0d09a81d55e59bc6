"""What accounts announces, so the floors above react without accounts importing them.

accounts is the ground floor: keys, billing, generation and the API stand on it and may
import it, never the other way round. When one of them must act on a change here, it
connects a receiver to one of these signals (in its ``AppConfig.ready``):

``member_left(sender=Organization, organization, user)``
    sent after a membership ended (removed, left, or the user deleted their account),
    inside the transaction: the member's personal provider keys are deleted, the API
    tokens they created are revoked.

``organization_deleting(sender=Organization, organization, actor)``
    sent inside the deletion transaction (GDPR, ``accounts.privacy.organization_delete``)
    just before the organisation row (and everything cascading from it) is deleted: billing
    cancels the subscription and removes the credit ledger, keys destroys the data key. A
    receiver may return a dict of facts that the deletion's audit row records; an
    exception (e.g. a ``ValidationError`` when Stripe cannot cancel) deletes nothing.

``user_deleting(sender=User, user, actor)``
    sent inside the account deletion transaction before the user's memberships end: keys
    deletes the user's personal provider keys.

``plan_entitlements_requested(sender=Organization, organization)``
    asked, not announced: accounts needs the plan's answer for an organisation (the seat
    limit when inviting, white-label for branding) and billing, the floor that owns plans,
    answers with its ``Entitlements`` (read-only; ``accounts.selectors.plan_entitlements``
    is the one caller).

Receivers are called in connection order and an exception in one aborts the change (the
signals are sent with ``send``, not ``send_robust``): a side effect that must happen
together with the change happens or the change does not.
"""

from __future__ import annotations

from django.dispatch import Signal

member_left = Signal()
organization_deleting = Signal()
user_deleting = Signal()
plan_entitlements_requested = Signal()
