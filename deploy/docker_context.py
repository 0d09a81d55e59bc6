"""The files ``docker build .`` sends as its context: the tree minus ``.dockerignore``.

CI's production smoke stage (.ci/smoke/run) builds from a copy made with these rules, so a
file the image needs but ``.dockerignore`` leaves out fails CI, and tests/ops/test_deploy.py
checks that secrets and local state (``.env``, the dev key file, SQLite, venvs, media) stay
out. Docker's rules: patterns are relative to the context root, ``*``/``?`` do not cross
``/``, ``**`` matches any number of directories, a pattern that matches a directory
excludes everything below it, ``!`` re-includes, and the last matching line wins.

    python deploy/docker_context.py SOURCE DEST   # copy SOURCE's context into DEST
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1 : end].replace("\\", "\\\\")
                out.append("[" + ("^" + body[1:] if body.startswith("^") else body) + "]")
                i = end
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("^" + "".join(out) + "$")


def read_patterns(root: Path) -> list[tuple[bool, re.Pattern[str]]]:
    """``(negated, regex)`` per line of ``root/.dockerignore``."""
    path = root / ".dockerignore"
    rules = []
    if not path.is_file():
        return rules
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        line = os.path.normpath(line.lstrip("!").strip()).lstrip("/")
        rules.append((negated, _pattern_regex(line)))
    return rules


def is_excluded(relpath: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    parts = relpath.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for negated, regex in rules:
        if any(regex.match(candidate) for candidate in candidates):
            excluded = not negated
    return excluded


def context_files(root: Path) -> list[str]:
    """Relative paths (``/``-separated) of every file in the build context, sorted."""
    root = Path(root)
    rules = read_patterns(root)
    can_prune = not any(negated for negated, _ in rules)
    files = []
    for current, dirs, names in os.walk(root):
        rel_dir = os.path.relpath(current, root)
        prefix = "" if rel_dir == "." else rel_dir.replace(os.sep, "/") + "/"
        if can_prune:
            dirs[:] = [d for d in dirs if not is_excluded(prefix + d, rules)]
        files.extend(prefix + n for n in names if not is_excluded(prefix + n, rules))
    return sorted(files)


def copy_context(source: Path, dest: Path) -> int:
    count = 0
    for rel in context_files(source):
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / rel, target, follow_symlinks=False)
        count += 1
    return count


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    n = copy_context(Path(sys.argv[1]), Path(sys.argv[2]))
    print(f"{n} files in the build context")
