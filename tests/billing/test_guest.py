"""Generating without registration: one-time key (rate-limited per IP) or $5 Checkout,
result at an unguessable URL, sign up and keep it."""

from __future__ import annotations

import secrets

import pytest
from django.core.management import call_command
from django.test import Client

from accounts.models import Membership, Role
from billing import selectors
from billing.models import GuestPass
from generation.models import Generation
from tests.billing.conftest import deliver, event
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

# The fake provider answers with its sample design (an EV-market report crew); the
# requirement matches it so the design fits and no repair round is needed.
REQUIREMENT = "Research EV battery market news and write a short report for our executives."
CANARY = "sk-canary-guest-0123456789abcdefghijklmnop"


@pytest.fixture
def sync_runner(settings):
    settings.CREWBUILDER_GENERATION_RUNNER = "sync"


def _ip() -> str:
    # a fresh address per test: the per-IP counter lives in the shared cache
    return f"2001:db8::{secrets.token_hex(2)}:{secrets.token_hex(2)}"


def _start(client: Client, ip: str | None = None, **data):
    payload = {
        "requirement": REQUIREMENT,
        "provider": "openai",
        "pay_with": "one_time",
        "api_key": CANARY,
    }
    payload.update(data)
    return client.post("/try/", payload, REMOTE_ADDR=ip or _ip())


def test_visitor_generates_with_a_one_time_key_and_downloads_the_result(
    plans, sync_runner, fake_llm, client: Client, django_capture_on_commit_callbacks
):
    fake_llm.push_design()
    with django_capture_on_commit_callbacks(execute=True):
        response = _start(client)
    assert response.status_code == 302
    url = response["Location"]
    assert url.startswith("/try/") and len(url) > 40  # unguessable token in the URL
    page = client.get(url)
    assert page.status_code == 200
    assert b"Succeeded" in page.content and b"Sign up and keep it" in page.content
    download = client.get(url + "download/")
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"
    g = Generation.objects.get()
    assert (g.charged_as, g.user_id) == ("own_key", None)
    assert fake_llm.requests[-1].api_key == CANARY
    stored = repr(list(GuestPass.objects.values())) + repr(list(Generation.objects.values()))
    assert CANARY not in stored
    token = url.strip("/").split("/")[-1]
    assert token not in stored  # only a hash of the URL token is kept


def test_one_time_tries_are_rate_limited_per_ip(plans, client: Client, settings):
    settings.BILLING_GUEST_PER_HOUR = 3
    ip = _ip()
    for _ in range(3):
        assert _start(client, ip).status_code == 302
    limited = _start(client, ip)
    assert limited.status_code == 429
    assert limited["Retry-After"] == "3600"
    assert b"Too many tries" in limited.content
    assert _start(client).status_code == 302  # another address
    assert GuestPass.objects.count() == 4


def test_bad_input_is_400_with_field_messages(plans, client: Client):
    response = _start(client, requirement="too short", api_key="")
    assert response.status_code == 400
    assert b"Paste your API key" in response.content
    assert not GuestPass.objects.exists()


def test_visitor_pays_by_checkout_and_the_webhook_starts_one_generation(
    plans,
    sync_runner,
    fake_llm,
    fake_stripe,
    settings,
    client: Client,
    django_capture_on_commit_callbacks,
):
    settings.OPENAI_API_KEY = "sk-platform-key-for-tests-0123456789"
    call_command("billing_sync")
    response = _start(client, pay_with="checkout", api_key="")
    assert response.status_code == 303
    assert response["Location"].startswith("https://checkout.stripe.test/")
    [req] = fake_stripe.posts("/v1/checkout/sessions")
    assert req.params["mode"] == "payment" and "customer" not in req.params
    guest = GuestPass.objects.get()
    assert guest.status == "awaiting_payment"
    token_url = req.params["success_url"].split("testserver", 1)[1]
    assert b"Waiting for Stripe" in client.get(token_url).content

    session = {
        "id": guest.checkout_session_id,
        "mode": "payment",
        "payment_status": "paid",
        "payment_intent": "pi_guest_1",
        "client_reference_id": req.params["client_reference_id"],
        "amount_total": 500,
        "currency": "usd",
        "metadata": {"credits": "1", "guest_pass": str(guest.pk)},
    }
    # Stripe knows the payment (the webhook re-fetches it before granting the credit)
    fake_stripe.payment_intents["pi_guest_1"] = {
        "id": "pi_guest_1",
        "object": "payment_intent",
        "status": "succeeded",
    }
    fake_llm.push_design()
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(event("checkout.session.completed", session)).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        deliver(event("checkout.session.async_payment_succeeded", session))
    g = Generation.objects.get()
    assert (g.status, g.charged_as) == ("succeeded", "credit")
    assert selectors.credits_balance(guest.organization) == 0
    assert b"Download the project" in client.get(token_url).content


def test_signed_up_visitor_keeps_the_generation(plans, client: Client):
    response = _start(client)
    url = response["Location"]
    dave = UserFactory(email="dave@example.test")
    client.force_login(dave)
    kept = client.post(url + "keep/")
    g = Generation.objects.get()
    assert kept.status_code == 302 and kept["Location"] == f"/generations/{g.pk}/"
    assert Membership.objects.get(organization=g.organization, user=dave).role == Role.OWNER
    assert client.get(f"/generations/{g.pk}/").status_code == 200
    # someone else holding the link cannot take it any more
    eve = Client()
    eve.force_login(UserFactory(email="eve@example.test"))
    assert eve.post(url + "keep/").status_code == 400
    assert not Membership.objects.filter(
        organization=g.organization, user__email="eve@example.test"
    ).exists()


def test_unknown_token_is_404_and_signed_in_users_use_the_normal_page(
    plans, client: Client, tenant, owner_client
):
    assert client.get("/try/not-a-real-token/").status_code == 404
    assert client.get("/try/not-a-real-token/download/").status_code == 404
    assert owner_client.get("/try/").status_code == 302


def test_unkept_guest_generations_are_deleted_after_the_keep_period(
    plans, client: Client, settings
):
    import time_machine
    from django.utils import timezone

    from accounts.models import Organization
    from billing.guest_passes import guest_passes_expire

    settings.BILLING_GUEST_KEEP_DAYS = 30
    old_url = _start(client)["Location"]
    kept_url = _start(client)["Location"]
    dave = Client()
    dave.force_login(UserFactory(email="dave@example.test"))
    dave.post(kept_url + "keep/")
    with time_machine.travel(timezone.now() + timezone.timedelta(days=31)):
        assert guest_passes_expire() == 1
    assert client.get(old_url).status_code == 404
    assert client.get(kept_url).status_code == 200
    assert Organization.objects.filter(memberships__user__email="dave@example.test").exists()
    assert Generation.objects.count() == 1
