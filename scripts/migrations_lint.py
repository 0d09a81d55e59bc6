"""Rolling-deploy safety of every migration newer than the previous release.

CI runs it (``.ci/run``, stage "upgrade"); locally::

    DATABASE_URL=postgres://… .venv/bin/python scripts/migrations_lint.py

"Newer than the previous release" is exact, not a guess from file names: the upgrade
fixture's manifest (``tests/upgrade/fixture/manifest.json``, made by the previous
release's own code) lists every migration that release applied; everything else on disk
is new. For each new migration django-migration-linter reads the SQL ``sqlmigrate``
produces on PostgreSQL and fails on what the previous release cannot run beside: dropped
or renamed columns and tables, NOT NULL without a database default, a column type change,
a unique constraint on an existing table, a data migration importing models directly.

The one exception is the *contract* half of an expand/contract pair (docs/migrations.md):
a migration whose ``Migration`` class says ``contract_of = "<app>.<migration>"``, naming
an expand migration that the previous release already shipped, and whose module docstring
says what it removes and why that is safe. It is reported, not linted.

Migrations that shipped are immutable: editing one changes new installs but not upgraded
databases, so a released migration file that differs from the release commit fails too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MANIFEST = REPO / "tests" / "upgrade" / "fixture" / "manifest.json"
DJANGO_APPS = {
    "admin",
    "auth",
    "contenttypes",
    "sessions",
    "sites",
    "messages",
    "staticfiles",
    "humanize",
}


def released_migrations() -> tuple[dict, set[tuple[str, str]]]:
    manifest = json.loads(MANIFEST.read_text())
    return manifest["release"], {(app, name) for app, name in manifest["migrations"]}


def changed_since_release(commit: str, paths: list[str]) -> list[str]:
    """Released migration files whose content differs from the release commit."""
    found = subprocess.run(
        ["git", "-C", str(REPO), "cat-file", "-e", f"{commit}^{{commit}}"],
        capture_output=True,
        check=False,
    )
    if found.returncode != 0:
        sys.exit(
            f"FAIL: the previous release's commit {commit} is not in this clone "
            "(CI needs the full history: git fetch --unshallow)."
        )
    if not paths:
        return []
    diff = subprocess.run(
        ["git", "-C", str(REPO), "diff", "--name-only", commit, "--", *paths],
        capture_output=True,
        text=True,
        check=True,
    )
    return [line for line in diff.stdout.splitlines() if line]


def main() -> int:
    sys.path.insert(0, str(REPO))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crewbuilder.settings")
    os.environ.setdefault("CREWBUILDER_TESTING", "true")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.conf import settings
    from django_migration_linter import MigrationLinter

    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        print("FAIL: the migration linter reads PostgreSQL's SQL; set DATABASE_URL to PostgreSQL")
        return 1

    release, released = released_migrations()
    linter = MigrationLinter(path=str(REPO), database="default", no_cache=True)
    on_disk = {
        key: migration
        for key, migration in linter.migration_loader.disk_migrations.items()
        if key[0] not in DJANGO_APPS
    }
    print(
        f"Previous release {release['version']} ({release['commit'][:10]}): "
        f"{len(released & on_disk.keys())} released migrations, "
        f"{len(on_disk.keys() - released)} new."
    )

    problems: list[str] = []
    released_files = []
    for app, name in sorted(released & on_disk.keys()):
        module = sys.modules[on_disk[(app, name)].__module__]
        path = Path(module.__file__).resolve()
        if REPO in path.parents:
            released_files.append(str(path.relative_to(REPO)))
    for path in changed_since_release(release["commit"], released_files):
        problems.append(f"{path}: a released migration was edited (add a new migration instead)")

    for app, name in sorted(on_disk.keys() - released):
        migration = on_disk[(app, name)]
        contract_of = getattr(migration, "contract_of", None)
        if contract_of is None:
            linter.lint_migration(migration)
            continue
        expand = tuple(str(contract_of).split(".", 1))
        doc = (sys.modules[migration.__module__].__doc__ or "").strip()
        if expand not in released:
            problems.append(
                f"({app}, {name}) is marked contract_of={contract_of!r}, but that expand "
                f"migration is not in release {release['version']}: ship the expand half "
                "in one release and the contract half in a later one"
            )
        elif not doc:
            problems.append(
                f"({app}, {name}) is a contract migration without a module docstring saying "
                "what it removes and why nothing running still needs it"
            )
        else:
            print(f"({app}, {name})... CONTRACT of {contract_of} (released): not linted")
            linter.nb_total += 1
            linter.nb_ignored += 1

    linter.print_summary()
    for problem in problems:
        print(f"ERROR: {problem}")
    if linter.has_errors or problems:
        print(
            "FAIL: a migration is not safe while the previous release still runs "
            "(docs/migrations.md explains expand/contract)."
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
