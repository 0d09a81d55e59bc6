"""Signing in during a Redis outage, on a production-shaped stack: gunicorn (the repo's
config) whose cache and broker point at a PRIVATE redis-server, pytest's PostgreSQL test
database, and a browser's way of signing in (GET the form, POST it with the CSRF token
and cookie, follow the redirect). Redis is stopped for 15 s and started again, no mock:

- while it is down, every sign-in with the right password lands on a page (sessions are
  in PostgreSQL; allauth's rate limits fail open, counted in
  ``crewbuilder_degraded_operations_total{component="account_rate_limiter"}`` and
  logged once), a wrong password is told so (not a 503), pages that do not need the
  queue answer 200, and ``/healthz`` says the cache and broker are down;
- once it is back, the limits are enforced again: five wrong passwords for one address,
  and the right one is refused too.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import dataclass

import httpx
import pytest
from django.db import connection

from crewbuilder.cache import FAIL_OPEN_RETRY_SECONDS
from tests.conftest import PASSWORD
from tests.faults.conftest import app_env, gunicorn, test_database_url

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

OUTAGE_SECONDS = 15
WRONG = "not the password at all"
REFUSED = "Too many failed login attempts"
INVALID = "The email address and/or password you specified are not correct"


@dataclass(frozen=True)
class SignIn:
    status: int  # of the POST
    landed: int | None  # the status of the page it redirected to (302 only)
    text: str  # the POST's body, or the landing page's


def _csrf(html: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def sign_in(url: str, email: str, password: str) -> SignIn:
    """A browser signing in: the form, then the post with its CSRF token and cookie."""
    with httpx.Client(base_url=url, timeout=30) as browser:
        form = browser.get("/accounts/login/")
        assert form.status_code == 200, form.text[-2000:]
        posted = browser.post(
            "/accounts/login/",
            data={"login": email, "password": password, "csrfmiddlewaretoken": _csrf(form.text)},
        )
        if posted.status_code != 302:
            return SignIn(posted.status_code, None, posted.text)
        page = browser.get(posted.headers["Location"])
        # pages that do not need the queue, with the new session
        for path in ("/generations/", "/settings/api-keys/"):
            other = browser.get(path)
            assert other.status_code == 200, (path, other.status_code)
        return SignIn(302, page.status_code, page.text)


def _degraded(web) -> float:
    metrics = web.client.get("/metrics", headers={"Authorization": "Bearer metrics-token"})
    assert metrics.status_code == 200
    found = re.search(
        r'crewbuilder_degraded_operations_total\{component="account_rate_limiter"\} (\S+)',
        metrics.text,
    )
    return float(found.group(1)) if found else 0.0


@pytest.fixture
def web(private_redis, tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (sessions shared with gunicorn)")
    env = app_env(
        database_url=test_database_url(),
        redis_url=private_redis.url,
        CREWBUILDER_METRICS_TOKEN="metrics-token",
        LOG_LEVEL="INFO",
    )
    with gunicorn(env, tmp_path / "web.log") as web:
        yield web


def test_sign_in_works_while_redis_is_down_and_is_limited_again_after(web, private_redis, tenant):
    owner, member = tenant.owner.email, tenant.member.email
    first = sign_in(web.url, owner, PASSWORD)
    assert (first.status, first.landed) == (302, 200)
    assert web.client.get("/healthz").status_code == 200

    private_redis.stop()
    started = time.monotonic()
    outage: list[SignIn] = []
    while time.monotonic() - started < OUTAGE_SECONDS:
        outage.append(sign_in(web.url, owner, PASSWORD))
    wrong = sign_in(web.url, member, WRONG)
    health = web.client.get("/healthz")
    degraded = _degraded(web)
    private_redis.start()
    print(  # noqa: T201
        f"\nsign-ins during a {OUTAGE_SECONDS} s Redis outage: {len(outage)}, "
        f"{dict(Counter((s.status, s.landed) for s in outage))}; "
        f"degraded operations counted: {degraded:.0f}"
    )

    assert {(s.status, s.landed) for s in outage} == {(302, 200)}
    assert all(owner in s.text for s in outage)  # signed in as herself
    assert wrong.status == 200 and INVALID in wrong.text  # told, not a 503
    assert health.status_code == 503
    checks = health.json()["checks"]
    assert (checks["cache"]["ok"], checks["broker"]["ok"], checks["database"]["ok"]) == (
        False,
        False,
        True,
    )
    assert degraded >= len(outage)  # each sign-in went on without Redis, and was counted
    log = web.log.read_text()
    assert '"status_code": 500' not in log, log[-4000:]
    assert log.count("account_rate_limiter: Redis unavailable") == 1  # once per outage

    # Back: after the fail-open pause (no sign-in touched Redis for it), the limits count
    # again. Five wrong passwords for one address …
    time.sleep(FAIL_OPEN_RETRY_SECONDS)
    for _ in range(5):
        attempt = sign_in(web.url, member, WRONG)
        assert attempt.status == 200 and INVALID in attempt.text
    # … and the right one is refused too: the limit holds.
    refused = sign_in(web.url, member, PASSWORD)
    assert refused.status == 200 and REFUSED in refused.text
    # Another address from the same network still signs in (the per-address limit).
    again = sign_in(web.url, owner, PASSWORD)
    assert (again.status, again.landed) == (302, 200)
    assert web.client.get("/healthz").status_code == 200
    assert "account_rate_limiter: Redis is back" in web.log.read_text()
