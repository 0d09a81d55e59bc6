"""What billing announces to the floors above it (webhooks), sent after commit."""

from __future__ import annotations

import logging

from django.db import transaction
from django.dispatch import Signal

logger = logging.getLogger("crewbuilder.billing")

# The reservation that took the last CrewBuilder AI generation of the plan's period.
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
