"""The promise: a provider key never appears in plaintext anywhere we write.

A canary key goes through every flow (store by plain post, a replace refused for want of
confirmation, a confirmed replace by browser-encrypted post, test over real HTTP, use via
provider_key_resolve, record use, delete, one-time stash/take, a rejected bad-format
post, the admin pages). Afterwards it is absent from every database table (all columns of
all rows, as text and bytes), every Redis value, every log record of every logger at
DEBUG (raw, before redaction), every response body and every email.
"""

from __future__ import annotations

import base64
import json
import re

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.urls import reverse

from keys import services
from keys.models import ProviderKey
from keys.transport import transport_encrypt_for_tests
from tests.factories import UserFactory

CANARY = "sk-proj-CANARYvault0123456789abcdefghijKLMN"
CANARY_2 = "sk-proj-CANARYvaultREPLACED0123456789abcdOPQR"
CANARY_OT = "sk-ant-api03-CANARYvaultONETIME0123456789abcdef"
CANARIES = [CANARY, CANARY_2, CANARY_OT]


def _needles() -> list[bytes]:
    out = []
    for canary in CANARIES:
        raw = canary.encode()
        out += [raw, base64.b64encode(raw), base64.urlsafe_b64encode(raw), raw.hex().encode()]
        out.append(re.sub(rb"^sk-(proj-|ant-api03-)", b"", raw))  # the distinctive body alone
    return out


def _assert_clean(blob: bytes | str, where: str) -> None:
    data = blob.encode() if isinstance(blob, str) else blob
    for needle in _needles():
        assert needle not in data, f"canary found in {where}"


def _dump_database() -> bytes:
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            for row in cursor.fetchall():
                for value in row:
                    if isinstance(value, memoryview | bytes | bytearray):
                        chunks.append(bytes(value))
                    else:
                        chunks.append(str(value).encode())
    return b"\n".join(chunks)


def _dump_redis(url: str) -> bytes:
    import redis

    client = redis.Redis.from_url(url)
    chunks = []
    for name in client.scan_iter():
        chunks.append(name)
        kind = client.type(name)
        if kind == b"string":
            chunks.append(client.get(name) or b"")
        elif kind == b"hash":
            for k, v in client.hgetall(name).items():
                chunks += [k, v]
        elif kind == b"list":
            chunks += client.lrange(name, 0, -1)
        elif kind == b"set":
            chunks += list(client.smembers(name))
        elif kind == b"zset":
            chunks += client.zrange(name, 0, -1)
    return b"\n".join(chunks)


def _jwk(html: str) -> dict:
    match = re.search(
        r'<script id="keycrypt-jwk" type="application/json">(.*?)</script>', html, re.S
    )
    return json.loads(match.group(1))


def _run_every_flow(tenant, fake_provider, responses: list, capture) -> None:
    owner = tenant.client_for(tenant.owner)
    member = tenant.client_for(tenant.member)
    outsider = tenant.client_for(tenant.outsider)
    url = "/settings/api-keys/"

    def keep(response):
        responses.append(response)
        return response

    # store (plain post), then a bad-format post that must not echo anything
    assert (
        keep(
            owner.post(url, {"provider": "openai", "scope": "organization", "api_key": CANARY})
        ).status_code
        == 302
    )
    assert (
        keep(
            owner.post(url, {"provider": "anthropic", "scope": "user", "api_key": CANARY})
        ).status_code
        == 400
    )
    key = ProviderKey.objects.get()
    # a replace that was not confirmed (plain post): refused, the new key not echoed
    assert (
        keep(
            owner.post(url, {"provider": "openai", "scope": "organization", "api_key": CANARY_2})
        ).status_code
        == 409
    )
    # replace, confirmed (browser-encrypted post)
    sealed = transport_encrypt_for_tests(CANARY_2, _jwk(keep(owner.get(url)).content.decode()))
    assert (
        keep(
            owner.post(
                url,
                {
                    "provider": "openai",
                    "scope": "organization",
                    "api_key": sealed,
                    "replace": "on",
                },
            )
        ).status_code
        == 302
    )
    # test over real HTTP (htmx and plain), including a rejection
    keep(owner.post(reverse("keys:key_test", args=[key.pk]), follow=True))  # rejected
    fake_provider.valid_keys.add(CANARY_2)
    assert (
        "Connected"
        in keep(
            owner.post(reverse("keys:key_test", args=[key.pk]), HTTP_HX_REQUEST="true")
        ).content.decode()
    )
    # use by a member through the resolver, and its audit
    resolved = services.provider_key_resolve(
        organization=tenant.org, user=tenant.member, provider="openai"
    )
    assert resolved.secret == CANARY_2
    _assert_clean(repr(resolved), "ResolvedKey repr")
    services.provider_key_record_use(
        key_id=resolved.key_id, generation_id="9f0c", actor=tenant.member
    )
    with capture(execute=True):  # the owner's email goes out on commit
        services.provider_key_mark_invalid(
            key_id=resolved.key_id, reason=f"provider said no to {CANARY_2}"
        )
    # everyone's pages
    for client in (owner, member, outsider):
        keep(client.get(url))
    keep(outsider.post(reverse("keys:key_test", args=[key.pk])))
    keep(member.post(reverse("keys:key_remove", args=[key.pk])))
    # the operator (superuser) in the admin
    operator = UserFactory(email="ops@crewbuilder.test", is_staff=True, is_superuser=True)
    admin = Client()
    admin.force_login(operator)
    for path in (
        "/admin/keys/providerkey/",
        f"/admin/keys/providerkey/{key.pk}/change/",
        "/admin/keys/organizationdatakey/",
        "/admin/keys/transportkey/",
        "/admin/accounts/auditevent/",
        f"/admin/keys/providerkey/?q={key.fingerprint}",
    ):
        response = keep(admin.get(path))
        assert response.status_code == 200, path
    # one-time key: stash, take (single use)
    ref = services.one_time_key_stash(api_key=CANARY_OT, provider="anthropic")
    _assert_clean(ref, "one-time ref")
    one_time = services.provider_key_resolve(
        organization=tenant.org, user=tenant.owner, provider="anthropic", one_time_ref=ref
    )
    assert one_time.secret == CANARY_OT
    # a second one-time key left waiting in the cache (as during a queued generation)
    services.one_time_key_stash(api_key=CANARY_OT, provider="anthropic")
    # delete
    assert keep(owner.post(reverse("keys:key_remove", args=[key.pk]))).status_code == 302
    assert not ProviderKey.objects.exists()


def _assert_everything_clean(responses, all_logs):
    for response in responses:
        _assert_clean(response.content, f"response {response.request['PATH_INFO']}")
        _assert_clean(str(response.headers), "response headers")
    _assert_clean(_dump_database(), "the database")
    _assert_clean(all_logs.text(), "a log record")
    for message in mail.outbox:
        _assert_clean(message.message().as_bytes(), "an email")


def test_canary_absent_from_db_logs_responses_admin_and_email(
    tenant, master_keys, fake_provider, all_logs, caplog, django_capture_on_commit_callbacks
):
    caplog.set_level("DEBUG")
    responses: list = []
    _run_every_flow(tenant, fake_provider, responses, django_capture_on_commit_callbacks)
    assert len(mail.outbox) == 1  # the owner was told the key went invalid
    assert any(r.name == "httpx2" or r.name.startswith("openai") for r in all_logs.records)
    _assert_everything_clean(responses, all_logs)
    _assert_clean(caplog.text, "caplog")


def test_canary_absent_from_every_redis_value(
    redis_url, tenant, master_keys, fake_provider, all_logs, django_capture_on_commit_callbacks
):
    responses: list = []
    _run_every_flow(tenant, fake_provider, responses, django_capture_on_commit_callbacks)
    dump = _dump_redis(redis_url)
    assert b"keys:ot:" in dump  # the waiting one-time key really is in Redis, sealed
    _assert_clean(dump, "Redis")
    _assert_everything_clean(responses, all_logs)


@pytest.mark.parametrize("canary", CANARIES)
def test_the_checker_would_notice_a_leak(canary):
    with pytest.raises(AssertionError):
        _assert_clean(f"xx{canary}yy", "self-test")


CANARY_GEN = "sk-proj-CANARYvaultGENERATION0123456789abcdSTUV"
REQUIREMENT = (
    "Research the top five competitors in the meal-kit market each week and write a short "
    "pricing comparison for our marketing team."
)


def _generation_flows(tenant, fake_llm, settings, capture, responses: list) -> None:
    """A one-time generation (owner) and a stored-organisation-key generation (member),
    through the real pages, the real pipeline (inline runner) and the fake provider."""
    from generation.models import Generation

    settings.CREWBUILDER_GENERATION_RUNNER = "sync"
    settings.OPENAI_API_KEY = ""
    settings.ANTHROPIC_API_KEY = ""
    owner = tenant.client_for(tenant.owner)
    member = tenant.client_for(tenant.member)
    payload = {"requirement": REQUIREMENT, "template": "", "model": ""}
    with capture(execute=True):
        responses.append(
            owner.post(
                "/generate/",
                {
                    **payload,
                    "key_choice": "one_time",
                    "one_time_provider": "openai",
                    "api_key": CANARY_GEN,
                },
            )
        )
    assert responses[-1].status_code == 302, responses[-1].content[:500]
    one_time = Generation.objects.get(key_source="one_time")
    assert one_time.status == "succeeded", (one_time.error_code, one_time.error_message)
    assert fake_llm.requests[-1].api_key == CANARY_GEN  # really used at the provider
    services.provider_key_store(
        organization=tenant.org, actor=tenant.owner, provider="openai", api_key=CANARY
    )
    with capture(execute=True):
        responses.append(member.post("/generate/", {**payload, "key_choice": "openai"}))
    stored = Generation.objects.get(key_source="stored")
    assert stored.status == "succeeded", (stored.error_code, stored.error_message)
    assert fake_llm.requests[-1].api_key == CANARY
    for client, generation in ((owner, one_time), (member, stored)):
        responses.append(client.get(f"/generations/{generation.pk}/"))
        responses.append(client.get("/generations/"))
    responses.append(tenant.client_for(tenant.owner).get("/settings/api-keys/"))
    assert "1 generation" in responses[-1].content.decode()  # usage this month


def test_canary_absent_after_one_time_and_stored_key_generations(
    tenant, master_keys, fake_llm, settings, all_logs, django_capture_on_commit_callbacks
):
    responses: list = []
    _generation_flows(tenant, fake_llm, settings, django_capture_on_commit_callbacks, responses)
    for response in responses:
        for needle in (CANARY_GEN.encode(), CANARY.encode()):
            assert needle not in response.content
    database = _dump_database()
    logs = all_logs.text()
    for needle in (CANARY_GEN, CANARY):
        assert needle.encode() not in database
        assert needle not in logs


def test_canary_absent_from_redis_after_generations(
    redis_url, tenant, master_keys, fake_llm, settings, django_capture_on_commit_callbacks
):
    responses: list = []
    _generation_flows(tenant, fake_llm, settings, django_capture_on_commit_callbacks, responses)
    dump = _dump_redis(redis_url)
    for needle in (CANARY_GEN, CANARY):
        assert needle.encode() not in dump
