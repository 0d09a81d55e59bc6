"""Settings for the upgrade test (scripts/upgrade_check.sh → ``pytest tests/upgrade``): the
test settings, run against the restored and migrated fixture database as it is.

The fixture's passwords were hashed by the previous release's production hasher (PBKDF2),
so production's hashers are back; generations run inline."""

from __future__ import annotations

from django.conf import global_settings

from crewbuilder.test_settings import *  # noqa: F403

PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
CREWBUILDER_GENERATION_RUNNER = "sync"
