"""Every use of the cache, with the production cache entry (``redis_cache``) pointed at a
Redis port nothing listens on (a real refused connection, no mock) or at one that never
answers (a hang): what can go on without it goes on (rate limits fail open, sign-in
included; custom domains come from the database), what cannot answers 503 (a one-time
key that cannot be held), and ``/healthz`` says the cache is down."""

from __future__ import annotations

import re
import socket
import time

import pytest
from django.test import Client
from prometheus_client import REGISTRY

from accounts.branding import custom_domains, forget_custom_domains
from crewbuilder.api.throttles import _hit_all
from crewbuilder.errors import ServiceUnavailable
from crewbuilder.settings.celery import redis_cache
from generation.guest import guest_rate_check
from keys.services import one_time_key_stash
from tests.conftest import PASSWORD
from tests.faults.conftest import free_port

OPENAI_KEY = "sk-proj-" + "a" * 48


@pytest.fixture
def dead_redis(settings):
    settings.CACHES = {"default": redis_cache(f"redis://127.0.0.1:{free_port()}/0")}


@pytest.fixture
def hanging_redis(settings):
    """A port that accepts connections and never answers: each command waits for the
    cache's 1 s socket timeout."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(100)
        port = listener.getsockname()[1]
        settings.CACHES = {"default": redis_cache(f"redis://127.0.0.1:{port}/0")}
        yield


def _degraded(component: str) -> float:
    value = REGISTRY.get_sample_value(
        "crewbuilder_degraded_operations_total", {"component": component}
    )
    return value or 0.0


def test_api_rate_limiter_fails_open(dead_redis):
    before = _degraded("api_rate_limiter")
    assert _hit_all([("api-throttle:a", 60), ("api-throttle:b", 60)]) == [0, 0]
    assert _degraded("api_rate_limiter") == before + 1


def test_guest_rate_limit_fails_open(dead_redis):
    for _ in range(20):  # far over BILLING_GUEST_PER_HOUR: nothing is counted, nothing refused
        guest_rate_check(ip="203.0.113.7")


@pytest.mark.django_db
def test_custom_domains_come_from_the_database(dead_redis, tenant):
    from django.utils import timezone

    from accounts.models import OrganizationBranding

    OrganizationBranding.objects.update_or_create(
        organization=tenant.org,
        defaults={"custom_domain": "crews.acme.test", "domain_verified_at": timezone.now()},
    )
    assert custom_domains() == frozenset({"crews.acme.test"})
    forget_custom_domains()  # no error either


def test_a_one_time_key_that_cannot_be_held_is_a_503(dead_redis):
    with pytest.raises(ServiceUnavailable) as exc:
        one_time_key_stash(api_key=OPENAI_KEY, provider="openai")
    assert exc.value.status == 503 and exc.value.retry_after
    assert OPENAI_KEY not in str(exc.value)


def _csrf(html: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def _sign_in(email: str, password: str):
    """A browser: the form, then the post with its CSRF token (checked, as in production)."""
    browser = Client(enforce_csrf_checks=True)
    form = browser.get("/accounts/login/")
    assert form.status_code == 200
    response = browser.post(
        "/accounts/login/",
        {"login": email, "password": password, "csrfmiddlewaretoken": _csrf(form.content.decode())},
    )
    return browser, response


@pytest.mark.django_db
def test_sign_in_without_redis_goes_on_and_is_counted(dead_redis, tenant):
    before = _degraded("account_rate_limiter")
    browser, response = _sign_in(tenant.owner.email, PASSWORD)
    assert response.status_code == 302 and response["Location"] == "/generate/"
    page = browser.get("/generations/")  # a page that needs no queue, with the new session
    assert page.status_code == 200 and tenant.owner.email in page.content.decode()
    assert _degraded("account_rate_limiter") > before
    # a wrong password is told so, not a 503
    _, wrong = _sign_in(tenant.owner.email, "not the password")
    assert wrong.status_code == 200
    assert "password you specified are not correct" in wrong.content.decode()


@pytest.mark.django_db
def test_sign_in_with_a_hanging_redis_waits_one_timeout_not_one_per_operation(
    hanging_redis, tenant
):
    """A sign-in is about 20 cache operations; with a 1 s socket timeout each it would take
    20 s. After the first timeout the rate-limit keys stop trying Redis for a pause."""
    started = time.monotonic()
    _, response = _sign_in(tenant.owner.email, PASSWORD)
    took = time.monotonic() - started
    assert response.status_code == 302
    assert took < 4, took


@pytest.mark.django_db
def test_healthz_says_the_cache_is_down(dead_redis):
    """Its check key is not a fail-open one (the broker's check: the Redis-outage tests)."""
    response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["cache"] == {"ok": False, "backend": "unreachable"}
