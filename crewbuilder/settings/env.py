"""The environment reader every settings module shares, and the two switches the others
depend on: ``DEBUG`` (the embedded default) and ``TESTING`` (the test suite)."""

from __future__ import annotations

import os
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
# A `.env` file is read when present (read only: nothing is written at import).
_env_file = Path(os.environ.get("CREWBUILDER_ENV_FILE", BASE_DIR / ".env"))
if _env_file.is_file():
    env.read_env(str(_env_file))

DEBUG = env.bool("DJANGO_DEBUG", default=False)
TESTING = env.bool("CREWBUILDER_TESTING", default=False)
