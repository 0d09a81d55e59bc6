"""The whole journey in a real browser (Playwright driving Debian's Chromium, headless):
sign up → add a key (masked after save) → generate with the fake provider → watch progress
→ download the zip → invite a member → the member cannot see the key.

Runs against pytest-django's live server with generations on a background thread and the
fake LLM over real HTTP. Set CREWBUILDER_SCREENSHOTS=/some/dir to keep page screenshots.
"""

from __future__ import annotations

import io
import os
import re
import secrets
import zipfile
from pathlib import Path

import pytest
from django.core import mail

from tests.conftest import PASSWORD
from tests.factories import UserFactory, plan_assign

# serialized_rollback like the other live-thread tests: the flush after this test must not
# re-create content types that the next serialized test restores itself.
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

OWNER_EMAIL = "olivia@example.test"
MEMBER_EMAIL = "max@example.test"
REQUIREMENT = (
    "Every Monday, research the news about our three competitors and write a short "
    "report for the sales team with the most important changes."
)


@pytest.fixture
def site(live_server, settings, fake_llm, monkeypatch):
    # Playwright's sync API keeps an event loop on this thread; our own ORM calls between
    # browser steps are ordinary synchronous code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    settings.SITE_URL = live_server.url
    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
    settings.CREWBUILDER_GENERATION_RUNNER = "thread"
    settings.OPENAI_API_KEY = ""
    settings.ANTHROPIC_API_KEY = ""
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    return live_server.url


class Shots:
    def __init__(self):
        target = os.environ.get("CREWBUILDER_SCREENSHOTS")
        self.dir = Path(target) if target else None
        if self.dir:
            self.dir.mkdir(parents=True, exist_ok=True)

    def __call__(self, page, name: str) -> None:
        if self.dir:
            page.screenshot(path=str(self.dir / f"{name}.png"), full_page=True)


def _new_page(browser, csp_violations: list[str]):
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.on(
        "console",
        lambda msg: (
            csp_violations.append(msg.text)
            if "Content Security Policy" in msg.text or "Refused to" in msg.text
            else None
        ),
    )
    return page


def _link_from_outbox(pattern: str) -> str:
    for message in reversed(mail.outbox):
        match = re.search(pattern, message.body)
        if match:
            return match.group(0)
    raise AssertionError(f"no email matching {pattern!r}")


def test_signup_key_generate_download_invite_member_cannot_see_key(browser, site, fake_llm):
    from django.db import connections

    try:
        _journey(browser, site, fake_llm)
    finally:
        # With Playwright's sync API running, the ORM calls in the test body get their own
        # context-local DB connection that pytest-django does not know about; close it, or
        # Postgres refuses to drop the test database at the end of the run.
        connections.close_all()


def _journey(browser, site: str, fake_llm) -> None:
    shots = Shots()
    csp_violations: list[str] = []
    api_key = "sk-proj-BROWSERcanary" + secrets.token_hex(20)
    fake_llm.push_design(delay=1.5)  # slow enough to see the progress move

    # --- sign up and confirm the email address ---------------------------------------
    page = _new_page(browser, csp_violations)
    page.goto(f"{site}/accounts/signup/")
    page.fill("input[name=email]", OWNER_EMAIL)
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.click("form button[type=submit]")
    confirm_url = _link_from_outbox(r"http://\S+/accounts/confirm-email/\S+/")
    page.goto(confirm_url)
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(r"/generate/"))

    # --- add an organisation OpenAI key: masked after save ---------------------------
    page.goto(f"{site}/settings/api-keys/")
    org_keys = page.locator("#organization-keys")
    org_keys.locator("summary", has_text="Add OpenAI key").click()
    key_input = org_keys.locator("#key-organization-openai")
    key_input.fill(api_key)
    org_keys.locator("form:has(#key-organization-openai) button", has_text="Save key").click()
    page.wait_for_selector("text=Saved")
    html = page.content()
    assert api_key not in html
    assert api_key[-4:] in org_keys.locator("code").first.inner_text()
    shots(page, "api-keys")

    # --- generate with that key through the fake provider ----------------------------
    page.goto(f"{site}/generate/")
    page.fill("textarea[name=requirement]", REQUIREMENT)
    page.check("input[name=key_choice][value=openai]")
    shots(page, "generate")
    page.click("#generate-form button.btn-primary")
    page.wait_for_url(re.compile(r"/generations/[0-9a-f-]{36}/$"))
    detail_url = page.url
    # watch progress: the live region updates itself (htmx polling) until done
    stages_seen = set()
    for _ in range(60):
        stages_seen.add(page.locator("#progress h2").inner_text().strip())
        if page.locator("#progress .badge", has_text="Succeeded").count():
            break
        page.wait_for_timeout(500)
    assert "Done" in stages_seen, stages_seen
    assert len(stages_seen) >= 2, f"never saw the progress move: {stages_seen}"
    assert fake_llm.requests and fake_llm.requests[-1].api_key == api_key
    shots(page, "generation-detail")

    # --- download the zip ------------------------------------------------------------
    with page.expect_download() as download_info:
        page.click("text=Download zip")
    data = Path(download_info.value.path()).read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
    assert any(n.endswith("/pyproject.toml") for n in names)
    assert any(n.endswith("/config/agents.yaml") for n in names)

    # --- invite a member (an operator gave the workspace a plan with seats) -----------
    from accounts.models import Organization

    org = Organization.objects.get(created_by__email=OWNER_EMAIL)
    plan_assign(org, "professional")
    page.goto(f"{site}/settings/team/")
    page.fill("input[name=email]", MEMBER_EMAIL)
    page.select_option("select[name=role]", "member")
    page.click("text=Send invitation")
    page.wait_for_selector(f"text=Invitation sent to {MEMBER_EMAIL}")
    shots(page, "team")
    accept_url = _link_from_outbox(r"http://\S+/invitations/[^/\s]+/")

    # --- the member joins and cannot see the key ------------------------------------
    UserFactory(email=MEMBER_EMAIL)
    member = _new_page(browser, csp_violations)
    member.goto(f"{site}/accounts/login/")
    member.fill("input[name=login]", MEMBER_EMAIL)
    member.fill("input[name=password]", PASSWORD)
    member.click("form button[type=submit]")
    member.wait_for_url(re.compile(r"/generate/"))
    member.goto(accept_url)
    member.click("text=Accept invitation")
    member.wait_for_selector("text=Welcome to")
    member.goto(f"{site}/settings/api-keys/")
    member_html = member.content()
    assert api_key not in member_html
    assert api_key[-4:] in member_html  # the masked form only
    assert member.locator("#organization-keys button", has_text="Save key").count() == 0
    shots(member, "member-api-keys")
    # the generation page does not leak it either
    member.goto(detail_url)
    assert api_key not in member.content()

    # --- the owner's operations pages render cleanly too ------------------------------
    page.goto(f"{site}/settings/audit/")
    assert page.locator("code", has_text="invitation.created").count() >= 1
    shots(page, "audit")
    page.goto(f"{site}/settings/analytics/")
    assert page.locator("svg.chart-wide").count() == 7
    shots(page, "analytics")
    page.goto(f"{site}/settings/branding/")
    assert page.locator("text=part of the Enterprise plan").count() == 1
    shots(page, "branding")

    assert csp_violations == []


def test_white_label_brand_applies_in_the_browser(browser, site, tmp_path, settings):
    from django.db import connections

    settings.MEDIA_ROOT = tmp_path
    try:
        _white_label(browser, site, tmp_path)
    finally:
        connections.close_all()


def _white_label(browser, site: str, tmp_path: Path) -> None:
    from PIL import Image

    from accounts.services import user_onboard

    shots = Shots()
    csp_violations: list[str] = []
    owner = UserFactory(email="brand@example.test")
    plan_assign(user_onboard(user=owner), "enterprise")
    logo = tmp_path / "logo.png"
    Image.new("RGB", (96, 32), (16, 120, 80)).save(logo)

    page = _new_page(browser, csp_violations)
    page.goto(f"{site}/accounts/login/")
    page.fill("input[name=login]", owner.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(r"/generate/"))
    page.goto(f"{site}/settings/branding/")
    page.fill("input[name=brand_name]", "Northwind Crews")
    page.fill("input[name=primary_color]", "#0f766e")
    page.fill("input[name=accent_color]", "#f59e0b")
    page.set_input_files("input[name=logo]", str(logo))
    page.click("button:has-text('Save')")
    page.wait_for_selector("text=Branding saved.")
    brand = page.locator("header .brand")
    assert "Northwind Crews" in brand.inner_text()
    # The logo is fetched after the page loads: wait until the browser has finished with it
    # (``complete``: loaded or failed), then check it decoded to real pixels. Reading
    # naturalWidth straight away raced that fetch.
    logo = brand.locator("img")
    logo.wait_for()
    page.wait_for_function("img => img.complete", arg=logo.element_handle())
    assert logo.evaluate("img => img.naturalWidth") > 0, "the logo did not load"
    primary = page.evaluate(
        "getComputedStyle(document.documentElement).getPropertyValue('--primary').trim()"
    )
    assert primary == "#0f766e"
    assert page.title().endswith("Northwind Crews")
    shots(page, "branding-applied")
    page.goto(f"{site}/generate/")
    shots(page, "generate-branded")
    assert csp_violations == []
