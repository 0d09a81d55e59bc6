"""What generation announces to the floors above it (webhooks, metrics), sent only after
the transaction that made it true has committed.

Receivers get ``generation`` (the Generation row as committed). A receiver that raises is
logged and does not disturb the run or the request (``send_robust``)."""

from __future__ import annotations

import logging

from django.db import transaction
from django.dispatch import Signal

from crewbuilder.metrics import GENERATIONS_FINISHED

logger = logging.getLogger("crewbuilder.generation")

generation_succeeded = Signal()
generation_failed = Signal()
generation_needs_input = Signal()

_BY_OUTCOME = {
    "succeeded": generation_succeeded,
    "failed": generation_failed,
    "needs_input": generation_needs_input,
}


def generation_outcome_on_commit(*, outcome: str, generation) -> None:
    """Count the outcome and send its signal once the current transaction commits."""
    signal = _BY_OUTCOME[outcome]

    def send() -> None:
        GENERATIONS_FINISHED.labels(outcome=outcome).inc()
        for receiver, result in signal.send_robust(sender=type(generation), generation=generation):
            if isinstance(result, Exception):
                logger.error(
                    "generation %s: %s receiver %r failed: %r",
                    generation.pk,
                    outcome,
                    receiver,
                    result,
                )

    transaction.on_commit(send)
