"""Real database faults mid-generation: the run's PostgreSQL backend is terminated with
``pg_terminate_backend`` at chosen points of every stage and of the failure path, and the
generation must still end exactly once, charged (or given back) exactly once.

How the fault is placed: ``connection.execute_wrapper`` (Django's public hook) sees each
query the run is about to send. When the next step of a test's plan matches the query, the
test terminates *the backend of the connection that is about to run it* (psycopg's
``info.backend_pid``) from a separate connection, waits until PostgreSQL has removed that
backend, and only then lets the query go: the query meets a dead connection, exactly as
after a database restart or an idle-connection kill (a termination just before a query is
indistinguishable from one while the connection sat idle). Nothing is mocked: the error
the run sees is the one the server and psycopg produce.

The runs happen inline (``sync`` runner) in the test's thread, so the data is committed
and the test uses a transactional database. ``CREWBUILDER_GENERATION_DB_RETRY_SECONDS``
keeps its default (60 s) except where a test exhausts it on purpose; the backoff's first
waits are a quarter second, so a case costs about a second.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import psycopg
import pytest
from django.db import connection

from billing.models import GenerationCharge
from billing.selectors import usage_for
from generation import services
from generation.models import Generation
from tests.generation.conftest import assign_plan

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

REQ = "Collect EV battery market news, group it by theme and write a report for our executives."
GEN_TABLE = '"generation_generation"'
CHARGE_TABLE = '"billing_generationcharge"'


# --------------------------------------------------------------------------- the injector


def _lock_of_generation(sql: str, params) -> bool:
    """SELECT … FOR UPDATE of a generation: the claim, the finishing and failing steps."""
    return sql.startswith("SELECT") and f"FROM {GEN_TABLE}" in sql and "FOR UPDATE" in sql


def _stage_update(stage: str):
    def matches(sql: str, params) -> bool:
        return (
            sql.startswith(f"UPDATE {GEN_TABLE} SET")
            and '"stage" = ' in sql
            and stage in (params or ())
        )

    return matches


def _charge_update(sql: str, params) -> bool:
    """billing's conditional UPDATE of the charge: commit (success) or release (failure)."""
    return sql.startswith(f"UPDATE {CHARGE_TABLE} SET")


def _daily_usage_update(sql: str, params) -> bool:
    return sql.startswith('UPDATE "billing_dailyusage" SET')


def _retry_scheduled(sql: str, params) -> bool:
    return sql.startswith(f"UPDATE {GEN_TABLE} SET") and '"retries" = ' in sql


STEPS = {
    "designing: claim": _lock_of_generation,
    "rendering": _stage_update("rendering"),
    "checking": _stage_update("checking"),
    "packaging": _stage_update("packaging"),
    "finishing: lock": _lock_of_generation,
    "finishing: charge commit": _charge_update,
    "failing: lock": _lock_of_generation,
    "failing: charge release": _charge_update,
    "failing: daily usage": _daily_usage_update,
    "retry scheduled": _retry_scheduled,
}


@dataclass
class BackendKiller:
    """An execute wrapper that terminates the run's backend before each planned query."""

    admin: psycopg.Connection
    plan: list[str]
    killed: list[tuple[str, int]] = field(default_factory=list)

    def __call__(self, execute, sql, params, many, context):
        if self.plan and STEPS[self.plan[0]](sql, params):
            label = self.plan.pop(0)
            pid = context["connection"].connection.info.backend_pid
            self._terminate(pid)
            self.killed.append((label, pid))
        return execute(sql, params, many, context)

    def _terminate(self, pid: int) -> None:
        with self.admin.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(%s)", [pid])
            assert cur.fetchone()[0] is True, f"backend {pid} was not terminated"
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                cur.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
                if cur.fetchone()[0] == 0:
                    return
                time.sleep(0.01)
        raise AssertionError(f"backend {pid} still alive 10 s after pg_terminate_backend")


@pytest.fixture
def admin_connection(postgres):
    """A connection of the test's own, outside Django, that terminates the run's backend."""
    s = connection.settings_dict
    with psycopg.connect(
        host=s["HOST"] or "127.0.0.1",
        port=s["PORT"] or 5432,
        user=s["USER"],
        password=s["PASSWORD"] or None,
        dbname=s["NAME"],
        autocommit=True,
        application_name="crewbuilder-test-killer",
    ) as admin:
        yield admin


@pytest.fixture
def kill(admin_connection):
    """``with kill(*steps) as killer:`` — terminate the run's backend at each step, in order."""
    from contextlib import contextmanager

    @contextmanager
    def run(*plan: str):
        killer = BackendKiller(admin=admin_connection, plan=list(plan))
        with connection.execute_wrapper(killer):
            yield killer
        assert killer.plan == [], f"planned terminations never happened: {killer.plan}"
        assert [label for label, _ in killer.killed] == list(plan)
        # the run finished on a fresh backend, not on one of the terminated ones
        connection.ensure_connection()
        assert connection.connection.info.backend_pid not in {pid for _, pid in killer.killed}

    return run


def _create(tenant) -> Generation:
    g = services.generation_create(
        organization=tenant.org,
        user=tenant.owner,
        requirement=REQ,
        key_source="platform",
        provider="openai",
    )
    g.refresh_from_db()
    return g


def _assert_charged_once(tenant, g: Generation) -> None:
    assert (g.status, g.stage, g.progress) == ("succeeded", "done", 100)
    assert g.checks and all(c["passed"] for c in g.checks)
    assert len({f["path"] for f in g.files}) == len(g.files) and g.zip_data
    charge = GenerationCharge.objects.get(generation_id=g.id)
    assert (charge.charged_as, charge.status) == ("quota", "committed")
    assert usage_for(tenant.org)["used"] == 1


def _assert_given_back_once(tenant, g: Generation, code: str) -> None:
    assert (g.status, g.error_code) == ("failed", code)
    charge = GenerationCharge.objects.get(generation_id=g.id)
    assert (charge.charged_as, charge.status) == ("quota", "released")
    assert usage_for(tenant.org)["used"] == 0


# --------------------------------------------------------------------------- success paths

SUCCESS_PLANS = {
    "designing": ["designing: claim", "rendering"],
    "rendering twice in a row": ["rendering", "rendering"],
    "checking and packaging": ["checking", "packaging"],
    "finishing, also mid-transaction": ["finishing: lock", "finishing: charge commit"],
    "every stage twice": [
        "designing: claim",
        "designing: claim",
        "rendering",
        "rendering",
        "checking",
        "checking",
        "packaging",
        "packaging",
        "finishing: lock",
        "finishing: lock",
        "finishing: charge commit",
        "finishing: charge commit",
    ],
}


@pytest.mark.parametrize("plan", SUCCESS_PLANS.values(), ids=SUCCESS_PLANS.keys())
def test_backend_terminated_mid_stage_still_succeeds_once_charged_once(
    tenant, kill, platform_openai, plan
):
    assign_plan(tenant.org, "basic")
    with kill(*plan):
        g = _create(tenant)
    _assert_charged_once(tenant, g)
    assert g.runs == 1  # the same run carried on: no second claim, no retry
    assert len(platform_openai.requests) == 1  # and the provider was asked once


def test_database_away_longer_than_the_wait_resumes_the_same_claim(
    tenant, kill, settings, platform_openai
):
    """Past ``CREWBUILDER_GENERATION_DB_RETRY_SECONDS`` the run is not failed: the task is
    retried with its claim token and the generation completes once."""
    settings.CREWBUILDER_GENERATION_DB_RETRY_SECONDS = 0
    assign_plan(tenant.org, "basic")
    with kill("rendering"):
        g = _create(tenant)
    _assert_charged_once(tenant, g)
    assert (g.runs, g.error_code) == (1, "")  # resumed under the same claim, not failed


def test_backend_terminated_while_a_provider_retry_is_scheduled(tenant, kill, platform_openai):
    assign_plan(tenant.org, "basic")
    platform_openai.push_error(429)  # then the default design
    with kill("retry scheduled", "designing: claim"):
        g = _create(tenant)
    _assert_charged_once(tenant, g)
    assert (g.runs, g.retries, g.provider) == (2, 1, "openai")
    assert len(platform_openai.requests) == 2


# --------------------------------------------------------------------------- failure path


def test_backend_terminated_in_the_failure_path_gives_back_once(tenant, kill, platform_openai):
    assign_plan(tenant.org, "basic")
    platform_openai.push_error(401)
    with kill("failing: lock", "failing: charge release", "failing: daily usage"):
        g = _create(tenant)
    _assert_given_back_once(tenant, g, "auth_failed")
    assert g.runs == 1


def test_backend_terminated_twice_while_failing_a_timed_out_run(
    tenant, kill, settings, platform_openai
):
    settings.CREWBUILDER_GENERATION_SOFT_TIME_LIMIT = 0  # the deadline passes at once
    assign_plan(tenant.org, "basic")
    with kill("failing: lock", "failing: lock"):
        g = _create(tenant)
    _assert_given_back_once(tenant, g, "timeout")


def test_failure_path_survives_a_connection_that_died_before_it(
    tenant, admin_connection, monkeypatch, platform_openai
):
    """The failure handler's first query meets a connection that died before it (the
    issue's ``OperationalError('the connection is lost')`` after a crash): it reconnects,
    fails the generation once and gives the charge back once."""
    assign_plan(tenant.org, "basic")
    with monkeypatch.context() as m:
        m.setattr("generation.tasks.generation_enqueue", lambda generation_id: None)
        g = _create(tenant)  # queued and charged, not run
    connection.ensure_connection()
    killer = BackendKiller(admin=admin_connection, plan=[])
    killer._terminate(connection.connection.info.backend_pid)
    assert services.generation_fail(generation_id=g.id, code="internal_error", message="Oops.")
    g.refresh_from_db()
    _assert_given_back_once(tenant, g, "internal_error")
    assert not services.generation_fail(generation_id=g.id, code="internal_error", message="x")
