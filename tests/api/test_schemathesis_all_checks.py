"""Issue 12 item 7: schemathesis's own CLI with ``--checks all`` against the live API.

The app is served over real HTTP (pytest-django's live server, the test database) and
``st run`` explores the published schema with every check — status codes, content types,
headers and bodies against the schema, negative data rejected, positive data accepted,
missing auth header, unsupported methods, stateful links (use after free, resource
availability) — with a bounded number of examples and a fixed seed. It must report no
failure. Providers point at the local fake; throttling is off so the run is deterministic.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rest_framework.settings import api_settings

from accounts.models import ApiToken
from crewbuilder.api.tokens import api_token_create
from tests.factories import plan_assign

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

MAX_EXAMPLES = int(os.environ.get("CREWBUILDER_SCHEMATHESIS_EXAMPLES", "12"))


def test_schemathesis_with_every_check_finds_nothing(
    live_server, tenant, fake_llm, settings, tmp_path
):
    rf = dict(api_settings.user_settings)
    rf["DEFAULT_THROTTLE_RATES"] = {"api_token": None, "api_org": None}
    settings.REST_FRAMEWORK = rf
    settings.OPENAI_API_KEY = ""
    settings.ANTHROPIC_API_KEY = ""
    settings.CREWBUILDER_GENERATION_RUNNER = "sync"
    plan_assign(tenant.org, "professional")
    _, token = api_token_create(
        organization=tenant.org, actor=tenant.owner, name="fuzz", scope=ApiToken.Scope.READ_WRITE
    )
    st = shutil.which("st", path=str(Path(sys.executable).parent))
    assert st, "schemathesis CLI (st) is not installed: make install-dev"
    started = time.monotonic()
    result = subprocess.run(  # noqa: S603 - our own venv's CLI, fixed arguments
        [
            st,
            "--config-file",
            str(Path(__file__).with_name("schemathesis.toml")),
            "run",
            f"{live_server.url}/api/v1/schema/",
            "--checks",
            "all",
            "--max-examples",
            str(MAX_EXAMPLES),
            "--seed",
            "12",
            "--generation-deterministic",
            "--header",
            f"Authorization: Bearer {token}",
            "--request-timeout",
            "60",
            "--workers",
            "1",
            "--no-color",
            "--warnings",
            "off",
        ],
        cwd=tmp_path,  # its caches (.hypothesis, .schemathesis) stay out of the checkout
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    took = time.monotonic() - started
    output = result.stdout + result.stderr
    print(f"schemathesis --checks all: {took:.1f}s\n{output[-4000:]}")
    assert result.returncode == 0, output[-20000:]
