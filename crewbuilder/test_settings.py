"""Settings for the test suite: the production module with testing switched on.

Tests use whatever DATABASE_URL / REDIS_URL the environment gives (``.ci/run`` points them
at the local Postgres and Redis); without them they run on SQLite and in-process tasks.
"""

from __future__ import annotations

import os

os.environ.setdefault("CREWBUILDER_TESTING", "true")
os.environ.setdefault("CREWBUILDER_CACHE_PREFIX", f"cbtest{os.getpid()}")

from crewbuilder.settings import *  # noqa: E402,F403
