"""Settings for the test suite: the production module with testing switched on.

Tests use whatever DATABASE_URL / REDIS_URL the environment gives (``.ci/run`` points them
at the local Postgres and Redis); without them they run on SQLite and in-process tasks.
"""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("CREWBUILDER_TESTING", "true")
os.environ.setdefault("CREWBUILDER_CACHE_PREFIX", f"cbtest{os.getpid()}")

from crewbuilder.settings import *  # noqa: E402,F403

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not shared-cache memory, so threads in tests lock like the embedded default.
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": os.environ.get(
            "CREWBUILDER_TEST_SQLITE",
            os.path.join(tempfile.gettempdir(), f"crewbuilder-test-{os.getpid()}.sqlite3"),
        )
    }
