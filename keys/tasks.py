from __future__ import annotations

import logging

from celery import shared_task

from keys import rotation, services

logger = logging.getLogger("crewbuilder.keys")


@shared_task(name="keys.recheck_provider_keys", ignore_result=True)
def provider_keys_recheck_task() -> dict:
    """Daily: re-test stored keys; owners of keys that stopped working get an email."""
    counts = services.provider_keys_recheck()
    logger.info("provider keys re-checked: %s", counts)
    return counts


@shared_task(name="keys.rotate_data_keys", ignore_result=True)
def data_keys_rotate_task() -> dict:
    """Monthly: re-wrap data keys under the newest master key (idempotent, resumable)."""
    report = rotation.data_keys_rotate()
    logger.info(
        "data keys re-wrapped: %s (failed: %s) under %s",
        report.rewrapped,
        len(report.failed),
        report.target,
    )
    return {"rewrapped": report.rewrapped, "failed": len(report.failed)}
