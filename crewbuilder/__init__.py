from __future__ import annotations

# The one place the version is written: pyproject.toml reads it (setuptools dynamic
# version), /healthz and the operators' footer show it, Sentry reports it as the release.
# Bumped when a release is cut (docs/RELEASING.md).
__version__ = "0.2.0.dev0"

from crewbuilder.celery import app as celery_app  # noqa: E402

__all__ = ("__version__", "celery_app")
