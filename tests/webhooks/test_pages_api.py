"""/settings/webhooks/ pages and /api/v1/webhooks/: owner, member, outsider, Free plan,
bad input; the secret shown once; resend with htmx; the API envelope and schema."""

from __future__ import annotations

import pytest

from accounts.models import ApiToken, Membership, Role
from crewbuilder.api.tokens import api_token_create
from crewbuilder.webhooks.models import WebhookDelivery, WebhookEndpoint
from crewbuilder.webhooks.services import webhook_endpoint_create, webhook_event_publish
from tests.api.conftest import ApiClient, error_of

EVENTS = ["generation.succeeded", "generation.failed"]


def _create_page(client, url, events=EVENTS):
    return client.post("/settings/webhooks/", {"url": url, "events": events, "description": "CI"})


def test_owner_creates_an_endpoint_and_sees_the_secret_once(pro, receiver):
    client = pro.client_for(pro.owner)
    assert client.get("/settings/webhooks/").status_code == 200
    response = _create_page(client, receiver.url())
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    html = response.content.decode()
    assert "whsec_" in html and "shown only once" in html
    endpoint = WebhookEndpoint.objects.get(organization=pro.org)
    assert endpoint.events == EVENTS
    again = client.get("/settings/webhooks/").content.decode()
    assert "whsec_" not in again and endpoint.url in again
    detail = client.get(f"/settings/webhooks/{endpoint.pk}/").content.decode()
    assert "whsec_" not in detail and "Delivery log" in detail


@pytest.mark.parametrize(
    ("url", "events", "field_message"),
    [
        ("ftp://example.com/x", EVENTS, "https://"),
        ("not a url", EVENTS, "https://"),
        ("https://10.0.0.1/x", EVENTS, "not reachable"),
        ("https://example.com/x", [], "Choose at least one event."),
        ("https://example.com/x", ["generation.exploded"], "Select a valid choice"),
    ],
)
def test_bad_input_is_a_400_with_the_field_message_and_saves_nothing(
    pro, settings, url, events, field_message
):
    settings.CREWBUILDER_WEBHOOK_ALLOW_HTTP = False
    response = _create_page(pro.client_for(pro.owner), url, events)
    assert response.status_code == 400
    assert field_message in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_a_member_may_not_manage_webhooks_and_an_outsider_sees_nothing(pro, receiver):
    created = webhook_endpoint_create(
        organization=pro.org, actor=pro.owner, url=receiver.url(), events=EVENTS
    )
    member = pro.client_for(pro.member)
    assert member.get("/settings/webhooks/").status_code == 403
    assert _create_page(member, receiver.url()).status_code == 403
    outsider = pro.client_for(pro.outsider)
    pk = created.endpoint.pk
    assert outsider.get(f"/settings/webhooks/{pk}/").status_code == 404
    for path in ("rotate/", "toggle/", "delete/"):
        assert outsider.post(f"/settings/webhooks/{pk}/{path}").status_code == 404
    assert WebhookEndpoint.objects.filter(pk=pk, enabled=True).exists()


def test_free_plan_sees_the_plan_message_and_cannot_create(tenant, receiver):
    client = tenant.client_for(tenant.owner)
    page = client.get("/settings/webhooks/").content.decode()
    assert "Professional and Enterprise" in page
    assert _create_page(client, receiver.url()).status_code == 403
    assert not WebhookEndpoint.objects.exists()


def test_rotate_resend_and_disable_from_the_page(pro, receiver, django_capture_on_commit_callbacks):
    created = webhook_endpoint_create(
        organization=pro.org, actor=pro.owner, url=receiver.url(), events=EVENTS
    )
    client = pro.client_for(pro.owner)
    pk = created.endpoint.pk
    response = client.post(f"/settings/webhooks/{pk}/rotate/", {"overlap_hours": "999"})
    assert response.status_code == 400 and "168" in response.content.decode()
    response = client.post(f"/settings/webhooks/{pk}/rotate/", {"overlap_hours": "2"})
    assert response.status_code == 200 and "whsec_" in response.content.decode()
    assert created.secret not in response.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        webhook_event_publish(
            organization_id=pro.org.pk, event_type="generation.failed", data={}, dedup_key="p"
        )
    delivery = WebhookDelivery.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/settings/webhooks/{pk}/deliveries/{delivery.pk}/resend/",
            headers={"HX-Request": "true"},
        )
    assert response.status_code == 200
    assert response.content.decode().lstrip().startswith('<tr id="delivery-')
    assert len(receiver.wait_for(2)) == 2
    outsider = pro.client_for(pro.outsider)
    assert (
        outsider.post(f"/settings/webhooks/{pk}/deliveries/{delivery.pk}/resend/").status_code
        == 404
    )

    assert client.post(f"/settings/webhooks/{pk}/toggle/").status_code == 302
    assert not WebhookEndpoint.objects.get(pk=pk).enabled


# --------------------------------------------------------------------------- API


def make_token_client(tenant, user, organization=None) -> ApiClient:
    _, raw = api_token_create(
        organization=organization or tenant.org,
        actor=user,
        name="hooks",
        scope=ApiToken.Scope.READ_WRITE,
    )
    return ApiClient(raw)


def _patch(client: ApiClient, path: str, data):
    return client.patch(path, data=data, content_type="application/json")


def test_api_create_list_rotate_deliveries_and_resend(
    pro, receiver, django_capture_on_commit_callbacks
):
    api: ApiClient = make_token_client(pro, pro.owner)
    response = api.post_json("/api/v1/webhooks/", {"url": receiver.url(), "events": EVENTS})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["secret"].startswith("whsec_") and body["events"] == EVENTS
    pk = body["id"]
    listed = api.get("/api/v1/webhooks/").json()
    assert [e["id"] for e in listed] == [pk] and "secret" not in listed[0]
    rotated = api.post_json(f"/api/v1/webhooks/{pk}/rotate-secret/", {"overlap_hours": 1}).json()
    assert rotated["secret"] != body["secret"] and rotated["previous_secret_expires_at"]
    with django_capture_on_commit_callbacks(execute=True):
        webhook_event_publish(
            organization_id=pro.org.pk, event_type="generation.failed", data={}, dedup_key="a"
        )
    page = api.get(f"/api/v1/webhooks/{pk}/deliveries/").json()
    [delivery] = page["results"]
    assert delivery["status"] == "succeeded" and delivery["event_type"] == "generation.failed"
    with django_capture_on_commit_callbacks(execute=True):
        resent = api.post_json(f"/api/v1/webhooks/{pk}/deliveries/{delivery['id']}/resend/", {})
    assert resent.status_code == 202
    patched = _patch(api, f"/api/v1/webhooks/{pk}/", {"enabled": False}).json()
    assert patched["enabled"] is False
    assert api.delete(f"/api/v1/webhooks/{pk}/").status_code == 204


def test_api_bad_input_outsider_member_and_plan(pro, receiver):
    api = make_token_client(pro, pro.owner)
    bad = api.post_json("/api/v1/webhooks/", {"url": "https://10.0.0.1/", "events": ["nope"]})
    assert bad.status_code == 400
    error = error_of(bad)
    assert set(error["fields"]) == {"events.0"} or "events" in " ".join(error["fields"])
    bad = api.post_json("/api/v1/webhooks/", {"url": "https://10.0.0.1/", "events": EVENTS})
    assert bad.status_code == 400 and "url" in error_of(bad)["fields"]
    bad = api.post_json("/api/v1/webhooks/", {"url": 5, "events": "generation.failed"})
    assert bad.status_code == 400
    created = webhook_endpoint_create(
        organization=pro.org, actor=pro.owner, url=receiver.url(), events=EVENTS
    )
    pk = created.endpoint.pk
    assert (
        api.post_json(f"/api/v1/webhooks/{pk}/rotate-secret/", {"overlap_hours": "x"}).status_code
        == 400
    )
    assert _patch(api, f"/api/v1/webhooks/{pk}/", {}).status_code == 400

    from tests.factories import plan_assign

    plan_assign(pro.outsider_org, "professional")
    outsider = make_token_client(pro, pro.outsider, organization=pro.outsider_org)
    assert outsider.get(f"/api/v1/webhooks/{pk}/").status_code == 404
    assert outsider.get("/api/v1/webhooks/").json() == []

    # A token acts within its creator's current role: an admin demoted to member loses it.
    Membership.objects.filter(organization=pro.org, user=pro.member).update(role=Role.ADMIN)
    member = make_token_client(pro, pro.member)
    Membership.objects.filter(organization=pro.org, user=pro.member).update(role=Role.MEMBER)
    assert error_of(member.get("/api/v1/webhooks/"))["code"] == "forbidden"
    plan_assign(pro.org, "basic")
    assert error_of(api.get("/api/v1/webhooks/"))["code"] == "plan_not_allowed"
