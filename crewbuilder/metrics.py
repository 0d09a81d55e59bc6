"""Prometheus metrics counted in-process (prometheus-client), one definition each.

A leaf module like ``crewbuilder.redaction``: it imports nothing of ours, so every floor
may count into it (billing counts refusals, generation stage times, keys decrypt
failures). What is a *state* (queue depth, the oldest queued generation, generations by
status, webhook endpoints) is not counted here but read from the database at scrape time
by ``crewbuilder.metrics_views``, so it is right whichever process changed it.

Processes: with ``PROMETHEUS_MULTIPROC_DIR`` set (docker-compose sets it for web and
worker, on a shared volume) prometheus-client keeps every counter in a memory-mapped
file per process, and the scrape sums the files of every gunicorn worker and Celery
worker. Without it (``make run``, tests) the counters live in the process.

Labels stay bounded: statuses, stages, providers and the model catalogue, error codes.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

_SECONDS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300)

GENERATIONS_FINISHED = Counter(
    "crewbuilder_generations_finished_total",
    "Generations that reached an outcome: succeeded, failed, or needs_input (questions).",
    ["outcome"],
)
GENERATION_STAGE_SECONDS = Histogram(
    "crewbuilder_generation_stage_seconds",
    "Time spent in each stage of a generation run (designing, rendering, checking, packaging).",
    ["stage"],
    buckets=_SECONDS,
)
PROVIDER_REQUEST_SECONDS = Histogram(
    "crewbuilder_provider_request_seconds",
    "LLM provider call latency, successful or not.",
    ["provider", "model"],
    buckets=_SECONDS,
)
PROVIDER_ERRORS = Counter(
    "crewbuilder_provider_errors_total",
    "LLM provider calls that failed, by error code (rate_limited, timeout, invalid_key, ...).",
    ["provider", "model", "code"],
)
QUOTA_REFUSALS = Counter(
    "crewbuilder_quota_refusals_total",
    "CrewBuilder AI generations refused for payment (402) or the daily cap (429), by reason.",
    ["reason"],
)
CREDITS_CONSUMED = Counter(
    "crewbuilder_credits_consumed_total",
    "Generation credits used because the plan's quota was spent.",
)
WEBHOOKS_RECEIVED = Counter(
    "crewbuilder_webhooks_received_total",
    "Incoming webhooks (Stripe) by outcome: processed, duplicate, invalid_signature, failed.",
    ["source", "outcome"],
)
WEBHOOK_DELIVERIES = Counter(
    "crewbuilder_webhook_deliveries_total",
    "Outgoing webhook delivery attempts by outcome (delivered, failed, blocked).",
    ["outcome"],
)
WEBHOOK_DELIVERY_SECONDS = Histogram(
    "crewbuilder_webhook_delivery_seconds",
    "Outgoing webhook request duration (connect to response).",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
KEY_DECRYPT_FAILURES = Counter(
    "crewbuilder_key_decrypt_failures_total",
    "Stored provider keys or data keys that could not be decrypted, by what wrapped them.",
    ["backend"],
)
UNAVAILABLE_RESPONSES = Counter(
    "crewbuilder_unavailable_responses_total",
    "Requests answered 503 because a dependency was down (database, redis, broker).",
    ["dependency"],
)
DEGRADED_OPERATIONS = Counter(
    "crewbuilder_degraded_operations_total",
    "Operations that went on without Redis (e.g. the API rate limiter failing open).",
    ["component"],
)
