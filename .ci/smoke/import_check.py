"""Import every module of the project, and every module production loads lazily, in the
production virtualenv (`pip install .` only) with production settings.

A module that exists but cannot be imported because something it imports is missing is a
dependency `pip install .` does not bring (kombu's Redis transport needs `packaging`, for
one, and is imported only when the worker first talks to the broker). The project's
packages are imported from the installed copy (this script's directory, not the source
tree, is first on sys.path), so a subpackage missing from the wheel fails too.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
import traceback
import warnings

import django

PROJECT_PACKAGES = ["crewbuilder", "accounts", "keys", "billing", "generation"]
# Loaded by a process only when it gets there: gunicorn's threaded worker (--threads) and
# Celery's thread pool (--pool threads) as started by docker-compose.yml.
RUNTIME_MODULES = ["gunicorn.workers.gthread", "celery.concurrency.thread"]


def dotted_paths(value, found: set[str]) -> set[str]:
    """Every string in the settings that looks like a dotted import path."""
    if isinstance(value, str):
        parts = value.split(".")
        if len(parts) > 1 and all(p.isidentifier() for p in parts):
            found.add(value)
    elif isinstance(value, dict):
        for item in value.values():
            dotted_paths(item, found)
    elif isinstance(value, list | tuple | set):
        for item in value:
            dotted_paths(item, found)
    return found


def import_longest_module(path: str) -> None:
    """Import the longest importable prefix of ``path`` (a module, or a module then an
    attribute). Raises when a module that exists fails to import."""
    parts = path.split(".")
    for n in range(len(parts), 0, -1):
        name = ".".join(parts[:n])
        try:
            importlib.import_module(name)
            return
        except ModuleNotFoundError as exc:
            if exc.name is not None and name.startswith(exc.name):
                continue  # ``name`` (or its parent) is not a module: try a shorter prefix
            raise


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crewbuilder.settings")
    # BASE_DIR is the installed copy's here, which has no staticfiles/ (the app's has).
    warnings.filterwarnings("ignore", message="No directory at")
    django.setup()
    from django.conf import settings

    from crewbuilder.celery import app

    failures: list[str] = []
    checked = 0

    def check(name: str, load) -> None:
        nonlocal checked
        checked += 1
        try:
            load()
        except Exception:
            failures.append(f"{name}:\n{traceback.format_exc(limit=-3)}")

    for top in PROJECT_PACKAGES:
        package = importlib.import_module(top)
        for info in pkgutil.walk_packages(package.__path__, f"{top}."):
            check(info.name, lambda n=info.name: importlib.import_module(n))
    settings_paths = dotted_paths({k: getattr(settings, k) for k in dir(settings)}, set())
    for path in sorted(settings_paths):
        check(path, lambda p=path: import_longest_module(p))
    for name in RUNTIME_MODULES:
        check(name, lambda n=name: importlib.import_module(n))
    # The broker transport named by REDIS_URL, as the worker, beat and web load it.
    check("broker transport", lambda: app.connection_for_write().transport)

    for failure in failures:
        print(f"IMPORT FAILED {failure}", file=sys.stderr)
    print(f"{checked} imports checked ({len(settings_paths)} dotted paths from settings)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
