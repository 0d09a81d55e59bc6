#!/usr/bin/env bash
# Print the path of a virtualenv holding a CrewBuilder source tree's *production*
# dependencies (its pyproject's [project].dependencies, nothing from the dev extra),
# building it on first use. Venvs are cached by the hash of the Python version and that
# dependency list, so CI on the same machine reuses the previous release's venv:
#   CREWBUILDER_RELEASE_VENV_CACHE (default ~/.cache/crewbuilder-ci/release-venvs)
# The source tree itself is not installed: run it with PYTHONPATH=<src> from <src>.
#
#   venv=$(scripts/release_venv.sh /tmp/old-src)
set -euo pipefail
src=${1:?usage: release_venv.sh <source dir with pyproject.toml>}
python=${PYTHON:-python3}
cache=${CREWBUILDER_RELEASE_VENV_CACHE:-$HOME/.cache/crewbuilder-ci/release-venvs}
mkdir -p "$cache"

reqs=$("$python" - "$src/pyproject.toml" <<'PY'
import sys, tomllib
with open(sys.argv[1], "rb") as f:
    print("\n".join(tomllib.load(f)["project"]["dependencies"]))
PY
)
key=$( { "$python" -c 'import sys; print(sys.version)'; printf '%s\n' "$reqs"; } | sha256sum | cut -c1-16)
venv="$cache/$key"

# One builder at a time per venv; a venv without its marker was interrupted: rebuild it.
exec 9>"$venv.lock"
flock 9
if [ ! -f "$venv/.complete" ]; then
  rm -rf "$venv"
  echo "building the release venv $venv (first use on this machine)" >&2
  "$python" -m venv "$venv"
  printf '%s\n' "$reqs" > "$venv/requirements.txt"
  if ! { "$venv/bin/python" -m pip install --quiet --upgrade pip \
         && "$venv/bin/python" -m pip install --quiet -r "$venv/requirements.txt"; } >"$venv.log" 2>&1; then
    tail -n 40 "$venv.log" >&2
    echo "FAIL: could not install the release's dependencies into $venv" >&2
    exit 1
  fi
  touch "$venv/.complete"
fi
echo "$venv"
