"""Redis (Celery broker and cache), Celery, the generation runner and the one periodic
schedule. Without ``REDIS_URL`` tasks run in-process and the cache is local memory."""

from __future__ import annotations

from crewbuilder.settings.env import env

REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env("CREWBUILDER_CACHE_PREFIX", default="cb"),
            # A Redis that hangs (not only one that refuses) must not hang requests.
            "OPTIONS": {"socket_connect_timeout": 1.0, "socket_timeout": 1.0},
        }
    }
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

# --- Every periodic task, in one table (run by `celery -A crewbuilder beat`).
_MINUTE = 60.0
_HOUR = 60 * _MINUTE
_DAY = 24 * _HOUR
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    # abandoned generations (lost messages, a restarted embedded runner) are queued again
    "generation-requeue-stale": {"task": "generation.requeue_stale", "schedule": _HOUR},
    # a generation waiting on unanswered questions gives back its charge after the TTL
    "generation-expire-unanswered": {"task": "generation.expire_unanswered", "schedule": _HOUR},
    # stored keys are re-tested (owners hear about dead keys)
    "keys-recheck-provider-keys": {"task": "keys.recheck_provider_keys", "schedule": _DAY},
    # data keys are re-wrapped under the newest master key (idempotent; `manage.py
    # keys_rotate` does the same on demand)
    "keys-rotate-data-keys": {"task": "keys.rotate_data_keys", "schedule": 30 * _DAY},
    # expired "Try it" passes and their generations are removed (BILLING_GUEST_KEEP_DAYS)
    "billing-guest-passes-expire": {
        "task": "billing.tasks.guest_passes_expire_task",
        "schedule": _DAY,
    },
    # a day's platform generations far above the trailing average raise the anomaly flag
    "billing-usage-anomaly-scan": {
        "task": "billing.tasks.usage_anomaly_scan_task",
        "schedule": _HOUR,
    },
    # outgoing webhook deliveries whose retry is due
    "webhooks-deliver-due": {"task": "webhooks.deliver_due", "schedule": 30.0},
    # custom domains whose DNS proof is gone stop being served after the grace period
    "accounts-domains-recheck": {"task": "accounts.domains_recheck", "schedule": _DAY},
}
