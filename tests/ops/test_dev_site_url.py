"""The embedded default (``make run``, DEBUG, no CREWBUILDER_SITE_URL) emails links to the
port it serves on: ``PORT=8350 make run`` must not send people to :8000."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIRMATION_LINK = """
import django
django.setup()
from accounts.adapters import AccountAdapter
class Confirmation:
    key = "k3y"
print(AccountAdapter().get_email_confirmation_url(None, Confirmation()))
"""


def _confirmation_link(tmp_path, **env: str) -> str:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CREWBUILDER_", "DJANGO_")) and k not in {"PORT", "DATABASE_URL"}
    }
    clean.update(
        DJANGO_SETTINGS_MODULE="crewbuilder.settings",
        DJANGO_DEBUG="true",
        CREWBUILDER_ENV_FILE=str(tmp_path / "no.env"),
        CREWBUILDER_ENCRYPTION_KEYS="t:" + "A" * 43 + "=",
        **env,
    )
    done = subprocess.run(
        [sys.executable, "-c", CONFIRMATION_LINK],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"PORT": "8350"}, "http://127.0.0.1:8350/accounts/confirm-email/k3y/"),
        ({}, "http://127.0.0.1:8000/accounts/confirm-email/k3y/"),
        (
            {"PORT": "8350", "CREWBUILDER_SITE_URL": "https://crews.example.com"},
            "https://crews.example.com/accounts/confirm-email/k3y/",
        ),
    ],
    ids=["port-8350", "default-port", "explicit-site-url-wins"],
)
def test_development_email_links_follow_the_port_make_run_serves_on(tmp_path, env, expected):
    assert _confirmation_link(tmp_path, **env) == expected
