"""Releases: one version, shown to operators and by /healthz; a changelog section per
version; the upgrade fixture comes from the latest release."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
from django.test import Client
from packaging.version import Version

from crewbuilder import __version__
from tests.factories import UserFactory

ROOT = Path(__file__).resolve().parents[2]


def _released_versions() -> list[str]:
    """Versions with a dated section in CHANGELOG.md, newest first."""
    text = (ROOT / "CHANGELOG.md").read_text()
    return re.findall(r"^## (\d+\.\d+\.\d+) — \d{4}-\d{2}-\d{2}$", text, flags=re.M)


def test_the_version_is_written_once_and_pyproject_reads_it():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"]
    assert "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "crewbuilder.__version__"
    }
    Version(__version__)  # a valid PEP 440 version


def test_the_changelog_has_a_section_for_this_version_and_each_release():
    text = (ROOT / "CHANGELOG.md").read_text()
    current = Version(__version__)
    if current.is_devrelease:
        assert f"## Unreleased ({current.base_version})" in text
    else:
        assert __version__ in _released_versions()
    released = _released_versions()
    assert "0.1.0" in released
    assert [Version(v) for v in released] == sorted((Version(v) for v in released), reverse=True)
    assert all(Version(v) < current or v == __version__ for v in released)


def test_the_upgrade_fixture_comes_from_the_latest_release():
    manifest = json.loads((ROOT / "tests/upgrade/fixture/manifest.json").read_text())
    latest = next(v for v in _released_versions() if Version(v) < Version(__version__))
    assert manifest["release"]["version"] == latest, (
        "regenerate the fixture from the latest release: scripts/upgrade_fixture/make.sh "
        f"v{latest} (docs/RELEASING.md)"
    )
    assert re.fullmatch(r"[0-9a-f]{40}", manifest["release"]["commit"])


@pytest.mark.django_db
def test_healthz_reports_the_version(client: Client):
    assert client.get("/healthz").json()["version"] == __version__


@pytest.mark.django_db
def test_operators_see_the_version_in_the_footer_and_customers_do_not(tenant):
    operator = UserFactory(email="ops@crewbuilder.test", is_staff=True)
    staff = Client()
    staff.force_login(operator)
    assert f"CrewBuilder {__version__}" in staff.get("/pricing/").content.decode()
    customer = tenant.client_for(tenant.owner).get("/generations/").content.decode()
    assert __version__ not in customer
    assert __version__ not in Client().get("/pricing/").content.decode()
