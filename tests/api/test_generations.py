"""``/api/v1/generations/``: create (202, idempotent), list (paginated, newest first),
detail, download; 402 when nothing pays; a one-time key never leaks; concurrency on one
Idempotency-Key creates one generation."""

from __future__ import annotations

import hashlib
import logging
import threading
import uuid

import pytest
from django.db import connection

from accounts.models import AuditEvent
from billing.models import BillingAccount
from crewbuilder.api.generations import request_fingerprint
from generation.models import Generation
from tests.api.conftest import ApiClient, error_of

GENERATIONS = "/api/v1/generations/"
REQUIREMENT = "Every morning, read new support tickets and draft replies for the team."
BODY = {"requirement": REQUIREMENT, "key_source": "platform", "provider": "openai"}
CANARY = "sk-proj-CANARYoneTIMEkeyNEVERleak0123456789"
CONTRACT_FIELDS = {
    "id",
    "status",
    "stage",
    "progress",
    "requirement",
    "provider",
    "model",
    "key_source",
    "charged_as",
    "created_at",
    "started_at",
    "finished_at",
    "usage",
    "design",
    "files",
    "checks",
    "error",
    "worker_lost",  # contract addition (0.2.0): recovery of a lost worker is visible
}


@pytest.fixture(autouse=True)
def _inline_runs_without_platform_keys(settings):
    """Runs happen inline when a test executes on-commit callbacks; no platform key, so
    CrewBuilder AI means the deterministic designer and nothing leaves the machine."""
    settings.CREWBUILDER_GENERATION_RUNNER = "sync"
    settings.OPENAI_API_KEY = ""
    settings.ANTHROPIC_API_KEY = ""


def _create(client: ApiClient, body=None, key: str | None = None):
    headers = {"Idempotency-Key": key} if key else {}
    return client.post_json(GENERATIONS, body or BODY, headers=headers)


def test_create_returns_202_with_the_contract_shape(api):
    response = _create(api.owner)
    assert response.status_code == 202
    body = response.json()
    assert set(body) == CONTRACT_FIELDS
    assert body["status"] == "queued" and body["requirement"] == REQUIREMENT
    generation = Generation.objects.get(pk=body["id"])
    assert generation.organization == api.tenant.org
    assert generation.user == api.tenant.owner
    assert generation.idempotency_key is None


def test_create_validates_input_with_field_messages(api):
    response = _create(api.owner, {"requirement": "short", "key_source": "x", "provider": "y"})
    assert response.status_code == 400
    assert set(error_of(response)["fields"]) == {"requirement", "key_source", "provider"}
    assert not Generation.objects.exists()


def test_unknown_model_is_a_400_from_the_service(api):
    response = _create(api.owner, {**BODY, "model": "gpt-nonexistent"})
    assert response.status_code == 400
    assert "model" in error_of(response)["fields"]


def test_read_token_cannot_create(api):
    response = _create(api.reader)
    assert response.status_code == 403
    assert error_of(response)["code"] == "insufficient_scope"
    assert not Generation.objects.exists()


def test_402_when_no_quota_and_no_credit(api, settings, tenant):
    settings.OPENAI_API_KEY = "sk-platform-key-for-billing-000000000000"
    BillingAccount.objects.filter(organization=tenant.org).update(generations_override=0)
    response = _create(api.owner)
    assert response.status_code == 402
    assert error_of(response)["code"] == "payment_required"
    assert not Generation.objects.exists()


# --- idempotency ------------------------------------------------------------------------


def test_same_key_and_body_returns_the_same_generation(api):
    first = _create(api.owner, key="order-42")
    second = _create(api.owner, key="order-42")
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    assert Generation.objects.count() == 1
    stored = Generation.objects.get()
    assert stored.idempotency_key == "order-42"
    assert stored.request_fingerprint == request_fingerprint(
        {**BODY, "model": None, "api_key": None, "template": None}
    )


def test_same_key_with_another_body_is_a_409(api):
    assert _create(api.owner, key="order-43").status_code == 202
    response = _create(api.owner, {**BODY, "provider": "anthropic"}, key="order-43")
    assert response.status_code == 409
    assert error_of(response)["code"] == "idempotency_conflict"
    assert Generation.objects.count() == 1


def test_idempotency_keys_are_per_organisation(api):
    mine = _create(api.owner, key="shared-key").json()["id"]
    theirs = _create(api.outsider, key="shared-key").json()["id"]
    assert mine != theirs
    assert Generation.objects.get(pk=theirs).organization == api.tenant.outsider_org


def test_blank_optional_fields_equal_omitted_ones_for_idempotency(api):
    first = _create(api.owner, key="k1")
    second = _create(api.owner, {**BODY, "model": "", "template": None}, key="k1")
    assert second.status_code == 202 and first.json()["id"] == second.json()["id"]


def test_bad_idempotency_key_is_a_400(api):
    response = _create(api.owner, key="has space")
    assert response.status_code == 400
    assert "Idempotency-Key" in error_of(response)["fields"]
    assert _create(api.owner, key="x" * 256).status_code == 400


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_requests_with_one_key_create_one_generation(api, postgres):
    """Eight clients race with the same key and body: one row, every answer is that row."""
    results: list[tuple[int, str]] = []
    barrier = threading.Barrier(8)

    def worker():
        try:
            client = ApiClient(api.owner_raw)
            barrier.wait(timeout=10)
            response = _create(client, key="race-1")
            results.append((response.status_code, response.json().get("id", "")))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == 8
    assert {status for status, _ in results} == {202}
    assert len({gid for _, gid in results}) == 1
    assert Generation.objects.filter(idempotency_key="race-1").count() == 1


# --- one-time keys never leak -------------------------------------------------------------


def test_one_time_key_is_absent_from_responses_logs_audit_and_database(api, caplog):
    body = {**BODY, "key_source": "one_time", "api_key": CANARY}
    with caplog.at_level(logging.DEBUG):
        first = _create(api.owner, body, key="otk-1")
        replay = _create(api.owner, body, key="otk-1")
        conflict = _create(api.owner, {**body, "api_key": CANARY + "X"}, key="otk-1")
        invalid = _create(api.owner, {**body, "requirement": "short"})
    assert first.status_code == 202 and replay.status_code == 202
    assert conflict.status_code == 409  # another key is another request
    assert invalid.status_code == 400
    for response in (first, replay, conflict, invalid):
        assert CANARY not in response.content.decode()
    assert CANARY not in caplog.text
    generation = Generation.objects.get(pk=first.json()["id"])
    row = Generation.objects.filter(pk=generation.pk).values().get()
    assert all(CANARY not in str(value) for value in row.values())
    assert hashlib.sha256(CANARY.encode()).hexdigest() not in str(row)
    assert all(CANARY not in str(e) for e in AuditEvent.objects.values())


def test_fingerprint_hides_the_one_time_key_behind_a_server_keyed_hmac():
    base = {**BODY, "key_source": "one_time", "model": None, "template": None}
    a = request_fingerprint({**base, "api_key": CANARY})
    b = request_fingerprint({**base, "api_key": CANARY + "X"})
    plain = dict(base, api_key=CANARY)
    naive = hashlib.sha256(str(sorted(plain.items())).encode()).hexdigest()
    assert a != b and a != naive and len(a) == 64


# --- list, detail, download -------------------------------------------------------------


def test_list_is_paginated_newest_first_and_only_mine(api):
    ids = [_create(api.owner).json()["id"] for _ in range(3)]
    _create(api.outsider)
    page = api.reader.get(GENERATIONS, {"page_size": 2}).json()
    assert [row["id"] for row in page["results"]] == ids[::-1][:2]
    assert page["next"]
    rest = api.reader.get(page["next"]).json()
    assert [row["id"] for row in rest["results"]] == ids[:1]
    assert set(rest["results"][0]) == CONTRACT_FIELDS


def test_detail_and_download_after_the_run(api, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        created = _create(api.owner).json()
    detail = api.reader.get(f"{GENERATIONS}{created['id']}/")
    assert detail.status_code == 200
    body = detail.json()
    assert body["status"] == "succeeded", body
    assert body["files"] and body["design"]["name"]
    download = api.reader.get(f"{GENERATIONS}{created['id']}/download/")
    assert download.status_code == 200
    assert download["Content-Type"] == "application/zip"
    assert download.content[:2] == b"PK"
    assert download["Content-Disposition"].startswith("attachment;")


def test_download_before_success_is_a_409(api):
    created = _create(api.owner).json()
    response = api.owner.get(f"{GENERATIONS}{created['id']}/download/")
    assert response.status_code == 409
    assert error_of(response)["code"] == "not_ready"


def test_outsider_gets_404_for_my_generation(api):
    created = _create(api.owner).json()
    assert api.outsider.get(f"{GENERATIONS}{created['id']}/").status_code == 404
    assert api.outsider.get(f"{GENERATIONS}{created['id']}/download/").status_code == 404
    assert api.outsider.get(f"{GENERATIONS}{uuid.uuid4()}/").status_code == 404


def test_detail_and_create_query_counts_are_bounded(api, django_assert_max_num_queries):
    client = ApiClient(api.owner_raw)
    created = _create(client).json()
    with django_assert_max_num_queries(4):
        assert client.get(f"{GENERATIONS}{created['id']}/").status_code == 200
    with django_assert_max_num_queries(6):
        assert client.get(GENERATIONS).status_code == 200
    with django_assert_max_num_queries(20):
        assert _create(client).status_code == 202


def test_a_tampered_cursor_is_a_400(api):
    response = api.reader.get(GENERATIONS, {"cursor": "not-a-cursor"})
    assert response.status_code == 400
    assert "cursor" in error_of(response)["fields"]


def test_daily_cap_is_a_429_with_retry_after_until_midnight_utc(api, settings, tenant):
    settings.OPENAI_API_KEY = "sk-platform-key-for-billing-000000000000"
    BillingAccount.objects.filter(organization=tenant.org).update(daily_cap=0)
    response = _create(api.owner)
    assert response.status_code == 429
    assert error_of(response)["code"] == "daily_cap_reached"
    assert 1 <= int(response["Retry-After"]) <= 86400
    assert not Generation.objects.exists()
