"""pyproject.toml declares what the code imports, and nothing the project does not use:
every third-party module imported by our code, tests, benchmarks and CI scripts comes from
a pinned requirement, and every pinned requirement is imported somewhere or named below
with the reason it is needed without an import."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)
SOURCES = ["accounts", "keys", "billing", "generation", "crewbuilder", "tests", "bench",
           "scripts", ".ci", "manage.py"]  # fmt: skip
FIRST_PARTY = {"accounts", "keys", "billing", "generation", "crewbuilder", "tests"}
# Declared but never imported by name, and why they are needed.
USED_WITHOUT_IMPORT = {
    "drf-spectacular-sidecar": "INSTALLED_APPS: Swagger UI served from local assets",
    "whitenoise": "MIDDLEWARE and STORAGES (settings/base.py)",
    "pytest-django": "pytest plugin (settings, db fixtures)",
    "pytest-xdist": "pytest plugin: one test process per core (`make test`)",
    "ruff": "linter and formatter (.ci/run)",
    "mypy": "type checker (.ci/run)",
    "import-linter": "the floors' import contracts (.ci/run)",
    "django-stubs": "types for mypy",
    "djangorestframework-stubs": "types for mypy",
    "types-pyyaml": "types for mypy",
    "types-requests": "types for mypy",
}


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared() -> dict[str, str]:
    """Every requirement of pyproject.toml (default and extras): normalised name → spec."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        specs += extra
    out = {}
    for spec in specs:
        name = re.match(r"[A-Za-z0-9_.-]+", spec).group(0)
        out[_normalise(name)] = spec
    return out


def imported_distributions() -> dict[str, set[str]]:
    """Distribution (normalised) → the files importing it, for every non-stdlib import."""
    owners = importlib.metadata.packages_distributions()
    found: dict[str, set[str]] = {}
    for source in SOURCES:
        path = ROOT / source
        files = [path] if path.is_file() else path.rglob("*.py")
        for file in files:
            rel = file.relative_to(ROOT)
            # generated projects declare their own dependencies; npm's tree is not ours
            if {"project_template", "node_modules", "fixture"} & set(rel.parts):
                continue
            for node in ast.walk(ast.parse(file.read_text(), str(rel))):
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules = [node.module]
                else:
                    continue
                for module in modules:
                    top = module.split(".")[0]
                    if top in sys.stdlib_module_names or top in FIRST_PARTY or top == "__future__":
                        continue
                    for dist in owners.get(top, [f"<not installed: {top}>"]):
                        found.setdefault(_normalise(dist), set()).add(str(rel))
    return found


def test_every_imported_package_is_declared_with_an_exact_pin():
    requirements = declared()
    undeclared = {
        dist: sorted(files)[:3]
        for dist, files in imported_distributions().items()
        if dist not in requirements
    }
    assert not undeclared, f"imported but not in pyproject.toml: {undeclared}"
    loose = [spec for spec in requirements.values() if "==" not in spec]
    assert not loose, f"pins must be exact: {loose}"


def test_every_declared_package_is_used():
    imported = imported_distributions()
    unused = [
        spec
        for name, spec in declared().items()
        if name not in imported and name not in USED_WITHOUT_IMPORT
    ]
    assert not unused, f"declared but never imported (remove, or say why): {unused}"
    stale = sorted(set(USED_WITHOUT_IMPORT) & set(imported))
    assert not stale, f"imported after all, drop from USED_WITHOUT_IMPORT: {stale}"
