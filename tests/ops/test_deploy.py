"""What an operator relies on before the first request: the README lists every variable
the settings read, production refuses to start without its public URL, and the image's
build context leaves secrets and local state out. (The deployment itself is proven end to
end by the production smoke stage of .ci/run: .ci/smoke/run.)"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
# The settings package (one module per concern) and the test settings on top of it.
SETTINGS_MODULES = [
    *sorted((ROOT / "crewbuilder" / "settings").glob("*.py")),
    ROOT / "crewbuilder" / "test_settings.py",
]
ENV_READERS = {"os.environ.get", "os.getenv", "os.environ.setdefault", "os.environ.pop"}


def _reads(tree: ast.AST) -> tuple[set[str], list[str]]:
    """Variable names read through django-environ's ``env``/``env.<cast>`` or ``os.environ``,
    and a description of every read whose name is not a literal (which no check could
    follow)."""
    names: set[str] = set()
    dynamic: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = ast.unparse(node.func)
            if not (func == "env" or func.startswith("env.") or func in ENV_READERS):
                continue
            if func == "env.read_env":
                continue
            key = node.args[0] if node.args else None
        elif isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
            key = node.slice
        else:
            continue
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            names.add(key.value)
        else:
            dynamic.append(f"line {node.lineno}: {ast.unparse(node)}")
    return names, dynamic


# Set by the test tooling itself, never by an operator: pytest-xdist names its worker
# processes (gw0, gw1, …) and the test settings give each its own Redis database.
TOOLING_VARIABLES = {"PYTEST_XDIST_WORKER"}


def settings_variables() -> set[str]:
    names: set[str] = set()
    for path in SETTINGS_MODULES:
        found, _ = _reads(ast.parse(path.read_text()))
        names |= found
    return names - TOOLING_VARIABLES


def readme_table_variables() -> set[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            first_cell = line.split("|")[1]
            names |= set(re.findall(r"`([A-Z][A-Z0-9_]*)`", first_cell))
    return names


def test_readme_configuration_table_lists_exactly_the_variables_settings_read():
    read = settings_variables()
    documented = readme_table_variables()
    assert len(read) > 40  # the scan found the settings' reads at all
    assert not read - documented, (
        "Add these to the README's configuration table (meaning and default): "
        f"{sorted(read - documented)}"
    )
    assert not documented - read, (
        f"The README documents variables no setting reads: {sorted(documented - read)}"
    )


def test_settings_read_variables_by_literal_name_only():
    # A computed name would slip past the README check above.
    for path in SETTINGS_MODULES:
        _, dynamic = _reads(ast.parse(path.read_text()))
        assert dynamic == [], f"{path.name}: read variables by literal name: {dynamic}"


def test_the_scan_sees_every_way_of_reading_a_variable():
    found, dynamic = _reads(
        ast.parse(
            "A = env('ONE')\nB = env.bool('TWO', default=False)\nC = os.environ.get('THREE')\n"
            "D = os.environ['FOUR']\nE = env.list(name)\nenv.read_env(str(path))\n"
        )
    )
    assert found == {"ONE", "TWO", "THREE", "FOUR"}
    assert dynamic == ["line 5: env.list(name)"]


# --- production start-up --------------------------------------------------------------------


def _import_production_settings(**overrides: str) -> subprocess.CompletedProcess:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "CREWBUILDER_", "STRIPE_", "SENTRY_"))
    }
    env.update(
        DJANGO_DEBUG="false",
        CREWBUILDER_ENV_FILE="/nonexistent",
        DJANGO_SECRET_KEY="x" * 60,
        DJANGO_ALLOWED_HOSTS="crewbuilder.example.com",
        CREWBUILDER_ENCRYPTION_KEYS="k1:" + "A" * 43 + "=",
        CREWBUILDER_SITE_URL="https://crewbuilder.example.com/",
    )
    env.update(overrides)
    code = "import crewbuilder.settings as s; print(s.SITE_URL)"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_production_refuses_to_start_without_the_site_url():
    result = _import_production_settings(CREWBUILDER_SITE_URL="")
    assert result.returncode != 0
    assert "CREWBUILDER_SITE_URL is required in production" in result.stderr


@pytest.mark.parametrize("value", ["crewbuilder.example.com", "ftp://example.com", "https://"])
def test_production_refuses_a_site_url_that_is_not_an_absolute_http_url(value):
    result = _import_production_settings(CREWBUILDER_SITE_URL=value)
    assert result.returncode != 0
    assert "CREWBUILDER_SITE_URL must be an absolute http(s) URL" in result.stderr


def test_production_starts_with_the_site_url_and_drops_a_trailing_slash():
    result = _import_production_settings()
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "https://crewbuilder.example.com"


# --- the image's build context ----------------------------------------------------------------


def _docker_context():
    spec = importlib.util.spec_from_file_location(
        "docker_context", ROOT / "deploy" / "docker_context.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


LOCAL_STATE = [
    ".env",
    ".env.production",
    ".crewbuilder-dev-keys",
    "db.sqlite3",
    "db.sqlite3-wal",
    ".venv/bin/python",
    "venv/lib/site.py",
    "media/branding/logo.png",
    "staticfiles/staticfiles.json",
    "accounts/__pycache__/models.cpython-311.pyc",
    ".git/config",
    "crewbuilder.egg-info/PKG-INFO",
]
NEEDED = [
    "manage.py",
    "pyproject.toml",
    "deploy/build.sh",
    "crewbuilder/settings/__init__.py",
    "accounts/migrations/0001_initial.py",
    "templates/base.html",
    "static/css/app.css",
]


def test_build_context_leaves_out_secrets_and_local_state(tmp_path):
    context = _docker_context()
    (tmp_path / ".dockerignore").write_text((ROOT / ".dockerignore").read_text())
    for rel in LOCAL_STATE + NEEDED:
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    files = set(context.context_files(tmp_path))
    assert not files & set(LOCAL_STATE), sorted(files & set(LOCAL_STATE))
    assert set(NEEDED) <= files


def test_build_context_of_this_checkout_has_what_the_image_needs():
    files = set(_docker_context().context_files(ROOT))
    assert set(NEEDED) <= files
    assert "Dockerfile" in files and "docker-compose.yml" in files
    assert not {f for f in files if f.split("/")[0] in {".venv", ".git", "media", "tests"}}
    assert ".crewbuilder-dev-keys" not in files and ".env" not in files


def test_dockerignore_rules_follow_dockers_matching():
    context = _docker_context()
    rules = [
        (False, context._pattern_regex("**/*.pyc")),
        (False, context._pattern_regex("docs")),
        (True, context._pattern_regex("docs/keep.md")),
        (False, context._pattern_regex("a?c/[xy].txt")),
    ]
    assert context.is_excluded("pkg/sub/mod.pyc", rules)
    assert context.is_excluded("mod.pyc", rules)
    assert context.is_excluded("docs/other.md", rules)  # a directory excludes what is below
    assert not context.is_excluded("docs/keep.md", rules)  # the last matching line wins
    assert context.is_excluded("abc/x.txt", rules)
    assert not context.is_excluded("abc/z.txt", rules)
    assert not context.is_excluded("sub/docs", rules)  # patterns are anchored at the root
