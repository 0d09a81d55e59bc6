"""Signed deliveries to a real local receiver: the documented client verifies them, order,
retries with backoff for at least 24 h, giving up, disabling a failing endpoint with an
email, secret rotation with an overlap, resend, and de-duplication."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from crewbuilder.webhooks import services
from crewbuilder.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from tests.generation.conftest import create_generation
from tests.webhooks.docs_client import verify

REQ = "Every Monday read the new support tickets and draft a short reply for each one."
ALL_EVENTS = [
    "generation.succeeded",
    "generation.failed",
    "generation.needs_input",
    "usage.limit_reached",
]


def _endpoint(pro, receiver, events=None, **kwargs):
    return services.webhook_endpoint_create(
        organization=pro.org,
        actor=pro.owner,
        url=receiver.url(),
        events=events or ALL_EVENTS,
        **kwargs,
    )


def _publish(pro, n: int, *, capture, prefix: str = "t") -> list[WebhookEvent]:
    events = []
    with capture(execute=True):
        for i in range(n):
            events.append(
                services.webhook_event_publish(
                    organization_id=pro.org.pk,
                    event_type="generation.failed",
                    data={"n": i},
                    dedup_key=f"{prefix}:{i}",
                )
            )
    return events


def _flush_due() -> None:
    for endpoint_id in services.webhook_endpoints_due():
        services.webhook_endpoint_flush(endpoint_id=endpoint_id)


def test_a_generation_that_succeeds_is_delivered_signed_and_verifiable_from_the_docs(
    pro, receiver, django_capture_on_commit_callbacks
):
    created = _endpoint(pro, receiver)
    assert created.secret.startswith("whsec_")
    g = create_generation(pro, django_capture_on_commit_callbacks, requirement=REQ)
    assert g.status == "succeeded"
    [got] = receiver.wait_for(1)
    body = json.loads(got.body)
    assert body["type"] == "generation.succeeded"
    assert body["data"]["generation"]["id"] == str(g.pk)
    assert body["data"]["generation"]["status"] == "succeeded"
    assert body["organization"] == str(pro.org.uuid)
    assert got.headers["CrewBuilder-Event-Id"] == body["id"] and body["id"].startswith("evt_")
    assert got.headers["CrewBuilder-Event-Type"] == "generation.succeeded"
    assert got.headers["Content-Type"] == "application/json"
    assert verify(created.secret, got.body, got.headers["CrewBuilder-Signature"])
    # Tampered body, wrong secret, or a replay from long ago: refused by the same client.
    assert not verify(created.secret, got.body + b" ", got.headers["CrewBuilder-Signature"])
    assert not verify("whsec_wrong", got.body, got.headers["CrewBuilder-Signature"])
    assert not verify(
        created.secret,
        got.body,
        got.headers["CrewBuilder-Signature"],
        now=timezone.now().timestamp() + 3600,
    )
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("succeeded", 1, 200)
    # The secret is stored sealed, never in plaintext.
    endpoint = WebhookEndpoint.objects.get()
    assert created.secret.encode() not in bytes(endpoint.secret_ciphertext)


def test_events_arrive_in_order_with_increasing_sequence(
    pro, receiver, django_capture_on_commit_callbacks
):
    _endpoint(pro, receiver)
    _publish(pro, 5, capture=django_capture_on_commit_callbacks)
    got = receiver.wait_for(5)
    bodies = [json.loads(r.body) for r in got]
    assert [b["data"]["n"] for b in bodies] == [0, 1, 2, 3, 4]
    sequences = [b["sequence"] for b in bodies]
    assert sequences == sorted(sequences) and len(set(sequences)) == 5


def test_the_same_fact_published_twice_is_one_event(
    pro, receiver, django_capture_on_commit_callbacks
):
    _endpoint(pro, receiver)
    _publish(pro, 1, capture=django_capture_on_commit_callbacks, prefix="dup")
    _publish(pro, 1, capture=django_capture_on_commit_callbacks, prefix="dup")
    assert WebhookEvent.objects.count() == 1
    assert len(receiver.wait_for(1)) == 1


def test_a_failed_attempt_is_retried_with_backoff_and_newer_events_are_not_held_back(
    pro, receiver, django_capture_on_commit_callbacks
):
    _endpoint(pro, receiver)
    receiver.statuses = [503]  # the first event's first attempt fails
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        _publish(pro, 2, capture=django_capture_on_commit_callbacks)
    first = WebhookDelivery.objects.get(event__data__n=0)
    assert (first.status, first.attempts, first.last_status_code) == ("pending", 1, 503)
    wait = (first.next_attempt_at - start).total_seconds()
    assert 27 <= wait <= 33  # 30 s ± 10 % jitter
    second = WebhookDelivery.objects.get(event__data__n=1)
    assert second.status == "succeeded"  # not held back by the failing one
    with time_machine.travel(start + timedelta(seconds=10), tick=False):
        _flush_due()  # not due yet
    assert WebhookDelivery.objects.get(pk=first.pk).attempts == 1
    with time_machine.travel(start + timedelta(seconds=40), tick=False):
        _flush_due()
    first.refresh_from_db()
    assert (first.status, first.attempts) == ("succeeded", 2)
    got = receiver.wait_for(3)
    assert [json.loads(r.body)["data"]["n"] for r in got] == [0, 1, 0]
    # A receiver can put them back in order: sequence says which came first.
    assert json.loads(got[2].body)["sequence"] < json.loads(got[1].body)["sequence"]


def test_retries_last_at_least_24_hours_then_give_up_and_the_endpoint_is_disabled(
    pro, receiver, django_capture_on_commit_callbacks, settings
):
    settings.CREWBUILDER_WEBHOOK_RETRY_HOURS = 24
    settings.CREWBUILDER_WEBHOOK_DISABLE_AFTER_DAYS = 3
    created = _endpoint(pro, receiver)
    receiver.statuses = [500] * 1000
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        _publish(pro, 1, capture=django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get()
    attempts_at = [start]
    while delivery.status == "pending":
        with time_machine.travel(delivery.next_attempt_at + timedelta(seconds=1), tick=False):
            _flush_due()
        delivery.refresh_from_db()
        attempts_at.append(delivery.last_attempt_at)
    assert delivery.status == "failed"
    span = delivery.last_attempt_at - start
    assert timedelta(hours=24) <= span <= timedelta(hours=24 + 6.6)  # ≥ 24 h of retrying
    gaps = [(b - a).total_seconds() for a, b in zip(attempts_at, attempts_at[1:], strict=False)]
    assert gaps[:4] == pytest.approx([30, 60, 120, 240], rel=0.15)  # doubling
    assert max(gaps) <= 6 * 3600 * 1.1  # capped at 6 h
    assert len(receiver.requests) == delivery.attempts
    assert WebhookEndpoint.objects.get().enabled  # one day of failures: still enabled
    assert mail.outbox == []

    # Failing for days: the next failed attempt after 3 days disables it, owners hear.
    with time_machine.travel(start + timedelta(days=3, hours=1), tick=False):
        _publish(pro, 1, capture=django_capture_on_commit_callbacks, prefix="late")
    endpoint = WebhookEndpoint.objects.get()
    assert not endpoint.enabled
    assert endpoint.disabled_reason == "Every delivery failed for 3 days."
    [message] = mail.outbox
    assert message.to == [pro.owner.email]
    assert created.endpoint.url in message.body
    assert f"/settings/webhooks/{endpoint.pk}/" in message.body
    # Disabled: new events are not even stored for it.
    before = len(receiver.requests)
    _publish(pro, 1, capture=django_capture_on_commit_callbacks, prefix="after")
    assert len(receiver.requests) == before


def test_rotation_signs_with_both_secrets_during_the_overlap_then_only_the_new(
    pro, receiver, django_capture_on_commit_callbacks
):
    created = _endpoint(pro, receiver)
    old = created.secret
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        rotated = services.webhook_endpoint_rotate_secret(
            endpoint=created.endpoint, actor=pro.owner, overlap_hours=24
        )
        _publish(pro, 1, capture=django_capture_on_commit_callbacks, prefix="during")
    new = rotated.secret
    assert new != old
    [during] = receiver.wait_for(1)
    header = during.headers["CrewBuilder-Signature"]
    assert header.count("v1=") == 2
    now = start.timestamp()
    assert verify(old, during.body, header, now=now) and verify(new, during.body, header, now=now)

    later = start + timedelta(hours=25)
    with time_machine.travel(later, tick=False):
        _publish(pro, 1, capture=django_capture_on_commit_callbacks, prefix="after")
    after = receiver.wait_for(2)[1]
    header = after.headers["CrewBuilder-Signature"]
    assert header.count("v1=") == 1
    assert verify(new, after.body, header, now=later.timestamp())
    assert not verify(old, after.body, header, now=later.timestamp())

    # overlap 0: the old secret stops at once.
    third = services.webhook_endpoint_rotate_secret(
        endpoint=created.endpoint, actor=pro.owner, overlap_hours=0
    )
    _publish(pro, 1, capture=django_capture_on_commit_callbacks, prefix="now")
    last = receiver.wait_for(3)[2]
    assert last.headers["CrewBuilder-Signature"].count("v1=") == 1
    assert verify(third.secret, last.body, last.headers["CrewBuilder-Signature"])
    assert not verify(new, last.body, last.headers["CrewBuilder-Signature"])


def test_resend_delivers_the_same_event_again(pro, receiver, django_capture_on_commit_callbacks):
    _endpoint(pro, receiver)
    _publish(pro, 1, capture=django_capture_on_commit_callbacks)
    first = WebhookDelivery.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        again = services.webhook_delivery_resend(delivery=first, actor=pro.owner)
    got = receiver.wait_for(2)
    assert got[0].headers["CrewBuilder-Event-Id"] == got[1].headers["CrewBuilder-Event-Id"]
    again.refresh_from_db()
    assert again.status == "succeeded" and again.resend_of_id == first.pk


def test_a_plan_without_webhooks_stores_no_event(
    tenant, receiver, django_capture_on_commit_callbacks
):
    # alice's organisation is on Free: no endpoint can even be created…
    with pytest.raises(Exception, match="Professional and Enterprise"):
        services.webhook_endpoint_create(
            organization=tenant.org, actor=tenant.owner, url=receiver.url(), events=ALL_EVENTS
        )
    # …and a generation publishes nothing.
    create_generation(
        tenant, django_capture_on_commit_callbacks, requirement=REQ, key_source="platform"
    )
    assert WebhookEvent.objects.count() == 0


def test_questions_and_a_failure_are_delivered_with_the_generation(
    pro, receiver, django_capture_on_commit_callbacks, settings, fake_llm
):
    from generation import services as generation

    settings.OPENAI_API_KEY = "sk-test-platform-key-for-webhooks-000000000"
    _endpoint(pro, receiver)
    fake_llm.push_questions(["Which CRM do you use?"])
    with django_capture_on_commit_callbacks(execute=True):
        asked = generation.generation_create(
            organization=pro.org,
            user=pro.owner,
            requirement=REQ,
            key_source="platform",
            provider="openai",
            allow_questions=True,
        )
    with django_capture_on_commit_callbacks(execute=True):
        assert generation.generation_fail(generation_id=asked.pk, code="expired", message="Gone.")
    needs, failed = (json.loads(r.body) for r in receiver.wait_for(2))
    assert needs["type"] == "generation.needs_input"
    assert needs["data"]["generation"]["questions"] == ["Which CRM do you use?"]
    assert failed["type"] == "generation.failed"
    assert failed["data"]["generation"]["error"] == {"code": "expired", "message": "Gone."}
    assert needs["sequence"] < failed["sequence"]


def test_the_generation_that_takes_the_last_of_the_quota_announces_usage_limit_reached(
    pro, receiver, django_capture_on_commit_callbacks, settings, fake_llm
):
    from billing.models import BillingAccount

    settings.OPENAI_API_KEY = "sk-test-platform-key-for-webhooks-000000000"
    BillingAccount.objects.filter(organization=pro.org).update(generations_override=1)
    _endpoint(pro, receiver, events=["usage.limit_reached"])
    # The reservation that takes the last generation announces it when it commits,
    # whatever the run's outcome later.
    create_generation(pro, django_capture_on_commit_callbacks, requirement=REQ)
    [got] = receiver.wait_for(1)
    body = json.loads(got.body)
    assert body["type"] == "usage.limit_reached"
    usage = body["data"]["usage"]
    assert (usage["limit"], usage["used"], usage["credits"]) == (1, 1, 0)
    assert usage["period_start"] < usage["period_end"]
