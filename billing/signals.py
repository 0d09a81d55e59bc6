"""What billing announces to the floors above it (generation, webhooks)."""

from __future__ import annotations

import logging

from django.db import transaction
from django.dispatch import Signal

logger = logging.getLogger("crewbuilder.billing")

# A guest (``/try/``) paid for its credit (the Stripe webhook, inside its transaction):
# generation starts the guest's generation. kwargs: organization (the holding
# organisation). Receivers return a short note for the webhook event's log.
guest_credit_purchased = Signal()

# Sent after commit. The reservation that took the last CrewBuilder AI generation of the plan's period.
# kwargs: organization_id, period_start, period_end, limit
usage_limit_reached = Signal()


def usage_limit_reached_on_commit(
    *, organization_id: int, period_start, period_end, limit: int
) -> None:
    def send() -> None:
        for receiver, result in usage_limit_reached.send_robust(
            sender=usage_limit_reached,
            organization_id=organization_id,
            period_start=period_start,
            period_end=period_end,
            limit=limit,
        ):
            if isinstance(result, Exception):
                logger.error("usage_limit_reached receiver %r failed: %r", receiver, result)

    transaction.on_commit(send)
