"""The upgrade test runs against a real database written by the previous release, restored
and migrated by scripts/upgrade_check.sh — not against a test database pytest-django
creates. Every test still runs in a transaction that is rolled back, so each one sees the
database exactly as the migration left it."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest
from django.conf import settings

FIXTURE = Path(__file__).resolve().parent / "fixture"
SNAPSHOT = Path(__file__).resolve().parents[2] / "scripts" / "upgrade_fixture" / "snapshot.py"


@pytest.fixture(scope="session")
def django_db_setup():
    """Use the restored database as it is (pytest-django's documented "existing database"
    recipe); refuse anything but the one the upgrade script prepared."""
    expected = os.environ.get("CREWBUILDER_UPGRADE_DATABASE_URL", "")
    name = settings.DATABASES["default"]["NAME"]
    if not expected or expected.rsplit("/", 1)[-1] != name:
        pytest.fail(
            "tests/upgrade runs only against the database scripts/upgrade_check.sh restored "
            f"(CREWBUILDER_UPGRADE_DATABASE_URL); DATABASE_URL names {name!r}"
        )


@pytest.fixture(scope="session")
def manifest() -> dict:
    return json.loads((FIXTURE / "manifest.json").read_text())


@pytest.fixture(scope="session")
def snapshot_module():
    spec = importlib.util.spec_from_file_location("cb_upgrade_snapshot", SNAPSHOT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
