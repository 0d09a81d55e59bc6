"""Outgoing webhooks (crewbuilder/webhooks, docs/webhooks.md). The SSRF guard refuses
private/link-local/reserved addresses always; loopback and plain http only where these say
so (the embedded default and tests), never by default in production."""

from __future__ import annotations

from crewbuilder.settings.celery import REDIS_URL
from crewbuilder.settings.env import DEBUG, TESTING, env

CREWBUILDER_WEBHOOK_RUNNER = env(
    "CREWBUILDER_WEBHOOK_RUNNER", default="celery" if REDIS_URL else "thread"
)
CREWBUILDER_WEBHOOK_ALLOW_HTTP = env.bool(
    "CREWBUILDER_WEBHOOK_ALLOW_HTTP", default=DEBUG or TESTING
)
CREWBUILDER_WEBHOOK_ALLOW_LOOPBACK = env.bool(
    "CREWBUILDER_WEBHOOK_ALLOW_LOOPBACK", default=DEBUG or TESTING
)
CREWBUILDER_WEBHOOK_CA_FILE = env("CREWBUILDER_WEBHOOK_CA_FILE", default="")
CREWBUILDER_WEBHOOK_TIMEOUT_SECONDS = env.float("CREWBUILDER_WEBHOOK_TIMEOUT_SECONDS", default=10.0)
# Retried with exponential backoff for this long (never less than 24 h), then given up.
CREWBUILDER_WEBHOOK_RETRY_HOURS = max(24, env.int("CREWBUILDER_WEBHOOK_RETRY_HOURS", default=72))
CREWBUILDER_WEBHOOK_DISABLE_AFTER_DAYS = env.int(
    "CREWBUILDER_WEBHOOK_DISABLE_AFTER_DAYS", default=3
)
