"""/settings/api-keys/: owner, member, outsider; plain and browser-encrypted posts; htmx Test."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from keys import services
from keys.models import ProviderKey
from keys.transport import transport_encrypt_for_tests

URL = "/settings/api-keys/"
ORG_KEY = "sk-proj-pagesORGkey0123456789abcdefA1B2"
BOB_KEY = "sk-ant-api03-pagesBOBkey0123456789abcdefC3D4"


@pytest.fixture
def org_key(tenant, master_keys):
    return services.provider_key_store(
        organization=tenant.org, actor=tenant.owner, provider="openai", api_key=ORG_KEY
    )


def _jwk(html: str) -> dict:
    import json

    match = re.search(
        r'<script id="keycrypt-jwk" type="application/json">(.*?)</script>', html, re.S
    )
    return json.loads(match.group(1))


def test_anonymous_is_sent_to_sign_in(client, db):
    response = client.get(URL)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_owner_page_shows_masked_key_status_usage_and_help(
    owner_client, org_key, django_assert_max_num_queries
):
    services.provider_key_record_use(key_id=org_key.pk, generation_id="g-1")
    with django_assert_max_num_queries(12):
        response = owner_client.get(URL)
    html = response.content.decode()
    assert response.status_code == 200
    assert "sk-…A1B2" in html and org_key.fingerprint in html
    assert ORG_KEY not in html
    assert "1 generation" in html
    assert "platform.openai.com" in html and "console.anthropic.com" in html
    assert reverse("keys:key_test", args=[org_key.pk]) in html
    assert reverse("keys:key_remove", args=[org_key.pk]) in html
    assert "Replace OpenAI key" in html
    assert 'src="/static/js/keycrypt.js"' in html
    assert "onsubmit" not in html and "onclick" not in html  # the CSP allows no inline handlers
    assert 'data-confirm="Remove this OpenAI key?' in html
    assert _jwk(html)["alg"] == "RSA-OAEP-256"


def test_member_sees_the_org_key_masked_without_controls(member_client, org_key):
    html = member_client.get(URL).content.decode()
    assert "sk-…A1B2" in html and ORG_KEY not in html
    assert reverse("keys:key_test", args=[org_key.pk]) not in html
    assert reverse("keys:key_remove", args=[org_key.pk]) not in html
    assert "Your personal keys" in html


def test_member_cannot_remove_test_or_replace_the_org_key(member_client, org_key):
    assert member_client.post(reverse("keys:key_remove", args=[org_key.pk])).status_code == 403
    assert member_client.post(reverse("keys:key_test", args=[org_key.pk])).status_code == 403
    response = member_client.post(
        URL,
        {
            "provider": "openai",
            "scope": "organization",
            "api_key": "sk-proj-memberTRIES0123456789abcdef",
        },
    )
    assert response.status_code == 403
    assert ProviderKey.objects.get().key_version == 1


def test_outsider_gets_404_and_never_sees_the_key(outsider_client, org_key):
    html = outsider_client.get(URL).content.decode()
    assert "sk-…A1B2" not in html
    assert outsider_client.post(reverse("keys:key_remove", args=[org_key.pk])).status_code == 404
    assert outsider_client.post(reverse("keys:key_test", args=[org_key.pk])).status_code == 404
    assert ProviderKey.objects.filter(pk=org_key.pk).exists()


def test_owner_cannot_touch_a_members_personal_key(
    tenant, owner_client, member_client, master_keys
):
    response = member_client.post(
        URL, {"provider": "anthropic", "scope": "user", "api_key": BOB_KEY}
    )
    assert response.status_code == 302
    key = ProviderKey.objects.get(owner=tenant.member)
    assert "sk-ant-…C3D4" not in owner_client.get(URL).content.decode()
    assert owner_client.post(reverse("keys:key_remove", args=[key.pk])).status_code == 404
    assert member_client.post(reverse("keys:key_remove", args=[key.pk])).status_code == 302
    assert not ProviderKey.objects.exists()


def test_bad_format_is_400_with_a_field_error(owner_client, master_keys):
    bad = "sk-ant-api03-wrongPROVIDER0123456789abcdef"
    response = owner_client.post(
        URL, {"provider": "openai", "scope": "organization", "api_key": bad}
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "This looks like an Anthropic key, not an OpenAI key." in html
    assert 'class="field-error"' in html
    assert bad not in html
    assert not ProviderKey.objects.exists()


def test_missing_fields_are_400_not_500(owner_client, master_keys):
    response = owner_client.post(URL, {"provider": "nope", "scope": "x"})
    assert response.status_code == 400


def test_plain_post_without_javascript_saves_and_replaces_in_place(owner_client, org_key):
    response = owner_client.post(
        URL,
        {
            "provider": "openai",
            "scope": "organization",
            "api_key": "sk-proj-plainPOST0123456789abcdefE5F6",
            "replace": "on",
        },
    )
    assert response.status_code == 302
    key = ProviderKey.objects.get()
    assert (key.pk, key.key_version, key.masked) == (org_key.pk, 2, "sk-…E5F6")


def test_browser_encrypted_post_is_decrypted_by_the_server(tenant, owner_client, master_keys):
    jwk = _jwk(owner_client.get(URL).content.decode())
    sealed = transport_encrypt_for_tests(ORG_KEY, jwk)
    assert ORG_KEY not in sealed
    response = owner_client.post(
        URL, {"provider": "openai", "scope": "organization", "api_key": sealed}
    )
    assert response.status_code == 302
    resolved = services.provider_key_resolve(
        organization=tenant.org, user=tenant.owner, provider="openai"
    )
    assert resolved.secret == ORG_KEY


def test_garbled_encrypted_post_is_a_field_error(owner_client, master_keys):
    jwk = _jwk(owner_client.get(URL).content.decode())
    sealed = transport_encrypt_for_tests(ORG_KEY, jwk)
    response = owner_client.post(
        URL, {"provider": "openai", "scope": "organization", "api_key": sealed[:-3] + "AAA"}
    )
    assert response.status_code == 400
    assert "could not be read" in response.content.decode()


def test_htmx_test_button_swaps_in_connected(owner_client, org_key, fake_provider):
    fake_provider.valid_keys.add(ORG_KEY)
    response = owner_client.post(
        reverse("keys:key_test", args=[org_key.pk]), HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "badge-connected" in html and "Connected" in html
    assert "<html" not in html
    fake_provider.valid_keys.clear()
    response = owner_client.post(
        reverse("keys:key_test", args=[org_key.pk]), HTTP_HX_REQUEST="true"
    )
    assert "Invalid" in response.content.decode()


def test_test_button_without_htmx_redirects_with_a_message(owner_client, org_key, fake_provider):
    fake_provider.valid_keys.add(ORG_KEY)
    response = owner_client.post(reverse("keys:key_test", args=[org_key.pk]), follow=True)
    assert "OpenAI key: Connected." in response.content.decode()
