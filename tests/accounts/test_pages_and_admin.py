from __future__ import annotations

import pytest
from django.test import Client

from accounts import services
from accounts.models import User

pytestmark = pytest.mark.django_db


def test_landing_and_pricing_render_for_visitors(client: Client):
    landing = client.get("/")
    assert landing.status_code == 200
    assert b"Describe your automation needs" in landing.content
    pricing = client.get("/pricing/")
    assert pricing.status_code == 200
    for text in (b"Basic", b"$99", b"Professional", b"$299", b"Enterprise", b"Custom", b"$5"):
        assert text in pricing.content


def test_static_assets_are_served_by_the_app_not_a_cdn(client: Client):
    page = client.get("/").content.decode()
    assert "https://" not in page.split("<body")[0]
    assert client.get("/static/css/app.css").status_code == 200


def test_team_page_requires_login(client: Client):
    response = client.get("/settings/team/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


@pytest.fixture
def operator_client(db) -> Client:
    operator = User.objects.create_superuser("ops@crewbuilder.test", "pw-ops-123456")
    client = Client()
    client.force_login(operator)
    return client


def test_operator_admin_lists_and_searches(tenant, operator_client: Client):
    services.invitation_create(organization=tenant.org, actor=tenant.owner, email="new@acme.test")
    for url in (
        "/admin/accounts/organization/?q=Acme",
        "/admin/accounts/membership/?role__exact=owner",
        "/admin/accounts/invitation/?q=new%40acme.test",
        "/admin/accounts/auditevent/?q=invitation",
        "/admin/accounts/user/?q=alice",
    ):
        response = operator_client.get(url)
        assert response.status_code == 200, url
    page = operator_client.get("/admin/accounts/invitation/?q=new%40acme.test").content
    assert b"new@acme.test" in page


def test_audit_log_is_read_only_in_admin(tenant, operator_client: Client):
    event = services.audit_record(organization=tenant.org, actor=tenant.owner, action="x.test")
    response = operator_client.post(
        f"/admin/accounts/auditevent/{event.pk}/delete/", {"post": "yes"}
    )
    assert response.status_code == 403
    assert operator_client.get("/admin/accounts/auditevent/add/").status_code == 403


def test_non_staff_cannot_reach_admin(owner_client: Client):
    response = owner_client.get("/admin/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
