"""The tenant-isolation matrix, generated from the URL resolver: every route under
``/api/v1/`` × every method. Without a token → 401; with an outsider organisation's token
→ 404 for every object route (and the object is untouched); lists never contain another
organisation's rows. A new route is covered automatically; a route with a new kind of
path parameter fails here until the matrix knows which object it points at."""

from __future__ import annotations

import pytest
from django.urls import URLPattern, get_resolver, reverse
from django.urls.converters import IntConverter, UUIDConverter

from crewbuilder.api.urls import PUBLIC_ROUTE_NAMES
from crewbuilder.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from crewbuilder.webhooks.services import webhook_endpoint_create
from generation.models import Generation
from keys.models import ProviderKey
from keys.services import provider_key_store
from tests.api.conftest import ApiClient

METHODS = ["get", "post", "put", "patch", "delete"]


def api_routes() -> list[tuple[str, URLPattern]]:
    _prefix, resolver = get_resolver().namespace_dict["api"]
    routes = []
    for pattern in resolver.url_patterns:
        assert isinstance(pattern, URLPattern), "nested includes: extend the matrix"
        routes.append((pattern.name, pattern))
    return routes


PROTECTED = [(name, p) for name, p in api_routes() if name not in PUBLIC_ROUTE_NAMES]


def call(client, method: str, url: str):
    if method == "get":
        return client.get(url)
    return getattr(client, method)(url, data="{}", content_type="application/json")


def implemented_methods(pattern: URLPattern) -> list[str]:
    view_class = pattern.callback.view_class
    return [m for m in METHODS if hasattr(view_class, m)]


@pytest.fixture
def victims(api, tenant):
    """Acme's objects that Globex must never reach: a finished generation and a key."""
    generation = Generation.objects.create(
        organization=tenant.org,
        user=tenant.owner,
        requirement="Acme's confidential automation requirement text.",
        provider="fallback",
        model="fallback",
        key_source="platform",
        status=Generation.Status.SUCCEEDED,
        stage=Generation.Stage.DONE,
        progress=100,
        design={"name": "acme_crew"},
        files=[{"path": "README.md", "size": 3}],
        zip_data=b"PK\x03\x04acme",
    )
    key = provider_key_store(
        organization=tenant.org,
        actor=tenant.owner,
        provider="openai",
        api_key="sk-proj-ACMEsecretKEY000000000000000000",
    )
    endpoint = webhook_endpoint_create(
        organization=tenant.org,
        actor=tenant.owner,
        url="https://hooks.acme.example/in",
        events=["generation.failed"],
    ).endpoint
    event = WebhookEvent.objects.create(
        organization=tenant.org,
        public_id=WebhookEvent.new_public_id(),
        type="generation.failed",
        dedup_key="isolation",
        data={},
    )
    delivery = WebhookDelivery.objects.create(event=event, endpoint=endpoint, status="succeeded")
    hook = {"pk": endpoint.pk}
    return {
        UUIDConverter: str(generation.pk),
        IntConverter: key.pk,
        "generation": generation,
        "key": key,
        "endpoint": endpoint,
        # Routes whose int parameters are not a key: the object each one points at.
        "kwargs": {
            "webhook_detail": hook,
            "webhook_rotate_secret": hook,
            "webhook_deliveries": hook,
            "webhook_delivery_resend": {**hook, "delivery_pk": delivery.pk},
        },
    }


def url_for(name: str, pattern: URLPattern, victims) -> str:
    if name in victims["kwargs"]:
        return reverse(f"api:{name}", kwargs=victims["kwargs"][name])
    kwargs = {}
    for arg, converter in pattern.pattern.converters.items():
        if type(converter) not in victims:
            pytest.fail(f"route {name}: no victim object for a {type(converter).__name__}")
        kwargs[arg] = victims[type(converter)]
    return reverse(f"api:{name}", kwargs=kwargs)


def test_matrix_covers_the_known_routes():
    names = {name for name, _ in PROTECTED}
    assert {
        "generations",
        "generation_detail",
        "generation_download",
        "usage",
        "keys",
        "key_detail",
        "key_test",
    } <= names


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("name", "pattern"), PROTECTED, ids=[n for n, _ in PROTECTED])
def test_no_token_is_401_everywhere(api, victims, name, pattern, method):
    response = call(ApiClient(), method, url_for(name, pattern, victims))
    assert response.status_code == 401, (name, method, response.content)
    assert response.json()["error"]["code"] == "unauthenticated"


OBJECT_ROUTES = [(n, p) for n, p in PROTECTED if p.pattern.converters]
LIST_ROUTES = [(n, p) for n, p in PROTECTED if not p.pattern.converters]


@pytest.mark.parametrize(("name", "pattern"), OBJECT_ROUTES, ids=[n for n, _ in OBJECT_ROUTES])
def test_outsider_gets_404_on_every_object_route_and_method(api, victims, name, pattern):
    url = url_for(name, pattern, victims)
    for method in implemented_methods(pattern):
        response = call(api.outsider, method, url)
        assert response.status_code == 404, (name, method, response.content)
        assert response.json()["error"]["code"] == "not_found"
        assert b"acme" not in response.content.lower()
    # untouched, and reachable by its own organisation (so the 404 is not vacuous)
    assert Generation.objects.filter(pk=victims["generation"].pk).exists()
    assert ProviderKey.objects.filter(pk=victims["key"].pk, status="untested").exists()
    endpoint = victims["endpoint"]
    assert WebhookEndpoint.objects.filter(
        pk=endpoint.pk, enabled=True, secret_version=1, url=endpoint.url
    ).exists()
    assert WebhookDelivery.objects.filter(endpoint=endpoint).count() == 1
    if "get" in implemented_methods(pattern):
        assert api.owner.get(url).status_code == 200


@pytest.mark.parametrize(("name", "pattern"), LIST_ROUTES, ids=[n for n, _ in LIST_ROUTES])
def test_outsider_lists_never_contain_another_organisations_rows(api, victims, name, pattern):
    url = url_for(name, pattern, victims)
    if "get" not in implemented_methods(pattern):
        pytest.skip("no list")
    own = api.owner.get(url)
    theirs = api.outsider.get(url)
    assert own.status_code == theirs.status_code == 200
    foreign_ids = {str(victims[UUIDConverter]), str(victims[IntConverter])}
    own_text, their_text = own.content.decode(), theirs.content.decode()
    assert "acme" not in their_text.lower()
    for value in foreign_ids:
        assert f'"id":"{value}"' not in their_text and f'"id":{value},' not in their_text
    # the owner's view of the same list does show them, where the route lists them
    if name == "generations":
        assert f'"id":"{victims[UUIDConverter]}"' in own_text
    if name == "keys":
        assert f'"id":{victims[IntConverter]},' in own_text


def test_outsider_usage_is_their_own(api, victims):
    from billing.services import billing_account_for

    account = billing_account_for(api.tenant.org)
    account.credit_balance = 7
    account.save(update_fields=["credit_balance"])
    assert api.owner.get("/api/v1/usage/").json()["credits"] == 7
    assert api.outsider.get("/api/v1/usage/").json()["credits"] == 0
