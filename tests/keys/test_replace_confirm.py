"""/settings/api-keys/ never replaces a saved key silently: saving over one needs the
"Replace the saved key" box ticked in the same post. Without it the page comes back (409)
with the reason on that field and nothing changes; with it the key is replaced in place
and the audit log says ``provider_key.replaced``. The key typed is never put back into the
page or the logs — the user types it again."""

from __future__ import annotations

import logging
import re

import pytest

from accounts.models import AuditEvent
from keys import services
from keys.models import ProviderKey

URL = "/settings/api-keys/"
SAVED = "sk-proj-replaceSAVEDkey0123456789abcdA1B2"
NEW = "sk-proj-replaceNEWcanary0123456789abcdE5F6"
BOB_SAVED = "sk-ant-api03-replaceBOBsaved0123456789abcdC3D4"
BOB_NEW = "sk-ant-api03-replaceBOBnewKEY0123456789abcdG7H8"


@pytest.fixture
def org_key(tenant, master_keys):
    return services.provider_key_store(
        organization=tenant.org, actor=tenant.owner, provider="openai", api_key=SAVED
    )


def _post(client, key: str, *, provider="openai", scope="organization", **extra):
    return client.post(URL, {"provider": provider, "scope": scope, "api_key": key, **extra})


def _secret(tenant, provider="openai", user=None) -> str:
    return services.provider_key_resolve(
        organization=tenant.org, user=user, provider=provider
    ).secret


def _tag(html: str, element_id: str) -> str:
    match = re.search(rf'<input[^>]*id="{element_id}"[^>]*>', html)
    assert match, f"no input #{element_id}"
    return match.group(0)


def test_page_offers_the_replace_box_only_where_a_key_is_saved(owner_client, org_key):
    html = owner_client.get(URL).content.decode()
    box = _tag(html, "replace-organization-openai")
    assert 'type="checkbox"' in box and 'name="replace"' in box
    assert '<label class="check" for="replace-organization-openai">' in html
    assert "A key is already saved here (sk-…A1B2)" in html
    assert 'aria-describedby="replace-help-organization-openai"' in box
    assert "Replace OpenAI key" in html and "Replace key" in html
    # no saved key, nothing to confirm
    assert 'id="replace-organization-anthropic"' not in html
    assert "Add Anthropic key" in html


def test_saving_over_a_key_without_ticking_the_box_changes_nothing_and_says_why(
    tenant, owner_client, org_key, caplog
):
    caplog.set_level(logging.DEBUG)
    response = _post(owner_client, NEW, label="Rotated")
    html = response.content.decode()
    assert response.status_code == 409
    message = (
        "There is already a saved OpenAI key here (sk-…A1B2); it was left unchanged. To "
        "replace it, tick “Replace the saved key” and enter the new key again."
    )
    assert html.count(message) == 2  # on the field, and linked from the summary at the top
    assert '<a href="#replace-organization-openai">' in html
    assert 'role="alert"' in html
    box = _tag(html, "replace-organization-openai")
    assert 'aria-invalid="true"' in box
    described = re.search(r'aria-describedby="([^"]+)"', box).group(1).split()
    assert described == [
        "replace-error-organization-openai",
        "replace-help-organization-openai",
    ]
    assert f'<p class="field-error" id="replace-error-organization-openai">{message}' in html
    # the form it belongs to is open again, the key field empty (typed again on confirm)
    assert re.search(r"<details open>\s*<summary[^>]*>Replace OpenAI key", html)
    assert 'value="' not in _tag(html, "key-organization-openai")
    # the key was never echoed, nor logged
    assert NEW not in html and "replaceNEWcanary" not in html
    assert "replaceNEWcanary" not in caplog.text
    assert all("replaceNEWcanary" not in repr(vars(r)) for r in caplog.records)
    # nothing changed
    key = ProviderKey.objects.get(organization=tenant.org)
    assert (key.pk, key.key_version, key.masked, key.label) == (org_key.pk, 1, "sk-…A1B2", "")
    assert _secret(tenant) == SAVED
    assert not AuditEvent.objects.filter(action="provider_key.replaced").exists()


def test_ticking_the_box_replaces_the_key_in_place_and_audits_it(
    tenant, owner_client, org_key, caplog
):
    caplog.set_level(logging.DEBUG)
    response = _post(owner_client, NEW, replace="on", label="Rotated")
    assert response.status_code == 302
    page = owner_client.get(response["Location"]).content.decode()
    assert "Replaced the OpenAI key; it is now sk-…E5F6. Use “Test” to check it works." in page
    assert NEW not in page and "replaceNEWcanary" not in caplog.text
    key = ProviderKey.objects.get(organization=tenant.org)
    assert (key.pk, key.key_version, key.masked, key.label) == (
        org_key.pk,
        2,
        "sk-…E5F6",
        "Rotated",
    )
    assert _secret(tenant) == NEW
    event = AuditEvent.objects.get(action="provider_key.replaced")
    assert (event.organization, event.actor) == (tenant.org, tenant.owner)
    assert event.metadata["key_version"] == 2 and event.metadata["fingerprint"] == key.fingerprint


def test_a_first_key_needs_no_confirmation(tenant, owner_client, master_keys):
    response = _post(owner_client, SAVED)
    assert response.status_code == 302
    assert "Saved OpenAI key sk-…A1B2." in owner_client.get(URL).content.decode()
    assert AuditEvent.objects.filter(action="provider_key.created").count() == 1


def test_a_key_saved_by_someone_else_meanwhile_is_not_overwritten(
    tenant, owner_client, master_keys
):
    """Alice opened the page before any key existed (no box to tick); an admin saved one
    since. Her save is refused and the page now offers the box."""
    assert 'id="replace-organization-openai"' not in owner_client.get(URL).content.decode()
    services.provider_key_store(
        organization=tenant.org, actor=tenant.owner, provider="openai", api_key=SAVED
    )
    response = _post(owner_client, NEW)
    assert response.status_code == 409
    assert 'aria-invalid="true"' in _tag(response.content.decode(), "replace-organization-openai")
    assert _secret(tenant) == SAVED


def test_a_member_confirms_replacing_their_personal_key(tenant, member_client, master_keys):
    assert _post(member_client, BOB_SAVED, provider="anthropic", scope="user").status_code == 302
    refused = _post(member_client, BOB_NEW, provider="anthropic", scope="user")
    assert refused.status_code == 409
    assert 'id="replace-error-user-anthropic"' in refused.content.decode()
    assert BOB_NEW not in refused.content.decode()
    assert _secret(tenant, "anthropic", user=tenant.member) == BOB_SAVED
    done = _post(member_client, BOB_NEW, provider="anthropic", scope="user", replace="on")
    assert done.status_code == 302
    assert _secret(tenant, "anthropic", user=tenant.member) == BOB_NEW


def test_member_cannot_replace_the_org_key_even_when_confirming(tenant, member_client, org_key):
    response = _post(member_client, NEW, replace="on")
    assert response.status_code == 403
    assert _secret(tenant) == SAVED


def test_outsider_saves_a_first_key_for_their_own_organisation(tenant, outsider_client, org_key):
    """Charlie's organisation has no key: nothing to confirm, and Acme's key is untouched."""
    assert _post(outsider_client, NEW).status_code == 302
    assert ProviderKey.objects.get(organization=tenant.outsider_org).masked == "sk-…E5F6"
    assert _secret(tenant) == SAVED


def test_a_bad_key_with_the_box_ticked_is_a_field_error_and_changes_nothing(
    tenant, owner_client, org_key
):
    bad = "sk-ant-api03-wrongPROVIDERreplace0123456789abcdef"
    response = _post(owner_client, bad, replace="on")
    html = response.content.decode()
    assert response.status_code == 400
    assert 'aria-invalid="true"' in _tag(html, "key-organization-openai")
    assert 'id="key-error-organization-openai"' in html
    assert '<a href="#key-organization-openai">' in html
    assert bad not in html
    assert _secret(tenant) == SAVED
