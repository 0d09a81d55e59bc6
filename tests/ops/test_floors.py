"""The floors (README "Layout"), checked on the source with ``ast`` in a fraction of a
second. ``lint-imports`` (CI) checks that imports point down; this checks what it cannot
see: an import *inside a function* that crosses from one app to another, the way cycles
used to be hidden (issue #13 counted 23). A lower app that must react to an upper one
listens for a signal instead (``accounts/signals.py``)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = ("accounts", "keys", "billing", "generation", "crewbuilder")


def _function_imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(function):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.append((node.lineno, node.module))
            elif isinstance(node, ast.Import):
                found += [(node.lineno, alias.name) for alias in node.names]
    return found


def _crossings() -> list[str]:
    crossings = set()
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for line, module in _function_imports(path):
                top = module.split(".")[0]
                if top in APPS and top != app:
                    crossings.add(f"{path.relative_to(ROOT).as_posix()}:{line} imports {module}")
    return sorted(crossings)


def test_no_app_imports_another_app_inside_a_function():
    assert _crossings() == []


def test_the_check_sees_an_import_inside_a_function(tmp_path):
    module = tmp_path / "sample.py"
    module.write_text(
        "import os\n\ndef f():\n    from billing.selectors import entitlements_for\n"
        "    import generation.models\n    return os\n"
    )
    assert _function_imports(module) == [(4, "billing.selectors"), (5, "generation.models")]
