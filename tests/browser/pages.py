"""Every page state the accessibility harness visits (tests/browser/test_accessibility.py).

A new page is one line in ``PAGE_STATES``: a name, a path (or a function of the ``World``
that builds what the page needs and returns its path), whether it is seen signed in, and
optionally what to do on the page before it is checked (e.g. submit a form to show its
errors). The harness loads each state at 1280×800 and at 390×844 (touch), runs axe-core
and the overflow check, and fails on any serious or critical violation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from tests.conftest import PASSWORD
from tests.factories import MembershipFactory, UserFactory, plan_assign

REQUIREMENT = (
    "Every Monday, research the news about our three competitors and write a short report "
    "for the sales team with the most important changes and what they mean for us."
)
OPENAI_KEY = "sk-proj-a11yHarness" + "0" * 32 + "a1b2"


class World:
    """What the pages need, built on first use (each test gets a fresh database)."""

    def __init__(self, request):
        self._request = request

    @cached_property
    def owner(self):
        from accounts.models import Role
        from tests.factories import OrganizationFactory

        org = OrganizationFactory(name="Acme Robotics")
        user = UserFactory(email="olivia@acme.test")
        MembershipFactory(organization=org, user=user, role=Role.OWNER)
        plan_assign(org, "enterprise")
        return user

    @cached_property
    def free_owner(self):
        """The owner of an organisation on the Free plan (plan notices, no white-label)."""
        from accounts.services import user_onboard

        user = UserFactory(email="fred@freelance.test")
        user_onboard(user=user)
        return user

    @cached_property
    def brand_owner(self):
        """An Enterprise owner whose brand colours are light (text needs derived colours)."""
        from accounts.models import Role
        from accounts.services import branding_update
        from tests.factories import OrganizationFactory

        org = OrganizationFactory(name="Sunny Side Crews")
        user = UserFactory(email="bea@sunny.test")
        MembershipFactory(organization=org, user=user, role=Role.OWNER)
        plan_assign(org, "enterprise")
        branding_update(
            organization=org,
            actor=user,
            brand_name="Sunny Crews",
            primary_color="#f59e0b",
            accent_color="#fde047",
            custom_domain="crews.sunny-side.test",  # claimed, not yet proved by DNS
        )
        return user

    @cached_property
    def org(self):
        from accounts.models import Membership

        return Membership.objects.get(user=self.owner).organization

    @cached_property
    def member(self):
        from accounts.models import Role

        user = UserFactory(email="max.mustermann@acme.test")
        MembershipFactory(organization=self.org, user=user, role=Role.MEMBER)
        return user

    def _generation(self, **fields):
        from generation.models import Generation

        return Generation.objects.create(
            organization=self.org,
            user=self.owner,
            requirement=REQUIREMENT,
            provider="fallback",
            model="built-in designer",
            key_source=Generation.KeySource.PLATFORM,
            **fields,
        )

    @cached_property
    def finished(self):
        """A real succeeded generation: the built-in designer through the real pipeline."""
        from django.test import override_settings

        from generation import services

        # The test database is in autocommit mode: the run queued "on commit" happens inline.
        with override_settings(
            CREWBUILDER_GENERATION_RUNNER="sync", OPENAI_API_KEY="", ANTHROPIC_API_KEY=""
        ):
            g = services.generation_create(
                organization=self.org,
                user=self.owner,
                requirement=REQUIREMENT,
                key_source="platform",
                provider="openai",
            )
        g.refresh_from_db()
        assert g.status == "succeeded", (g.status, g.error_message)
        return g

    @cached_property
    def running(self):
        return self._generation(status="running", stage="designing", progress=20)

    @cached_property
    def awaiting_answers(self):
        return self._generation(
            status="running",
            stage="designing",
            progress=15,
            allow_questions=True,
            questions=[
                "Which three competitors should the crew watch?",
                "Where should the weekly report be sent?",
            ],
        )

    @cached_property
    def failed(self):
        return self._generation(
            status="failed",
            stage="designing",
            progress=100,
            error_code="provider_error",
            error_message="The AI provider rejected the request: the key is not valid.",
        )

    @cached_property
    def stored_key(self):
        from keys import services

        return services.provider_key_store(
            organization=self.org,
            actor=self.owner,
            provider="openai",
            api_key=OPENAI_KEY,
            label="Production",
        )

    @cached_property
    def api_token(self):
        from crewbuilder.api.tokens import api_token_create

        return api_token_create(organization=self.org, actor=self.owner, name="Reporting sync")

    @cached_property
    def invitation_token(self) -> str:
        from accounts.services import invitation_create

        _invitation, token = invitation_create(
            organization=self.org, actor=self.owner, email="new.colleague@example.test"
        )
        return token

    @cached_property
    def guest_token(self) -> str:
        """A finished no-signup generation (one-time key against the fake provider)."""
        from django.test import override_settings

        from generation.guest import guest_generation_start

        self._request.getfixturevalue("fake_llm")
        with override_settings(CREWBUILDER_GENERATION_RUNNER="sync"):
            _guest, token = guest_generation_start(
                requirement=REQUIREMENT, provider="openai", api_key=OPENAI_KEY, ip="127.0.0.9"
            )
        return token

    # Richer pages: the settings pages with something in them.
    def team_page(self) -> str:
        _ = self.member, self.invitation_token
        return "/settings/team/"

    def keys_page(self) -> str:
        _ = self.stored_key
        return "/settings/api-keys/"

    def tokens_page(self) -> str:
        _ = self.api_token
        return "/settings/api-tokens/"

    def audit_page(self) -> str:
        _ = self.team_page(), self.stored_key, self.api_token
        return "/settings/audit/"

    def usage_page(self, path: str) -> str:
        _ = self.finished, self.failed
        return path


@dataclass(frozen=True)
class PageState:
    name: str
    path: str | Callable[[World], str]
    user: str = ""  # a World attribute ("owner", "free_owner", …) or "" for signed out
    prepare: Callable[[object], None] | None = None  # a Playwright Page, after loading
    status: int = 200

    def url_path(self, world: World) -> str:
        return self.path if isinstance(self.path, str) else self.path(world)


def _submit_empty(selector: str) -> Callable[[object], None]:
    """Submit a form as it is, to check the page that shows its errors."""

    def prepare(page) -> None:
        with page.expect_navigation():
            page.locator(selector).click()

    return prepare


def _open_menus(page) -> None:
    """The phone menu (where there is a menu button) and the Settings menu, opened."""
    toggle = page.locator(".nav-toggle")
    if toggle.is_visible():
        toggle.click()
        page.locator("#primary-nav").wait_for(state="visible")
    page.locator("#primary-nav details.menu > summary").click()
    page.locator("#primary-nav .menu-panel").wait_for(state="visible")


def _replace_key_unconfirmed(page) -> None:
    """A new key typed over the saved one without ticking "Replace the saved key": the
    page comes back (409) with the reason on that box and in the summary."""
    section = page.locator("#organization-keys")
    section.locator("summary", has_text="Replace OpenAI key").click()
    section.locator("#key-organization-openai").fill("sk-proj-a11yUNCONFIRMED" + "x" * 30)
    with page.expect_navigation():
        section.locator("form:has(#key-organization-openai) button.btn-primary").click()
    page.locator("#replace-error-organization-openai").wait_for()


def _sign_up_badly(page) -> None:
    """Values the browser accepts and the server refuses: the page shows field errors."""
    page.fill("input[name=email]", "new.person@example.test")
    page.fill("input[name=password1]", "short")
    page.fill("input[name=password2]", "different")
    with page.expect_navigation():
        page.locator("form button[type=submit]").click()
    page.locator(".errorlist").first.wait_for()


def _sign_in_wrong(page) -> None:
    page.fill("input[name=login]", "nobody@example.test")
    page.fill("input[name=password]", PASSWORD + "x")
    with page.expect_navigation():
        page.locator("form button[type=submit]").click()


PAGE_STATES: list[PageState] = [
    # --- signed out ---------------------------------------------------------------------
    PageState("landing", "/"),
    PageState("pricing", "/pricing/"),
    PageState("signup", "/accounts/signup/"),
    PageState("signup-errors", "/accounts/signup/", prepare=_sign_up_badly),
    PageState("login", "/accounts/login/"),
    PageState("login-error", "/accounts/login/", prepare=_sign_in_wrong),
    PageState("password-reset", "/accounts/password/reset/"),
    PageState("password-reset-done", "/accounts/password/reset/done/"),
    PageState("try", "/try/"),
    PageState("try-result", lambda w: f"/try/{w.guest_token}/"),
    PageState("invitation", lambda w: f"/invitations/{w.invitation_token}/"),
    PageState("not-found", "/no-such-page/", status=404),
    # --- signed in (an Enterprise owner) ------------------------------------------------
    PageState("landing-signed-in", "/", user="owner"),
    PageState("generate", "/generate/", user="owner"),
    PageState(
        "generate-errors",
        "/generate/",
        user="owner",
        prepare=_submit_empty("#generate-form button.btn-primary"),
    ),
    PageState("progress", lambda w: f"/generations/{w.running.pk}/", user="owner"),
    PageState("questions", lambda w: f"/generations/{w.awaiting_answers.pk}/", user="owner"),
    PageState("finished", lambda w: f"/generations/{w.finished.pk}/", user="owner"),
    PageState("failed", lambda w: f"/generations/{w.failed.pk}/", user="owner"),
    PageState(
        "file",
        lambda w: f"/generations/{w.finished.pk}/file/?path={w.finished.files[-1]['path']}",
        user="owner",
    ),
    PageState("generations", lambda w: w.usage_page("/generations/"), user="owner"),
    PageState("api-keys", World.keys_page, user="owner"),
    PageState(
        "api-keys-replace-unconfirmed",
        World.keys_page,
        user="owner",
        prepare=_replace_key_unconfirmed,
    ),
    PageState("team", World.team_page, user="owner"),
    PageState("api-tokens", World.tokens_page, user="owner"),
    PageState("branding", "/settings/branding/", user="owner"),
    PageState("analytics", lambda w: w.usage_page("/settings/analytics/"), user="owner"),
    PageState("audit", World.audit_page, user="owner"),
    PageState("billing", lambda w: w.usage_page("/settings/billing/"), user="owner"),
    PageState("account", "/settings/account/", user="owner"),
    PageState("organization-new", "/organizations/new/", user="owner"),
    PageState("organization-delete", "/settings/organization/delete/", user="owner"),
    PageState("email", "/accounts/email/", user="owner"),
    PageState("password-change", "/accounts/password/change/", user="owner"),
    PageState("not-found-signed-in", "/no-such-page/", user="owner", status=404),
    PageState("menu-open", "/generate/", user="owner", prepare=_open_menus),
    PageState("webhooks", "/settings/webhooks/", user="owner"),
    # --- a Free-plan owner: plan notices with links -------------------------------------
    PageState("api-tokens-free", "/settings/api-tokens/", user="free_owner"),
    PageState("branding-free", "/settings/branding/", user="free_owner"),
    PageState("billing-free", "/settings/billing/", user="free_owner"),
    PageState("webhooks-free", "/settings/webhooks/", user="free_owner"),
    # --- a white-label brand with light colours -----------------------------------------
    PageState("generate-light-brand", "/generate/", user="brand_owner"),
    PageState("branding-light-brand", "/settings/branding/", user="brand_owner"),
]
