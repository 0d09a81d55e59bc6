"""Query-count guards for the API's hot paths (issue #6's benchmark): an enqueue and a
detail must not creep back up. The token lookup is the one read that brings the token,
its organisation, the creator's role and the billing account with its plan; nothing
after it reads the role or the billing account again. The rules those reads feed (plan
gate, role, past-due pause, quota) still apply on the very next request.

Counts are with the test's own transaction around the request (``generation_create``'s
transaction is a SAVEPOINT/RELEASE pair here, BEGIN/COMMIT in production: the same count).
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from accounts.models import Membership, Role, User
from billing.models import BillingAccount, Plan
from billing.services import billing_plan_assign
from generation import selectors as catalogue_selectors
from generation.models import Generation, LlmModel
from generation.selectors import CATALOGUE_SECONDS
from tests.api.conftest import ApiClient, error_of

GENERATIONS = "/api/v1/generations/"
BODY = {
    "requirement": "Every morning, read new support tickets and draft replies for the team.",
    "key_source": "platform",
    "provider": "openai",
}

# token+org+role+billing+plan, savepoint, daily cap UPDATE, quota UPDATE, charge INSERT,
# generation INSERT, audit INSERT, release. (The model catalogue is kept by the process:
# the warm-up request read it.)
CREATE_QUERIES = 8
# … plus the idempotency lookup and the insert-first savepoint pair with the UPDATE of the
# charge onto the row (the race on the key must be lost before anything is reserved).
CREATE_WITH_KEY_QUERIES = 12
ADMIN_FIELDS = (
    "provider",
    "name",
    "label",
    "model_class",
    "input_cents_per_million",
    "output_cents_per_million",
    "active",
    "is_default",
    "sort_order",
)

# token+org+role+billing+plan, the generation (without its zip bytes).
DETAIL_QUERIES = 2


@pytest.fixture(autouse=True)
def _platform_key(settings):
    """CrewBuilder AI on the platform key (the benchmark's paid path); runs never start
    here because on-commit callbacks do not fire inside the test transaction."""
    settings.OPENAI_API_KEY = "sk-test-platform-key-never-called-00000000"
    settings.CREWBUILDER_GENERATION_RUNNER = "sync"


def _warm(client: ApiClient) -> dict:
    """First request of the day: creates the usage counters and writes last_used_at."""
    response = client.post_json(GENERATIONS, BODY)
    assert response.status_code == 202, response.content
    return response.json()


def _sql(queries) -> list[str]:
    return [q["sql"] for q in queries.captured_queries]


def test_api_create_costs_eight_queries_and_reads_role_and_billing_once(
    api, django_assert_num_queries
):
    client = api.owner
    _warm(client)
    with django_assert_num_queries(CREATE_QUERIES) as queries:
        response = client.post_json(GENERATIONS, BODY)
    assert response.status_code == 202, response.content
    assert response.json()["charged_as"] == "quota"
    sql = _sql(queries)
    assert sum("billing_billingaccount" in q for q in sql) == 1  # in the token lookup only
    assert sum("accounts_membership" in q for q in sql) == 1
    assert "billing_billingaccount" in sql[0] and "accounts_membership" in sql[0]
    assert not any(q.startswith('UPDATE "generation_generation"') for q in sql)
    assert Generation.objects.filter(organization=api.tenant.org).count() == 2


def test_api_create_with_a_new_idempotency_key_costs_twelve_queries(api, django_assert_num_queries):
    client = api.owner
    _warm(client)
    with django_assert_num_queries(CREATE_WITH_KEY_QUERIES):
        response = client.post_json(GENERATIONS, BODY, headers={"Idempotency-Key": "perf-1"})
    assert response.status_code == 202, response.content
    replay = client.post_json(GENERATIONS, BODY, headers={"Idempotency-Key": "perf-1"})
    assert replay.json()["id"] == response.json()["id"]
    assert replay.json()["charged_as"] == "quota"


def test_an_operators_catalogue_change_applies_to_the_next_request(api, tenant):
    """The process keeps the catalogue, but a change saved in the admin drops its copy: the
    next enqueue sees it (here: the default model moved to gpt-4o)."""
    client = api.owner
    assert _warm(client)["model"] == "gpt-4o-mini"
    staff = User.objects.create_user(email="ops@crewbuilder.test", password="x", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="change_llmmodel"))
    operator = Client()
    operator.force_login(staff)
    for name, default in (("gpt-4o-mini", False), ("gpt-4o", True)):
        row = LlmModel.objects.get(provider="openai", name=name)
        form = {f: getattr(row, f) for f in ADMIN_FIELDS} | {"is_default": default}
        url = f"/admin/generation/llmmodel/{row.pk}/change/"
        response = operator.post(url, {k: v for k, v in form.items() if v is not False})
        assert response.status_code == 302, response.content.decode()[:2000]
    response = client.post_json(GENERATIONS, BODY)
    assert response.status_code == 202, response.content
    assert response.json()["model"] == "gpt-4o"


def test_another_process_catalogue_change_applies_within_the_catalogue_lifetime(api, monkeypatch):
    """A change this process did not make (another web process's admin save; here an UPDATE
    without signals) is seen once the kept copy is CATALOGUE_SECONDS old."""
    client = api.owner
    _warm(client)
    LlmModel.objects.filter(provider="openai", name="gpt-4o-mini").update(active=False)
    kept = client.post_json(GENERATIONS, BODY | {"model": "gpt-4o-mini"})
    assert kept.status_code == 202  # still in this process's copy
    assert CATALOGUE_SECONDS == 30.0  # the lifetime README's operations section states
    monkeypatch.setattr(catalogue_selectors, "CATALOGUE_SECONDS", 0.0)  # the copy is now old
    refused = client.post_json(GENERATIONS, BODY | {"model": "gpt-4o-mini"})
    assert refused.status_code == 400
    assert "gpt-4o-mini" in error_of(refused)["fields"]["model"][0]


def test_api_detail_costs_two_queries(api, django_assert_num_queries):
    client = api.owner
    created = _warm(client)
    with django_assert_num_queries(DETAIL_QUERIES) as queries:
        response = client.get(f"{GENERATIONS}{created['id']}/")
    assert response.status_code == 200
    assert response.json()["id"] == created["id"]
    assert '"zip_data"' not in _sql(queries)[-1]  # the detail never loads the zip bytes


def test_plan_downgrade_between_requests_is_seen_by_the_next_request(api, tenant):
    client = api.owner
    _warm(client)
    billing_plan_assign(organization=tenant.org, plan=Plan.objects.get(slug="basic"), actor=None)
    response = client.post_json(GENERATIONS, BODY)
    assert response.status_code == 403
    assert error_of(response)["code"] == "plan_not_allowed"


def test_past_due_account_read_with_the_token_still_pauses_platform_generations(api, tenant):
    client = api.owner
    _warm(client)
    BillingAccount.objects.filter(organization=tenant.org).update(
        plan_source=BillingAccount.PlanSource.STRIPE, subscription_status="past_due"
    )
    before = Generation.objects.filter(organization=tenant.org).count()
    response = client.post_json(GENERATIONS, BODY)
    assert response.status_code == 402
    assert Generation.objects.filter(organization=tenant.org).count() == before


def test_quota_limit_read_with_the_token_still_refuses_the_next_generation(api, tenant):
    client = api.owner
    _warm(client)
    BillingAccount.objects.filter(organization=tenant.org).update(generations_override=1)
    response = client.post_json(GENERATIONS, BODY)
    assert response.status_code == 402
    assert error_of(response)["code"]


def test_demoted_creator_cannot_enqueue_on_the_next_request(api, tenant):
    client = api.owner
    _warm(client)
    Membership.objects.filter(organization=tenant.org, user=tenant.owner).update(role=Role.VIEWER)
    before = Generation.objects.filter(organization=tenant.org).count()
    response = client.post_json(GENERATIONS, BODY)
    assert response.status_code == 403
    assert Generation.objects.filter(organization=tenant.org).count() == before


def _state(token) -> dict:
    org = token.organization
    account = getattr(org, "billing_account", None)
    return {
        "token": {f.attname: getattr(token, f.attname) for f in token._meta.concrete_fields},
        "role": token.creator_role,
        "org": {f.attname: getattr(org, f.attname) for f in org._meta.concrete_fields},
        "user": {
            f.attname: getattr(token.created_by, f.attname)
            for f in token.created_by._meta.concrete_fields
        },
        "account": None
        if account is None
        else {f.attname: getattr(account, f.attname) for f in account._meta.concrete_fields},
        "plan": None if account is None or account.plan is None else account.plan.slug,
    }


def test_prepared_token_lookup_builds_what_the_orm_query_builds(
    api, tenant, django_assert_num_queries
):
    from crewbuilder.api.tokens import _token_lookup, _token_queryset

    prefix = api.owner_raw[3:15]
    orm = next(iter(_token_queryset(prefix)))
    with django_assert_num_queries(1):
        prepared = _token_lookup(prefix)
        state = _state(prepared)  # everything came with the one row
    assert state == _state(orm)
    assert state["plan"] == "professional" and state["role"] == "owner"
    assert _token_lookup("0" * 12) is None


def test_prepared_token_lookup_caches_a_missing_billing_account_as_none(
    api, tenant, django_assert_num_queries
):
    from billing.tenancy import organization_billing_account
    from crewbuilder.api.tokens import _token_lookup

    BillingAccount.objects.filter(organization=tenant.org).delete()
    token = _token_lookup(api.owner_raw[3:15])
    with django_assert_num_queries(0):  # the lookup brought the account's absence too
        assert organization_billing_account(token.organization) is None
    response = api.owner.get(GENERATIONS)  # Free without an account: no API access
    assert response.status_code == 403
    assert error_of(response)["code"] == "plan_not_allowed"
