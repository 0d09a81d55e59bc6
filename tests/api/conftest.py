"""API fixtures: alice's organisation (Acme) and charlie's (Globex) both on Professional,
each with API tokens; ``api_client(raw)`` is a Django test client that sends the token."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.test import Client

from accounts.models import ApiToken
from crewbuilder.api.tokens import api_token_create
from tests.conftest import Tenant
from tests.factories import plan_assign

PLAN_PROFESSIONAL = "professional"


# One helper for giving a test organisation a plan (tests/factories.py); re-exported under
# the name this folder's tests import.
assign_plan = plan_assign


class ApiClient(Client):
    """A test client that talks JSON and sends ``Authorization: Bearer <token>``."""

    def __init__(self, token: str | None = None, **kwargs):
        headers = kwargs.pop("headers", {}) or {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        super().__init__(headers=headers, **kwargs)

    def post_json(self, path: str, data=None, **kwargs):
        return self.post(
            path, data=data if data is not None else {}, content_type="application/json", **kwargs
        )


@dataclass
class Api:
    tenant: Tenant
    owner_token: ApiToken
    owner_raw: str
    read_raw: str
    outsider_raw: str

    def client(self, raw: str | None = None, **kwargs) -> ApiClient:
        return ApiClient(raw, **kwargs)

    @property
    def owner(self) -> ApiClient:
        return ApiClient(self.owner_raw)

    @property
    def reader(self) -> ApiClient:
        return ApiClient(self.read_raw)

    @property
    def outsider(self) -> ApiClient:
        return ApiClient(self.outsider_raw)


@pytest.fixture
def api(tenant: Tenant) -> Api:
    assign_plan(tenant.org, PLAN_PROFESSIONAL)
    assign_plan(tenant.outsider_org, PLAN_PROFESSIONAL)
    owner_token, owner_raw = api_token_create(
        organization=tenant.org, actor=tenant.owner, name="CI", scope=ApiToken.Scope.READ_WRITE
    )
    _, read_raw = api_token_create(
        organization=tenant.org, actor=tenant.owner, name="Dashboard", scope=ApiToken.Scope.READ
    )
    _, outsider_raw = api_token_create(
        organization=tenant.outsider_org,
        actor=tenant.outsider,
        name="Globex CI",
        scope=ApiToken.Scope.READ_WRITE,
    )
    return Api(tenant, owner_token, owner_raw, read_raw, outsider_raw)


def error_of(response) -> dict:
    """The error envelope of a response (asserts its shape)."""
    body = response.json()
    assert set(body) == {"error"}, body
    assert isinstance(body["error"]["code"], str) and body["error"]["code"]
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert set(body["error"]) <= {"code", "message", "fields"}
    return body["error"]
