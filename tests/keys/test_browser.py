"""keycrypt.js in a real browser (Playwright driving Debian's Chromium): the key leaves the
page only encrypted, the server stores it, the CSP is respected; with JavaScript off the
plain post still works. The Test button swaps its status in place through htmx."""

from __future__ import annotations

import pytest
from django.db import connections

from accounts.models import Role
from keys import services
from keys.models import ProviderKey
from tests.conftest import session_cookies
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

KEY = "sk-proj-BROWSERkeycrypt0123456789abcdefK9L8"


@pytest.fixture
def signed_in(live_server, settings, monkeypatch, master_keys):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
    org = OrganizationFactory(name="Acme")
    owner = UserFactory(email="alice@acme.test")
    MembershipFactory(organization=org, user=owner, role=Role.OWNER)
    cookies = session_cookies(owner, live_server.url)

    def open_page(browser, *, javascript: bool = True):
        context = browser.new_context(java_script_enabled=javascript)
        context.add_cookies(cookies)
        page = context.new_page()
        page.set_default_timeout(15_000)
        problems: list[str] = []
        page.on(
            "console",
            lambda msg: problems.append(msg.text) if msg.type == "error" else None,
        )
        posts: list[str] = []
        page.on(
            "request",
            lambda req: posts.append(req.post_data or "") if req.method == "POST" else None,
        )
        page.goto(f"{live_server.url}/settings/api-keys/")
        return page, posts, problems

    yield org, owner, open_page
    # ORM calls made while Playwright's loop runs get their own connection context; close
    # them so the test database can be dropped at the end of the session.
    connections.close_all()


def _save_org_openai_key(page) -> None:
    section = page.locator("#organization-keys")
    section.locator("summary", has_text="Add OpenAI key").click()
    field = section.locator("#key-organization-openai")
    field.fill(KEY)
    section.locator("form:has(#key-organization-openai) button.btn-primary").click()
    page.wait_for_selector("text=Saved")


def test_key_is_encrypted_in_the_browser_then_tested_in_place(browser, signed_in, fake_provider):
    org, owner, open_page = signed_in
    page, posts, problems = open_page(browser)
    _save_org_openai_key(page)
    key_posts = [body for body in posts if "api_key=" in body]
    assert len(key_posts) == 1
    assert "api_key=cbenc1." in key_posts[0]
    assert KEY not in key_posts[0] and "BROWSERkeycrypt" not in key_posts[0]
    assert KEY not in page.content()
    assert "sk-…K9L8" in page.locator("#organization-keys code").first.inner_text()
    assert not problems, problems  # no CSP refusals, no script errors
    resolved = services.provider_key_resolve(organization=org, user=owner, provider="openai")
    assert resolved.secret == KEY

    # [Test]: htmx swaps the status cell in place, no navigation.
    fake_provider.valid_keys.add(KEY)
    url_before = page.url
    page.locator("#organization-keys button", has_text="Test").first.click()
    page.wait_for_selector("#organization-keys .badge-connected")
    assert page.url == url_before
    assert "Connected" in page.locator("#organization-keys").inner_text()
    assert not problems, problems


def test_without_javascript_the_plain_post_still_works(browser, signed_in):
    org, owner, open_page = signed_in
    page, posts, _ = open_page(browser, javascript=False)
    section = page.locator("#organization-keys")
    # No JS: <details> still opens natively.
    section.locator("summary", has_text="Add OpenAI key").click()
    field = section.locator("#key-organization-openai")
    field.fill(KEY)
    section.locator("form:has(#key-organization-openai) button.btn-primary").click()
    page.wait_for_selector("text=Saved")
    assert any(f"api_key={KEY}" in body for body in posts)  # sent as typed, over the wire
    assert ProviderKey.objects.get(organization=org).masked == "sk-…K9L8"
