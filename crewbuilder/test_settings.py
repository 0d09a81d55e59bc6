"""Settings for the test suite: the production module with testing switched on.

Tests use whatever DATABASE_URL / REDIS_URL the environment gives (``.ci/run`` points them
at the local Postgres and Redis); without them they run on SQLite and in-process tasks.
"""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("CREWBUILDER_TESTING", "true")

# pytest-xdist: each worker process (gw0, gw1, …) gets its own test database (pytest-django
# suffixes the name) and its own Redis database index (base index + worker number), so the
# brokers, caches and rate limits of concurrent tests never meet. Subprocesses the tests
# start (Celery workers, gunicorn) inherit the rewritten REDIS_URL.
_xdist_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if _xdist_worker.startswith("gw") and os.environ.get("REDIS_URL"):
    _url = os.environ["REDIS_URL"].rstrip("/")
    _server, _, _index = _url.rpartition("/")
    if not _index.isdigit():  # no index in the URL: database 0
        _server, _index = _url, "0"
    os.environ["REDIS_URL"] = f"{_server}/{(int(_index) + int(_xdist_worker[2:])) % 16}"
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
