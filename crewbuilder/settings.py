"""CrewBuilder settings, read from the environment through django-environ.

The embedded default (``make run``) needs no variables at all: SQLite, in-process tasks,
a locally generated encryption key and billing switched off. Production (``DJANGO_DEBUG``
false) refuses to start without its secrets.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

from crewbuilder import __version__ as CREWBUILDER_VERSION  # noqa: N812
from crewbuilder.hosts import AllowedHosts

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
_env_file = Path(os.environ.get("CREWBUILDER_ENV_FILE", BASE_DIR / ".env"))
if _env_file.is_file():
    env.read_env(str(_env_file))

DEBUG = env.bool("DJANGO_DEBUG", default=False)
TESTING = env.bool("CREWBUILDER_TESTING", default=False)

if DEBUG or TESTING:
    SECRET_KEY = env(
        "DJANGO_SECRET_KEY", default="dev-insecure-secret-key-change-me-0123456789abcdef"
    )
    ALLOWED_HOSTS = env.list(
        "DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"]
    )
else:
    SECRET_KEY = env("DJANGO_SECRET_KEY")
    ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
# White-label custom domains are accepted on top of these (crewbuilder/hosts.py).
ALLOWED_HOSTS = AllowedHosts(ALLOWED_HOSTS)

# The public base URL of every emailed link (verification, reset, invitations). Production
# has no sensible default: a link to localhost would reach no one.
if DEBUG or TESTING:
    # The embedded default's links follow the port it serves on (`PORT=8350 make run`).
    _dev_port = env.str("PORT", default="8000")
    _dev_port = _dev_port if _dev_port.isdigit() else "8000"
    SITE_URL = env("CREWBUILDER_SITE_URL", default=f"http://127.0.0.1:{_dev_port}")
else:
    SITE_URL = env("CREWBUILDER_SITE_URL", default="")
    if not SITE_URL:
        raise ImproperlyConfigured(
            "CREWBUILDER_SITE_URL is required in production: the public base URL of emailed "
            "links, e.g. https://crewbuilder.example.com"
        )
_site = urlsplit(SITE_URL)
if _site.scheme not in ("http", "https") or not _site.netloc:
    raise ImproperlyConfigured(
        f"CREWBUILDER_SITE_URL must be an absolute http(s) URL, not {SITE_URL!r}."
    )
SITE_URL = SITE_URL.rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "django_htmx",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "crewbuilder.api",
    "crewbuilder.webhooks",
    "accounts",
    "keys",
    "billing",
    "generation",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "crewbuilder.csp.ContentSecurityPolicyMiddleware",
    "crewbuilder.api.middleware.ApiErrorMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "accounts.middleware.CurrentOrganizationMiddleware",
    "accounts.middleware.BrandingMiddleware",
]

ROOT_URLCONF = "crewbuilder.urls"
WSGI_APPLICATION = "crewbuilder.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.organization",
                "crewbuilder.context_processors.release",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default writes progress from a background thread while pages read it:
    # WAL lets readers run beside the writer, IMMEDIATE transactions take the write lock up
    # front (no upgrade deadlocks) and the busy timeout waits instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# django-allauth: email is the login; verification is mandatory outside the embedded default.
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = env(
    "ACCOUNT_EMAIL_VERIFICATION", default="optional" if DEBUG else "mandatory"
)
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[CrewBuilder] "
ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,5/5m/key"}
LOGIN_REDIRECT_URL = "/generate/"
LOGIN_URL = "account_login"

EMAIL_BACKEND = env(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="CrewBuilder <no-reply@crewbuilder.local>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env("CREWBUILDER_MEDIA_ROOT", default=str(BASE_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not (DEBUG or TESTING)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG or TESTING

# --- Redis: Celery broker and cache. Unset → in-process tasks and a local-memory cache.
REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env("CREWBUILDER_CACHE_PREFIX", default="cb"),
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
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=1800)
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
CELERY_BEAT_SCHEDULE: dict = {
    # generations whose worker went silent (SIGKILL, a lost host, lost messages) are
    # queued again within about a minute and a half
    "generation-recover-lost": {
        "task": "generation.recover_lost",
        "schedule": CREWBUILDER_GENERATION_RECOVER_EVERY_SECONDS,
    },
    # a generation waiting on unanswered questions gives back its charge after the TTL
    "generation-expire-unanswered": {
        "task": "generation.expire_unanswered",
        "schedule": 3600.0,
    },
}
CREWBUILDER_QUESTIONS_TTL_HOURS = env.int("CREWBUILDER_QUESTIONS_TTL_HOURS", default=48)

# --- Provider keys vault
CREWBUILDER_KEY_BACKEND = env("CREWBUILDER_KEY_BACKEND", default="database")
VAULT_ADDR = env("VAULT_ADDR", default="")
VAULT_TOKEN = env("VAULT_TOKEN", default="")
VAULT_MOUNT = env("VAULT_MOUNT", default="transit")
VAULT_TRANSIT_KEY = env("VAULT_TRANSIT_KEY", default="crewbuilder")
# AWS KMS (CREWBUILDER_KEY_BACKEND=aws-kms; boto3 from the "aws" extra). Credentials come
# from boto3's usual chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, an instance role, ...).
AWS_KMS_KEY_ID = env("AWS_KMS_KEY_ID", default="")
AWS_KMS_REGION = env("AWS_KMS_REGION", default="")
AWS_KMS_ENDPOINT_URL = env("AWS_KMS_ENDPOINT_URL", default="")
# Re-test stored keys daily (owners hear about dead keys); re-wrap data keys under the
# newest master key monthly (idempotent; `manage.py keys_rotate` does the same on demand).
CELERY_BEAT_SCHEDULE["keys-recheck-provider-keys"] = {
    "task": "keys.recheck_provider_keys",
    "schedule": 24 * 3600.0,
}
CELERY_BEAT_SCHEDULE["keys-rotate-data-keys"] = {
    "task": "keys.rotate_data_keys",
    "schedule": 30 * 24 * 3600.0,
}

_DEV_KEYS_FILE = Path(
    env("CREWBUILDER_DEV_KEYS_FILE", default=str(BASE_DIR / ".crewbuilder-dev-keys"))
)


def _dev_encryption_keys() -> str:
    """Generate (once) a local master key for the embedded default; never used in production."""
    if not _DEV_KEYS_FILE.exists():
        key = base64.b64encode(secrets.token_bytes(32)).decode()
        _DEV_KEYS_FILE.write_text(f"dev1:{key}\n")
        _DEV_KEYS_FILE.chmod(0o600)
    return _DEV_KEYS_FILE.read_text().strip()


_encryption_keys = env("CREWBUILDER_ENCRYPTION_KEYS", default="")
if not _encryption_keys:
    if DEBUG or TESTING:
        _encryption_keys = _dev_encryption_keys()
    else:
        raise ImproperlyConfigured(
            "CREWBUILDER_ENCRYPTION_KEYS is required in production (comma list of ID:BASE64)."
        )
CREWBUILDER_ENCRYPTION_KEYS = _encryption_keys

# --- LLM providers (platform keys: "CrewBuilder AI")
OPENAI_API_KEY = env("OPENAI_API_KEY", default="")
ANTHROPIC_API_KEY = env("ANTHROPIC_API_KEY", default="")
OPENAI_BASE_URL = env("OPENAI_BASE_URL", default="") or None
ANTHROPIC_BASE_URL = env("ANTHROPIC_BASE_URL", default="") or None

# --- Stripe: switched on when STRIPE_SECRET_KEY is set.
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", default="")
STRIPE_PUBLISHABLE_KEY = env("STRIPE_PUBLISHABLE_KEY", default="")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", default="")
STRIPE_API_BASE = env("STRIPE_API_BASE", default="") or None
BILLING_ENABLED = bool(STRIPE_SECRET_KEY)
STRIPE_MAX_NETWORK_RETRIES = env.int("STRIPE_MAX_NETWORK_RETRIES", default=2)
# Cost control: platform generations per organisation per day, and the anomaly flag raised
# when a day exceeds BILLING_ANOMALY_FACTOR x the trailing 7-day average.
BILLING_DAILY_CAP = env.int("BILLING_DAILY_CAP", default=200)
BILLING_ANOMALY_FACTOR = env.int("BILLING_ANOMALY_FACTOR", default=5)
BILLING_ANOMALY_MIN_COUNT = env.int("BILLING_ANOMALY_MIN_COUNT", default=10)
# "Try it" without registration: starts per IP per hour (one-time key or $5 Checkout).
BILLING_GUEST_PER_HOUR = env.int("BILLING_GUEST_PER_HOUR", default=5)
BILLING_GUEST_KEEP_DAYS = env.int("BILLING_GUEST_KEEP_DAYS", default=30)
CELERY_BEAT_SCHEDULE["billing-guest-passes-expire"] = {
    "task": "billing.tasks.guest_passes_expire_task",
    "schedule": 24 * 3600.0,
}
CELERY_BEAT_SCHEDULE["billing-usage-anomaly-scan"] = {
    "task": "billing.tasks.usage_anomaly_scan_task",
    "schedule": 3600.0,
}
if BILLING_ENABLED and not STRIPE_WEBHOOK_SECRET and not (DEBUG or TESTING):
    raise ImproperlyConfigured("STRIPE_WEBHOOK_SECRET is required when Stripe is configured.")
if STRIPE_WEBHOOK_SECRET and not BILLING_ENABLED and not (DEBUG or TESTING):
    # Webhook events are applied only after their object is re-fetched from Stripe.
    raise ImproperlyConfigured("STRIPE_SECRET_KEY is required when STRIPE_WEBHOOK_SECRET is set.")

# --- Django REST framework (the API app configures its own auth classes)
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["crewbuilder.api.parsers.SafeJSONParser"],
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "crewbuilder.api.exceptions.api_exception_handler",
    # Fixed-window limits per API token and per organisation (crewbuilder/api/throttles.py).
    "DEFAULT_THROTTLE_RATES": {
        "api_token": env("CREWBUILDER_API_RATE_TOKEN", default="120/min"),
        "api_org": env("CREWBUILDER_API_RATE_ORG", default="600/min"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "CrewBuilder API",
    "DESCRIPTION": (
        "Turn a plain-language requirement into a runnable CrewAI project. Authenticate with "
        "`Authorization: Bearer cb_…` (an organisation API token from /settings/api-tokens/; "
        'Professional and Enterprise plans). Errors: `{"error": {"code", "message", '
        '"fields"?}}`.'
    ),
    "VERSION": "1.0.0",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "crewbuilder.api.schema.add_error_responses",
    ],
}
# --- Outgoing webhooks (crewbuilder/webhooks, docs/webhooks.md). The SSRF guard refuses
# private/link-local/reserved addresses always; loopback and plain http only where these
# say so (the embedded default and tests), never by default in production.
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
CELERY_BEAT_SCHEDULE["webhooks-deliver-due"] = {"task": "webhooks.deliver_due", "schedule": 30.0}

# --- Metrics (/metrics, Prometheus): off unless a token is set. PROMETHEUS_MULTIPROC_DIR
# (read by prometheus-client itself too) makes every gunicorn and Celery process count into
# shared files that one scrape sums.
CREWBUILDER_METRICS_TOKEN = env("CREWBUILDER_METRICS_TOKEN", default="")
PROMETHEUS_MULTIPROC_DIR = env("PROMETHEUS_MULTIPROC_DIR", default="")

# Largest request body the API reads (larger → 413 before parsing).
CREWBUILDER_API_MAX_BODY_BYTES = env.int("CREWBUILDER_API_MAX_BODY_BYTES", default=64 * 1024)
# A refused (413) body up to this size is read and dropped so the keep-alive connection
# stays usable; a larger one is not read and the connection is closed after the 413.
CREWBUILDER_API_DRAIN_MAX_BYTES = env.int(
    "CREWBUILDER_API_DRAIN_MAX_BYTES", default=2 * 1024 * 1024
)

# --- Security
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not (DEBUG or TESTING):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# Login throttling is allauth's (ACCOUNT_RATE_LIMITS "login_failed": per client IP and per
# email); the admin login is routed through it too (accounts/admin.py). Behind N proxies
# set this to N so the client IP is read from X-Forwarded-For, not the proxy's address.
ALLAUTH_TRUSTED_PROXY_COUNT = env.int("ALLAUTH_TRUSTED_PROXY_COUNT", default=0)

# --- Sentry: optional, on when SENTRY_DSN is set; events are scrubbed, no local variables.
SENTRY_DSN = env("SENTRY_DSN", default="")
if SENTRY_DSN:
    from crewbuilder.sentry import init_sentry

    init_sentry(
        dsn=SENTRY_DSN,
        environment=env("SENTRY_ENVIRONMENT", default="development" if DEBUG else "production"),
        release=env("SENTRY_RELEASE", default="") or f"crewbuilder@{CREWBUILDER_VERSION}",
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
    )

# Request size: keep bodies small; logo uploads are handled by their own view.
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024

# --- Logging: one structured line per record, secrets redacted on every handler.
LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_secrets": {"()": "crewbuilder.logging.RedactSecretsFilter"}},
    "formatters": {
        "json": {"()": "crewbuilder.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["redact_secrets"],
        },
        "mail_admins": {
            "class": "django.utils.log.AdminEmailHandler",
            "level": "ERROR",
            "filters": ["redact_secrets"],
            "include_html": False,
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "django.request": {
            "handlers": ["console", "mail_admins"],
            "level": "ERROR",
            "propagate": False,
        },
        "celery": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "crewbuilder": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
    },
}
# Never let Django's debug error page or admin emails show local variables or settings
# holding a key: the filter class masks anything that looks like a provider key.
DEFAULT_EXCEPTION_REPORTER_FILTER = "crewbuilder.logging.RedactingExceptionReporterFilter"

# Custom domains: the DNS TXT proof is looked up with these resolvers ("host[:port]",
# comma list; empty = the system's), and a served domain whose proof has been gone this
# many days stops being served (daily re-check).
CREWBUILDER_DNS_RESOLVER = env("CREWBUILDER_DNS_RESOLVER", default="")
CREWBUILDER_DNS_TIMEOUT_SECONDS = env.float("CREWBUILDER_DNS_TIMEOUT_SECONDS", default=5.0)
CREWBUILDER_DOMAIN_GRACE_DAYS = env.int("CREWBUILDER_DOMAIN_GRACE_DAYS", default=3)
CELERY_BEAT_SCHEDULE["accounts-domains-recheck"] = {
    "task": "accounts.domains_recheck",
    "schedule": 24 * 3600.0,
}

CREWBUILDER_REQUIREMENT_MAX_CHARS = env.int("CREWBUILDER_REQUIREMENT_MAX_CHARS", default=5000)
CREWBUILDER_REQUIREMENT_MIN_CHARS = env.int("CREWBUILDER_REQUIREMENT_MIN_CHARS", default=20)
INVITATION_TTL_DAYS = env.int("CREWBUILDER_INVITATION_TTL_DAYS", default=7)
