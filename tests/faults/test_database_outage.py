"""The database being unavailable is a 503, not a 500 (issue 16): gunicorn (the repo's
config) on a PRIVATE PostgreSQL cluster (initdb/pg_ctl on a free port, a copy of the test
database), which the test stops (``pg_ctl stop -m fast``: every backend is terminated, as
in a restart) and starts again under load. No mock anywhere.

While it is down, every API call answers 503 in the envelope with Retry-After and every
signed-in page the 503 page — never a 500; once it is back, the same calls answer 200
again without restarting anything (the dead connections are replaced)."""

from __future__ import annotations

import time

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from accounts.models import ApiToken
from crewbuilder.api.tokens import api_token_create
from tests.conftest import require_service
from tests.factories import plan_assign
from tests.faults.conftest import app_env, gunicorn, test_database_url, wait_for
from tests.faults.load import Load

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True)]

REQ = "Collect EV battery market news, group it by theme and write a report for our executives."
OUTAGE_SECONDS = 6
KINDS = ("read", "create", "page", "anonymous")


def test_database_outage_is_503_never_500(tenant, private_postgres, private_redis, tmp_path):
    require_service("PostgreSQL", connection.vendor == "postgresql")
    plan_assign(tenant.org, "professional")
    _, raw = api_token_create(
        organization=tenant.org, actor=tenant.owner, name="load", scope=ApiToken.Scope.READ_WRITE
    )
    browser = Client()
    browser.force_login(tenant.owner)
    private_postgres.copy_from(test_database_url(), "crewbuilder")
    env = app_env(
        database_url=private_postgres.url("crewbuilder"),
        redis_url=private_redis.url,
        CREWBUILDER_API_RATE_TOKEN="100000/min",
        CREWBUILDER_API_RATE_ORG="100000/min",
    )
    api = {"Authorization": f"Bearer {raw}"}
    with gunicorn(env, tmp_path / "web.log") as web:
        assert web.client.get("/api/v1/usage/", headers=api).status_code == 200
        load = Load(web.url)

        def answered_in(phase: str) -> None:
            """Every kind of call has been answered at least once within ``phase`` (a busy
            machine may take longer than a fixed pause to get one of each through)."""
            wait_for(
                lambda: all(load.where(phase=phase, kind=kind) for kind in KINDS),
                timeout=60,
                what=f"one answer of each kind in phase {phase!r}",
            )

        load.worker(
            [
                ("read", lambda c: c.get("/api/v1/generations/")),
                ("read", lambda c: c.get("/api/v1/usage/")),
                ("read", lambda c: c.get("/api/v1/keys/")),
                (
                    "create",
                    lambda c: c.post(
                        "/api/v1/generations/",
                        json={"requirement": REQ, "key_source": "platform", "provider": "openai"},
                    ),
                ),
            ],
            headers=api,
        )
        load.worker(
            [
                ("page", lambda c: c.get("/generations/")),
                ("page", lambda c: c.get("/generate/")),
                ("page", lambda c: c.get("/settings/api-keys/")),
            ],
            cookies={settings.SESSION_COOKIE_NAME: browser.cookies["sessionid"].value},
        )
        load.worker([("anonymous", lambda c: c.get("/accounts/login/"))])
        answered_in("before")
        load.phase = "stopping"
        private_postgres.stop("fast")
        load.phase = "outage"
        started = time.monotonic()
        time.sleep(OUTAGE_SECONDS)
        answered_in("outage")
        load.phase = "starting"
        private_postgres.start()
        outage = time.monotonic() - started
        load.phase = "after"
        wait_for(
            lambda: any(r.status == 200 for r in load.where(phase="after", kind="page")),
            timeout=30,
            what="pages to answer again",
        )
        answered_in("after")
        load.stop()
        log = web.log.read_text(errors="replace")

    print("\nPostgreSQL outage", round(outage, 1), "s; statuses:", load.counts())  # noqa: T201
    results = load.results
    assert not [r for r in results if r.status == 0], "requests without an answer"
    assert not [r for r in results if r.status >= 500 and r.status != 503], (
        load.counts(),
        log[-3000:],
    )

    for kind in ("read", "create"):
        down = load.where(phase="outage", kind=kind)
        assert down and {r.status for r in down} == {503}, load.counts()
        assert {r.code for r in down} == {"service_unavailable"}
        assert all(r.retry_after and int(r.retry_after) > 0 for r in down)
    pages = load.where(phase="outage", kind="page")
    assert pages and {r.status for r in pages} == {503}, load.counts()
    assert all("briefly unavailable" in r.body and r.retry_after for r in pages)
    # the sign-in page needs no database to be shown
    assert {r.status for r in load.where(phase="outage", kind="anonymous")} <= {200, 503}
    # Before and after: the same calls answer (creates are queued; no worker runs here).
    for phase in ("before", "after"):
        assert {r.status for r in load.where(phase=phase, kind="read")} == {200}, load.counts()
        assert {r.status for r in load.where(phase=phase, kind="page")} == {200}, load.counts()
        assert {r.status for r in load.where(phase=phase, kind="create")} == {202}, load.counts()
