"""The OpenAPI schema and offline docs, and a bounded schemathesis run against the schema
in-process (through the WSGI app): no input it generates may produce a 5xx."""

from __future__ import annotations

import re

import pytest
import schemathesis
from django.contrib.staticfiles import finders
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase
from hypothesis import settings as hypothesis_settings
from rest_framework.settings import api_settings
from schemathesis.checks import not_a_server_error

from crewbuilder.wsgi import application
from tests.api.conftest import ApiClient


def test_schema_is_openapi_3_with_bearer_auth_and_every_route(db):
    response = ApiClient().get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert schema["components"]["securitySchemes"]["ApiToken"]["scheme"] == "bearer"
    assert set(schema["paths"]) == {
        "/api/v1/generations/",
        "/api/v1/generations/{id}/",
        "/api/v1/generations/{id}/download/",
        "/api/v1/usage/",
        "/api/v1/keys/",
        "/api/v1/keys/{id}/",
        "/api/v1/keys/{id}/test/",
        "/api/v1/webhooks/",
        "/api/v1/webhooks/{id}/",
        "/api/v1/webhooks/{id}/rotate-secret/",
        "/api/v1/webhooks/{id}/deliveries/",
        "/api/v1/webhooks/{id}/deliveries/{delivery_pk}/resend/",
    }
    create = schema["paths"]["/api/v1/generations/"]["post"]
    assert "202" in create["responses"] and "409" in create["responses"]
    assert any(p["name"] == "Idempotency-Key" for p in create["parameters"])
    error_ref = create["responses"]["400"]["content"]["application/json"]["schema"]["$ref"]
    assert error_ref == "#/components/schemas/Error"


def test_docs_are_served_offline_and_csp_compatible(db):
    response = ApiClient().get("/api/v1/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "drf_spectacular_sidecar/swagger-ui-dist" in html
    assert "cdn" not in html.lower() and "unpkg" not in html.lower() and "googleapis" not in html
    # every script is a same-origin file: the CSP (script-src 'self' + nonce) allows it
    scripts = re.findall(r"<script([^>]*)>", html)
    assert scripts and all('src="/' in attrs for attrs in scripts)
    assert "script-src 'self'" in response["Content-Security-Policy"]
    init = ApiClient().get("/api/v1/docs/?script=")
    assert init.status_code == 200
    assert init["Content-Type"].startswith("application/javascript")
    assert "/api/v1/schema/" in init.content.decode()
    for src in re.findall(r'<script src="([^"]+)"', html):
        if "drf_spectacular_sidecar" in src:
            assert finders.find(src.split("/static/", 1)[1]), src


@pytest.fixture
def fuzz_settings(settings, fake_llm):
    """Throttling off, and providers pointed at a local fake so a generated request can
    never leave 127.0.0.1."""
    rf = dict(api_settings.user_settings)
    rf["DEFAULT_THROTTLE_RATES"] = {"api_token": None, "api_org": None}
    settings.REST_FRAMEWORK = rf
    settings.OPENAI_API_KEY = ""
    settings.ANTHROPIC_API_KEY = ""
    settings.CREWBUILDER_GENERATION_RUNNER = "sync"
    # As Django's test client does: requests through the raw WSGI handler must not close
    # the test's database connection (it holds the test transaction).
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


# Loaded once at collection through the WSGI app (the schema view needs no database).
schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", application)


@schema.parametrize()
@hypothesis_settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_no_input_makes_the_api_fail_with_a_5xx(case, api, fuzz_settings):
    response = case.call(headers={"Authorization": f"Bearer {api.owner_raw}"})
    case.validate_response(response, checks=[not_a_server_error])
    if response.status_code >= 400:
        assert set(response.json()) == {"error"}
