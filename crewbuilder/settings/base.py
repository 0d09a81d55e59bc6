"""Django itself: apps, middleware, templates, database, accounts, email, static files,
logging, the REST API and the product's own limits."""

from __future__ import annotations

from pathlib import Path

from crewbuilder.settings.env import BASE_DIR, DEBUG, TESTING, env

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
    "crewbuilder.apps.CrewBuilderConfig",
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
    # an ApplicationError from a view → its page; a dependency down → the 503 page
    "crewbuilder.error_pages.ErrorPageMiddleware",
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

# --- Database
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Server-side parameter binding with automatic prepared statements (Django's documented
    # psycopg 3 options): a query run 5 times on a connection is prepared, so PostgreSQL stops
    # parsing and planning the hot ones (an API enqueue: 3.1 → 1.7 ms of PostgreSQL CPU).
    # Needs a direct connection or a pooler that keeps prepared statements (PgBouncer ≥ 1.21
    # with max_prepared_statements); DATABASE_PREPARED_STATEMENTS=false turns it off.
    if env.bool("DATABASE_PREPARED_STATEMENTS", default=True):
        DATABASES["default"].setdefault("OPTIONS", {}).update(
            server_side_binding=True, prepare_threshold=5
        )
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

# --- Users and sign-in
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
INVITATION_TTL_DAYS = env.int("CREWBUILDER_INVITATION_TTL_DAYS", default=7)

# --- Email
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

# --- Time and language: UTC everywhere.
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static and uploaded files
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
# Largest request body the API reads (larger → 413 before parsing).
CREWBUILDER_API_MAX_BODY_BYTES = env.int("CREWBUILDER_API_MAX_BODY_BYTES", default=64 * 1024)
# A refused (413) body up to this size is read and dropped so the keep-alive connection
# stays usable; a larger one is not read and the connection is closed after the 413.
CREWBUILDER_API_DRAIN_MAX_BYTES = env.int(
    "CREWBUILDER_API_DRAIN_MAX_BYTES", default=2 * 1024 * 1024
)

# --- Generations: what a requirement may be, and how long unanswered questions wait
CREWBUILDER_REQUIREMENT_MAX_CHARS = env.int("CREWBUILDER_REQUIREMENT_MAX_CHARS", default=5000)
CREWBUILDER_REQUIREMENT_MIN_CHARS = env.int("CREWBUILDER_REQUIREMENT_MIN_CHARS", default=20)
# a generation waiting on unanswered questions gives back its charge after this many hours
CREWBUILDER_QUESTIONS_TTL_HOURS = env.int("CREWBUILDER_QUESTIONS_TTL_HOURS", default=48)

# --- Custom domains: the DNS TXT proof is looked up with these resolvers ("host[:port]",
# comma list; empty = the system's), and a served domain whose proof has been gone this
# many days stops being served (daily re-check).
CREWBUILDER_DNS_RESOLVER = env("CREWBUILDER_DNS_RESOLVER", default="")
CREWBUILDER_DNS_TIMEOUT_SECONDS = env.float("CREWBUILDER_DNS_TIMEOUT_SECONDS", default=5.0)
CREWBUILDER_DOMAIN_GRACE_DAYS = env.int("CREWBUILDER_DOMAIN_GRACE_DAYS", default=3)
