"""Secret key, hosts, the public site URL, cookies, HSTS and request limits. Production
(neither DEBUG nor TESTING) refuses to start without its secret key, hosts and site URL."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from crewbuilder.hosts import AllowedHosts
from crewbuilder.settings.env import DEBUG, TESTING, env

if DEBUG or TESTING:
    SECRET_KEY = env(
        "DJANGO_SECRET_KEY", default="dev-insecure-secret-key-change-me-0123456789abcdef"
    )
    _hosts = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
else:
    SECRET_KEY = env("DJANGO_SECRET_KEY")
    _hosts = env.list("DJANGO_ALLOWED_HOSTS")
# White-label custom domains are accepted on top of these (crewbuilder/hosts.py).
ALLOWED_HOSTS = AllowedHosts(_hosts)

# The public base URL of every emailed link (verification, reset, invitations). Production
# has no sensible default: a link to localhost would reach no one.
if DEBUG or TESTING:
    # The embedded default's links follow the port it serves on (`PORT=8350 make run`).
    _dev_port = env.str("PORT", default="8000")
    _dev_port = _dev_port if _dev_port.isdigit() else "8000"
    _site_url = env("CREWBUILDER_SITE_URL", default=f"http://127.0.0.1:{_dev_port}")
else:
    _site_url = env("CREWBUILDER_SITE_URL", default="")
    if not _site_url:
        raise ImproperlyConfigured(
            "CREWBUILDER_SITE_URL is required in production: the public base URL of emailed "
            "links, e.g. https://crewbuilder.example.com"
        )
_site = urlsplit(_site_url)
if _site.scheme not in ("http", "https") or not _site.netloc:
    raise ImproperlyConfigured(
        f"CREWBUILDER_SITE_URL must be an absolute http(s) URL, not {_site_url!r}."
    )
SITE_URL = _site_url.rstrip("/")

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

# Request size: keep bodies small; logo uploads are handled by their own view.
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
