"""One error envelope for every API error, with the right status: 400, 401, 403, 404,
405, 413, 415, 429 (with Retry-After) and 500 — including errors Django produces before
or outside a view. (402 and 409 come from creating generations: test_generations.py.)"""

from __future__ import annotations

import logging
import time
import uuid

import pytest
import time_machine
from django.test import override_settings
from rest_framework.settings import api_settings

from tests.api.conftest import ApiClient, error_of

USAGE = "/api/v1/usage/"
KEYS = "/api/v1/keys/"


def _rates(token: str | None = None, org: str | None = None) -> dict:
    rf = dict(api_settings.user_settings)
    rf["DEFAULT_THROTTLE_RATES"] = {"api_token": token, "api_org": org}
    return rf


def test_400_has_field_messages(api):
    response = api.owner.post_json(KEYS, {"provider": "nope"})
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid"
    assert set(error["fields"]) == {"provider", "api_key"}
    assert all(isinstance(m, str) for msgs in error["fields"].values() for m in msgs)


def test_400_for_malformed_json(api):
    response = api.owner.post(KEYS, data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert error_of(response)["code"] == "parse_error"


def test_400_for_a_json_body_that_is_not_an_object(api):
    response = api.owner.post(KEYS, data="[1, 2]", content_type="application/json")
    assert response.status_code == 400
    error_of(response)


def test_415_for_form_bodies(api):
    response = api.owner.post(KEYS, data={"provider": "openai"})
    assert response.status_code == 415
    assert error_of(response)["code"] == "unsupported_media_type"


def test_401_without_a_token_says_how_to_authenticate(api):
    response = ApiClient().get(USAGE)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    error = error_of(response)
    assert error["code"] == "unauthenticated" and "Bearer" in error["message"]


def test_401_with_an_invalid_token(api):
    response = ApiClient("cb_000000000000nope").get(USAGE)
    assert response.status_code == 401
    assert error_of(response)["code"] == "invalid_token"


def test_403_read_only_token(api):
    response = api.reader.delete(f"{KEYS}1/")
    assert response.status_code == 403
    assert error_of(response)["code"] == "insufficient_scope"


def test_404_for_an_unknown_api_url_is_json(api):
    response = api.owner.get("/api/v1/does-not-exist/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert error_of(response)["code"] == "not_found"


def test_404_for_a_malformed_object_id(api):
    response = api.owner.get("/api/v1/generations/not-a-uuid/")
    assert response.status_code == 404
    error_of(response)


def test_404_for_a_missing_object(api):
    response = api.owner.get(f"/api/v1/generations/{uuid.uuid4()}/")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_405_for_an_unsupported_method(api):
    response = api.owner.put(USAGE, data="{}", content_type="application/json")
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"


def test_413_for_a_body_over_the_limit_before_anything_reads_it(api, settings):
    settings.CREWBUILDER_API_MAX_BODY_BYTES = 1000
    response = api.owner.post_json(KEYS, {"provider": "openai", "api_key": "x" * 2000})
    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"


def test_413_even_without_a_token(api, settings):
    settings.CREWBUILDER_API_MAX_BODY_BYTES = 100
    response = ApiClient().post_json(KEYS, {"pad": "x" * 500})
    assert response.status_code == 413


def test_429_per_token_with_retry_after(api):
    with override_settings(REST_FRAMEWORK=_rates(token="2/min")):
        assert api.owner.get(USAGE).status_code == 200
        assert api.owner.get(USAGE).status_code == 200
        response = api.owner.get(USAGE)
        assert response.status_code == 429
        assert error_of(response)["code"] == "throttled"
        assert 1 <= int(response["Retry-After"]) <= 60
        # another token of the same organisation has its own per-token budget
        assert api.reader.get(USAGE).status_code == 200


def test_429_per_organisation_across_its_tokens(api):
    with override_settings(REST_FRAMEWORK=_rates(token="100/min", org="3/min")):
        assert api.owner.get(USAGE).status_code == 200
        assert api.reader.get(USAGE).status_code == 200
        assert api.owner.get(USAGE).status_code == 200
        response = api.reader.get(USAGE)
        assert response.status_code == 429
        assert int(response["Retry-After"]) >= 1
        # the other organisation is not affected
        assert api.outsider.get(USAGE).status_code == 200


def test_throttle_counts_live_in_redis_across_clients(api, redis_url):
    """With Redis as the cache every worker shares the counters (the production setup)."""
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    assert isinstance(caches["default"], RedisCache)
    # A frozen clock keeps both requests in one fixed window: under load they could
    # otherwise straddle a minute boundary and both pass.
    with (
        override_settings(REST_FRAMEWORK=_rates(token="1/min")),
        time_machine.travel(time.time(), tick=False),
    ):
        assert ApiClient(api.owner_raw).get(USAGE).status_code == 200
        assert ApiClient(api.owner_raw).get(USAGE).status_code == 429


def test_500_is_an_envelope_without_internals(api, monkeypatch, caplog):
    from billing import selectors

    def boom(organization):
        raise RuntimeError("database exploded at /secret/path")

    monkeypatch.setattr(selectors, "usage_for", boom)
    client = ApiClient(api.owner_raw, raise_request_exception=False)
    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = client.get(USAGE)
    assert response.status_code == 500
    error = error_of(response)
    assert error["code"] == "server_error"
    assert "exploded" not in response.content.decode()
    assert any("Internal Server Error" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("path", ["/api/v1/schema/", "/api/v1/docs/"])
def test_schema_and_docs_are_public(path, db):
    assert ApiClient().get(path).status_code == 200
