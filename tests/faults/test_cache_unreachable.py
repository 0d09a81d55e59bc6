"""Every use of the cache, with the cache pointed at a Redis port nothing listens on (a
real refused connection, no mock): what can go on without it goes on (rate limits fail
open, custom domains come from the database), what cannot answers 503 (a one-time key
that cannot be held), and a page whose library needs the cache (allauth's sign-in rate
limit) shows the 503 page instead of a 500."""

from __future__ import annotations

import pytest
from django.test import Client
from prometheus_client import REGISTRY

from accounts.branding import custom_domains, forget_custom_domains
from crewbuilder.api.throttles import _hit_all
from crewbuilder.errors import ServiceUnavailable
from generation.guest import guest_rate_check
from keys.services import one_time_key_stash
from tests.conftest import PASSWORD
from tests.faults.conftest import free_port

OPENAI_KEY = "sk-proj-" + "a" * 48


@pytest.fixture
def dead_redis(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 1.0, "socket_timeout": 1.0},
        }
    }


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


@pytest.mark.django_db
def test_sign_in_without_redis_is_the_503_page(dead_redis, tenant):
    response = Client().post(
        "/accounts/login/", {"login": tenant.owner.email, "password": PASSWORD}
    )
    assert response.status_code == 503
    assert "briefly unavailable" in response.content.decode()
    assert int(response["Retry-After"]) > 0
