"""Shared fixtures: alice owns an organisation, bob is a member of it, charlie is an
outsider who owns a different organisation (healthchecks' alice/bob/charlie)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from accounts.models import Membership, Organization, Role, User
from generation.selectors import llm_catalogue_forget
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

PASSWORD = "correct horse battery staple"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

# tests/upgrade needs the previous release's database, restored and migrated by
# scripts/upgrade_check.sh (CI stage "upgrade"), which runs it on its own.
collect_ignore = [] if os.environ.get("CREWBUILDER_UPGRADE_DATABASE_URL") else ["upgrade"]


@pytest.fixture(autouse=True)
def _model_catalogue_forgotten():
    """Each process keeps the model catalogue for a while (generation.selectors); a test's
    rolled-back rows must not outlive it, so every test starts from the database."""
    llm_catalogue_forget()
    yield
    llm_catalogue_forget()


@dataclass
class Tenant:
    org: Organization
    owner: User
    member: User
    outsider: User
    outsider_org: Organization

    def client_for(self, user: User) -> Client:
        client = Client()
        client.force_login(user)
        return client


@pytest.fixture
def tenant(db) -> Tenant:
    org = OrganizationFactory(name="Acme")
    alice = UserFactory(email="alice@acme.test")
    bob = UserFactory(email="bob@acme.test")
    MembershipFactory(organization=org, user=alice, role=Role.OWNER)
    MembershipFactory(organization=org, user=bob, role=Role.MEMBER)
    other = OrganizationFactory(name="Globex")
    charlie = UserFactory(email="charlie@globex.test")
    MembershipFactory(organization=other, user=charlie, role=Role.OWNER)
    return Tenant(org=org, owner=alice, member=bob, outsider=charlie, outsider_org=other)


@pytest.fixture
def owner_client(tenant: Tenant) -> Client:
    return tenant.client_for(tenant.owner)


@pytest.fixture
def member_client(tenant: Tenant) -> Client:
    return tenant.client_for(tenant.member)


@pytest.fixture
def outsider_client(tenant: Tenant) -> Client:
    return tenant.client_for(tenant.outsider)


def require_service(name: str, available: bool) -> None:
    """Skip locally when a service is missing, but fail in CI where it is required."""
    if available:
        return
    message = f"{name} is required for this test and is unreachable"
    if IN_CI or os.environ.get("CREWBUILDER_REQUIRE_SERVICES"):
        pytest.fail(message)
    pytest.skip(message)


# Debian's Chromium for the browser tests (Playwright's own build is never downloaded).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_chromium() -> None:
    require_service(f"Chromium ({CHROMIUM})", Path(CHROMIUM).exists())


@pytest.fixture
def browser():
    """Chromium, headless, driven by Playwright's sync API on the test's thread."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def session_cookies(user: User, base_url: str) -> list[dict]:
    """A signed-in session for ``user``, as the cookies a browser context adds."""
    client = Client()
    client.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    return [{"name": name, "value": client.cookies[name].value, "url": base_url}]


@pytest.fixture
def redis_url() -> str:
    url = settings.REDIS_URL
    ok = False
    if url:
        import redis

        try:
            ok = bool(redis.Redis.from_url(url, socket_connect_timeout=2).ping())
        except redis.RedisError:
            ok = False
    require_service("Redis (REDIS_URL)", ok)
    return url


@pytest.fixture
def postgres(db) -> None:
    from django.db import connection

    require_service("PostgreSQL (DATABASE_URL)", connection.vendor == "postgresql")


def membership(org: Organization, user: User) -> Membership:
    return Membership.objects.get(organization=org, user=user)


@pytest.fixture
def fake_llm(settings):
    """A fake OpenAI + Anthropic server over real HTTP on 127.0.0.1 (tests/fakes/llm.py);
    settings.OPENAI_BASE_URL / ANTHROPIC_BASE_URL point the SDKs at it for the test."""
    from tests.fakes.llm import FakeLLM

    with FakeLLM() as fake:
        settings.OPENAI_BASE_URL = fake.openai_base_url
        settings.ANTHROPIC_BASE_URL = fake.anthropic_base_url
        yield fake


@pytest.fixture
def dns_server(settings):
    """A local authoritative DNS server over real UDP (tests/fakes/dns.py); the app's
    resolver (CREWBUILDER_DNS_RESOLVER) points at it for the test."""
    from tests.fakes.dns import FakeDNS

    with FakeDNS() as server:
        settings.CREWBUILDER_DNS_RESOLVER = server.address
        settings.CREWBUILDER_DNS_TIMEOUT_SECONDS = 2.0
        yield server
