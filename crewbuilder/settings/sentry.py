"""Sentry: optional, on when ``SENTRY_DSN`` is set. Read here, started by the crewbuilder
app's ``ready()`` (crewbuilder/apps.py) in every web process, worker and command; events
are scrubbed and carry no local variables (crewbuilder/sentry.py)."""

from __future__ import annotations

from crewbuilder import __version__
from crewbuilder.settings.env import DEBUG, env

SENTRY_DSN = env("SENTRY_DSN", default="")
SENTRY_ENVIRONMENT = env("SENTRY_ENVIRONMENT", default="development" if DEBUG else "production")
SENTRY_RELEASE = env("SENTRY_RELEASE", default="") or f"crewbuilder@{__version__}"
SENTRY_TRACES_SAMPLE_RATE = env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0)
