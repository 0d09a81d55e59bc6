"""One error layer: services raise ``ApplicationError`` (status, code, message,
Retry-After); the API's exception handler makes the envelope and the page middleware the
page, without either knowing an app's exception classes."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from billing.services import BillingError
from billing.stripe_gateway import GatewayError
from crewbuilder.errors import ApplicationError
from generation.services import IdempotencyConflict
from keys.services import ProviderKeyExists

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.errors.urls")]
ROOT = Path(__file__).resolve().parents[2]


def test_app_errors_are_application_errors():
    for cls in (BillingError, GatewayError, IdempotencyConflict, ProviderKeyExists):
        assert issubclass(cls, ApplicationError), cls


def test_api_error_layer_imports_no_app():
    source = (ROOT / "crewbuilder/api/exceptions.py").read_text()
    modules = {
        node.module.split(".")[0]
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ImportFrom) and node.module
    }
    assert not modules & {"accounts", "billing", "keys", "generation"}


@pytest.mark.parametrize(
    ("what", "status", "code", "retry_after"),
    [
        ("teapot", 418, "teapot", False),
        ("payment", 402, "payment_required", False),
        ("cap", 429, "daily_cap_reached", True),
        ("stripe", 503, "payment_provider_unavailable", True),
        ("forbidden", 403, "role", False),
        ("database", 503, "service_unavailable", True),
    ],
)
def test_api_envelope_from_the_exception(client, what, status, code, retry_after):
    response = client.get(f"/api/v1/raise/{what}/")
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    assert ("Retry-After" in response) is retry_after
    if retry_after:
        assert int(response["Retry-After"]) >= 1


def test_api_message_is_the_exceptions(client):
    assert client.get("/api/v1/raise/teapot/").json()["error"]["message"] == "Short and stout."
    body = client.get("/api/v1/raise/forbidden/").json()
    assert body["error"]["message"] == "Owners only."


@pytest.mark.parametrize(
    ("what", "status", "text"),
    [
        ("teapot", 418, "Short and stout."),
        ("payment", 402, "No generations left."),
        ("forbidden", 403, "Owners only."),
        ("stripe", 503, "Stripe: unreachable"),
        ("database", 503, "briefly unavailable"),
    ],
)
def test_page_for_the_exception(client, what, status, text):
    response = client.get(f"/page/{what}/")
    assert response.status_code == status
    assert "text/html" in response["Content-Type"]
    assert text in response.content.decode()
    if status == 503:
        assert int(response["Retry-After"]) >= 1
