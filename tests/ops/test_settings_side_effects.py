"""Importing the settings reads the environment and nothing more: the embedded default's
key file is written and Sentry is started once Django is set up (``AppConfig.ready``), in
web processes, management commands and the Celery worker alike."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)

SENTRY_ACTIVE = "import sentry_sdk; print('sentry', sentry_sdk.get_client().is_active())"


def _run(code: str, tmp_path: Path, **overrides: str) -> subprocess.CompletedProcess:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "CREWBUILDER_", "STRIPE_", "SENTRY_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="crewbuilder.settings",
        DJANGO_DEBUG="true",
        CREWBUILDER_ENV_FILE="/nonexistent",
        CREWBUILDER_DEV_KEYS_FILE=str(tmp_path / "dev-keys"),
        # a DSN nothing listens on: starting the client sends nothing
        SENTRY_DSN="http://public@127.0.0.1:9/1",
    )
    env.update(overrides)
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def test_importing_the_settings_writes_no_file_and_starts_no_sdk(tmp_path):
    result = _run(f"import crewbuilder.settings\n{SENTRY_ACTIVE}", tmp_path)
    assert "sentry False" in result.stdout
    assert not (tmp_path / "dev-keys").exists()


def test_django_setup_creates_the_dev_key_file_and_starts_sentry(tmp_path):
    result = _run(f"import django; django.setup()\n{SENTRY_ACTIVE}", tmp_path)
    assert "sentry True" in result.stdout
    keys = tmp_path / "dev-keys"
    assert keys.read_text().startswith("dev1:")
    assert keys.stat().st_mode & 0o777 == 0o600
    # the next start reads the same key instead of writing a new one
    before = keys.read_text()
    _run("import django; django.setup()", tmp_path)
    assert keys.read_text() == before


def test_the_celery_worker_starts_sentry_when_it_loads_its_modules(tmp_path):
    # What `celery -A crewbuilder worker` (and beat) do before running anything: Celery's
    # Django fixup sets Django up when the worker imports its task modules.
    code = (
        f"from crewbuilder.celery import app\napp.loader.import_default_modules()\n{SENTRY_ACTIVE}"
    )
    assert "sentry True" in _run(code, tmp_path).stdout


def test_sentry_stays_off_without_a_dsn(tmp_path):
    result = _run(f"import django; django.setup()\n{SENTRY_ACTIVE}", tmp_path, SENTRY_DSN="")
    assert "sentry False" in result.stdout
