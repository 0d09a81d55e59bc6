"""Redis (Celery broker and cache), Celery, the generation runner and the one periodic
schedule. Without ``REDIS_URL`` tasks run in-process and the cache is local memory."""

from __future__ import annotations

from typing import Any

from crewbuilder.settings.env import env

REDIS_URL = env("REDIS_URL", default="")


def redis_cache(location: str) -> dict[str, Any]:
    """The default cache's entry on Redis at ``location`` (the fault tests point it at a
    Redis that is down)."""
    return {
        # Django's RedisCache, except that the keys of FAIL_OPEN go on without Redis
        # (crewbuilder/cache.py); every other key raises when Redis is down.
        "BACKEND": "crewbuilder.cache.FailOpenRedisCache",
        "LOCATION": location,
        "KEY_PREFIX": env("CREWBUILDER_CACHE_PREFIX", default="cb"),
        # A Redis that hangs (not only one that refuses) must not hang requests.
        "OPTIONS": {"socket_connect_timeout": 1.0, "socket_timeout": 1.0},
        # allauth's rate limits (sign-in, sign-up, password reset): while Redis is down
        # they let every attempt through, as the API's rate limiter does, so people can
        # sign in (sessions are in PostgreSQL) instead of getting a 503.
        "FAIL_OPEN": {"allauth:rl:": "account_rate_limiter"},
    }


if REDIS_URL:
    CACHES = {"default": redis_cache(REDIS_URL)}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# Keep Django's LOGGING (with the secret-redaction filter on every handler) in workers:
# by default Celery replaces the root logger's handlers, and SDK loggers propagate to root.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Must exceed the hard time limit of the longest task so an unacked task is not redelivered
# while it is still running (see generation/tasks.py for the ordered limits).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=1800),
    # Without socket timeouts a publish to a Redis that hangs waits forever (kombu's
    # docs); with them and the retry policy below an enqueue gives up within ~6 s (a
    # refused connection: under 1 s) and the request answers 503, nothing charged.
    "socket_connect_timeout": 2.0,
    "socket_timeout": 3.0,
}
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
# How often a worker looks for unacked messages whose visibility timeout has passed
# (kombu's default scan is every ~100 s; tests of redelivery after SIGKILL lower it).
if env("CELERY_UNACKED_RESTORE_INTERVAL", default=""):
    CELERY_BROKER_TRANSPORT_OPTIONS["unacked_restore_interval"] = env.int(
        "CELERY_UNACKED_RESTORE_INTERVAL"
    )
    CELERY_BROKER_TRANSPORT_OPTIONS["unacked_restore_throttle"] = 1

# Generations (generation/tasks.py asserts: provider timeout x calls per run < soft < hard
# < visibility_timeout). "celery" queues on Redis; without Redis "thread" runs each
# generation in a background thread of the web process so the page shows live progress;
# "sync" runs it inline (tests).
CREWBUILDER_GENERATION_RUNNER = env(
    "CREWBUILDER_GENERATION_RUNNER", default="celery" if REDIS_URL else "thread"
)
CREWBUILDER_GENERATION_SOFT_TIME_LIMIT = env.int(
    "CREWBUILDER_GENERATION_SOFT_TIME_LIMIT", default=540
)
CREWBUILDER_GENERATION_TIME_LIMIT = env.int("CREWBUILDER_GENERATION_TIME_LIMIT", default=600)
CREWBUILDER_GENERATION_MAX_RETRIES = env.int("CREWBUILDER_GENERATION_MAX_RETRIES", default=5)
CREWBUILDER_GENERATION_RETRY_BASE_SECONDS = env.float(
    "CREWBUILDER_GENERATION_RETRY_BASE_SECONDS", default=4.0
)
CREWBUILDER_GENERATION_RETRY_MAX_SECONDS = env.float(
    "CREWBUILDER_GENERATION_RETRY_MAX_SECONDS", default=300.0
)
# A run waits this long in place for the database to come back (a dropped connection, a
# restart, a failover), retrying each write with backoff; then the task is retried.
CREWBUILDER_GENERATION_DB_RETRY_SECONDS = env.float(
    "CREWBUILDER_GENERATION_DB_RETRY_SECONDS", default=60.0
)
# Worker loss: a run beats every HEARTBEAT seconds; one silent for LOST_AFTER seconds is
# queued again by the recovery scan (beat, every RECOVER_EVERY seconds). SIGKILL of a worker
# → the generation done in at most about LOST_AFTER + RECOVER_EVERY + one run.
CREWBUILDER_GENERATION_HEARTBEAT_SECONDS = env.float(
    "CREWBUILDER_GENERATION_HEARTBEAT_SECONDS", default=10.0
)
CREWBUILDER_GENERATION_LOST_AFTER_SECONDS = env.float(
    "CREWBUILDER_GENERATION_LOST_AFTER_SECONDS", default=60.0
)
CREWBUILDER_GENERATION_RECOVER_EVERY_SECONDS = env.float(
    "CREWBUILDER_GENERATION_RECOVER_EVERY_SECONDS", default=30.0
)

# --- Every periodic task, in one table (run by `celery -A crewbuilder beat`). Task names
# are `<app>.<verb>[_<object>]` (tests/ops/test_tasks.py checks every registered task).
_MINUTE = 60.0
_HOUR = 60 * _MINUTE
_DAY = 24 * _HOUR
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    # generations whose worker went silent (SIGKILL, a lost host, lost messages) are
    # queued again within about a minute and a half (README "Worker loss")
    "generation-recover-lost": {
        "task": "generation.recover_lost",
        "schedule": CREWBUILDER_GENERATION_RECOVER_EVERY_SECONDS,
    },
    # a generation waiting on unanswered questions gives back its charge after the TTL
    "generation-expire-unanswered": {"task": "generation.expire_unanswered", "schedule": _HOUR},
    # stored keys are re-tested (owners hear about dead keys)
    "keys-recheck-provider-keys": {"task": "keys.recheck_provider_keys", "schedule": _DAY},
    # data keys are re-wrapped under the newest master key (idempotent; `manage.py
    # keys_rotate` does the same on demand)
    "keys-rotate-data-keys": {"task": "keys.rotate_data_keys", "schedule": 30 * _DAY},
    # expired "Try it" passes and their generations are removed (BILLING_GUEST_KEEP_DAYS)
    "billing-guest-passes-expire": {
        "task": "billing.expire_guest_passes",
        "schedule": _DAY,
    },
    # a day's platform generations far above the trailing average raise the anomaly flag
    "billing-usage-anomaly-scan": {
        "task": "billing.scan_usage_anomalies",
        "schedule": _HOUR,
    },
    # outgoing webhook deliveries whose retry is due
    "webhooks-deliver-due": {"task": "webhooks.deliver_due", "schedule": 30.0},
    # custom domains whose DNS proof is gone stop being served after the grace period
    "accounts-domains-recheck": {"task": "accounts.recheck_domains", "schedule": _DAY},
}
