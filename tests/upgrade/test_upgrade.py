"""A database written by the previous release, migrated to HEAD, loses nothing.

The fixture (tests/upgrade/fixture) was made by the previous release's own code through
its pages, API and services (scripts/upgrade_fixture/make.sh); its manifest holds what the
dump cannot reveal (test-only passwords, API tokens, provider keys) and a snapshot of every
row. scripts/upgrade_check.sh restores it, migrates it and runs these tests against it.
"""

from __future__ import annotations

import hashlib

import pytest
from django.apps import apps
from django.test import Client

from accounts.models import Invitation, OrganizationBranding, User
from billing.models import BillingAccount, CreditEntry, GenerationCharge
from generation.fallback import fallback_design
from generation.models import Generation

pytestmark = pytest.mark.django_db

# A model that a later release moves to another app keeps its rows: name the move here
# ("old_app.Model": "new_app.Model") and the snapshot is compared under the new label.
MOVED_MODELS: dict[str, str] = {}


def _org(manifest, key: str) -> dict:
    return manifest["organizations"][key]


def _token(manifest, name: str) -> str:
    return next(t["raw"] for t in manifest["tokens"] if t["name"] == name)


def _key(manifest, name: str) -> str:
    return next(k["plaintext"] for k in manifest["keys"] if k["name"] == name)


def _signed_in(email: str, organization_id: int) -> Client:
    client = Client()
    client.force_login(User.objects.get(email=email))
    assert (
        client.post("/organizations/switch/", {"organization": organization_id}).status_code == 302
    )
    return client


def _api(token: str) -> Client:
    return Client(headers={"Authorization": f"Bearer {token}"})


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.fixture
def platform(settings, fake_llm, manifest):
    settings.OPENAI_API_KEY = manifest["platform_keys"]["openai"]
    settings.ANTHROPIC_API_KEY = manifest["platform_keys"]["anthropic"]
    return fake_llm


def _designs_for(llm, requirement: str) -> str:
    """The provider answers with a crew that fits the requirement (the fit check runs on
    every LLM design); these tests are about keys, tokens and charges, not design."""
    llm.push_design(fallback_design(requirement=requirement).model_dump(mode="json"))
    return requirement


def test_the_fixture_comes_from_an_older_release(manifest):
    from crewbuilder import __version__

    old = tuple(int(p) for p in manifest["release"]["version"].split(".")[:3])
    new = tuple(int(p) for p in __version__.split(".")[:3])
    assert old < new


def test_every_row_the_previous_release_wrote_is_unchanged(manifest, snapshot_module):
    expected = {
        MOVED_MODELS.get(label, label): rows for label, rows in manifest["snapshot"].items()
    }
    actual = snapshot_module.snapshot(apps, labels=list(expected))
    problems = snapshot_module.compare(expected, actual)
    assert not problems, "\n".join(problems)
    assert sum(len(rows) for rows in expected.values()) > 100  # the comparison saw the data


def test_every_verified_user_signs_in_with_their_password(manifest):
    for email, user in manifest["users"].items():
        if user.get("staff"):
            # created with createsuperuser (no verified address yet in that release)
            assert User.objects.get(email=email).check_password(user["password"])
            continue
        client = Client()
        response = client.post("/accounts/login/", {"login": email, "password": user["password"]})
        assert response.status_code == 302, (email, response.status_code)
        assert client.session["_auth_user_id"] == str(user["id"]), email
    wrong = Client().post(
        "/accounts/login/", {"login": "owner.pro@upgrade.test", "password": "not the password"}
    )
    assert wrong.status_code == 200 and "_auth_user_id" not in wrong.wsgi_request.session


def test_an_organisation_key_stored_before_the_upgrade_reaches_the_provider_exactly(
    manifest, platform, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = _api(_token(manifest, "Pipeline (read & write)")).post(
            "/api/v1/generations/",
            {
                "requirement": _designs_for(
                    platform, "Summarise the week's support tickets for the team lead."
                ),
                "key_source": "stored",
                "provider": "openai",
            },
            content_type="application/json",
        )
    assert response.status_code == 202, response.content
    generation = Generation.objects.get(pk=response.json()["id"])
    assert generation.status == Generation.Status.SUCCEEDED, generation.error_message
    assert generation.resolved_key_source == "organization"
    sent = {r.api_key for r in platform.requests if r.path == "/v1/chat/completions"}
    assert sent == {_key(manifest, "pro_org_openai")}


def test_a_personal_key_stored_before_the_upgrade_reaches_the_provider_exactly(
    manifest, platform, django_capture_on_commit_callbacks
):
    client = _signed_in("member.pro@upgrade.test", _org(manifest, "professional")["id"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/generate/",
            {
                "requirement": _designs_for(
                    platform, "Draft replies to new customer questions every morning."
                ),
                "key_choice": "anthropic",
            },
        )
    assert response.status_code == 302
    generation = Generation.objects.filter(user__email="member.pro@upgrade.test").first()
    assert generation.status == Generation.Status.SUCCEEDED, generation.error_message
    assert generation.resolved_key_source == "user"
    sent = {r.api_key for r in platform.requests if r.path == "/v1/messages"}
    assert sent == {_key(manifest, "pro_member_anthropic")}


def test_enterprise_key_decrypts_through_its_own_token(
    manifest, platform, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = _api(_token(manifest, "Corp automation")).post(
            "/api/v1/generations/",
            {
                "requirement": _designs_for(
                    platform, "Research new enterprise leads and rank them every week."
                ),
                "key_source": "stored",
                "provider": "anthropic",
            },
            content_type="application/json",
        )
    assert response.status_code == 202, response.content
    assert Generation.objects.get(pk=response.json()["id"]).status == "succeeded"
    sent = {r.api_key for r in platform.requests if r.path == "/v1/messages"}
    assert sent == {_key(manifest, "ent_org_anthropic")}


def test_api_tokens_keep_their_scopes_and_the_revoked_one_stays_revoked(manifest):
    pro = _org(manifest, "professional")
    listed = _api(_token(manifest, "Reporting (read)")).get("/api/v1/generations/?page_size=100")
    assert listed.status_code == 200
    ids = {g["id"] for g in listed.json()["results"]}
    assert ids == {g["id"] for g in manifest["generations"] if g["organization_id"] == pro["id"]}
    refused = _api(_token(manifest, "Reporting (read)")).post(
        "/api/v1/generations/",
        {"requirement": "x" * 40, "key_source": "platform", "provider": "openai"},
        content_type="application/json",
    )
    assert refused.status_code == 403
    revoked = _api(_token(manifest, "Retired integration")).get("/api/v1/generations/")
    assert revoked.status_code == 401
    assert revoked.json()["error"]["code"]
    corp = _api(_token(manifest, "Corp automation")).get("/api/v1/generations/")
    assert corp.status_code == 200
    assert {t["scope"] for t in manifest["tokens"]} == {"read", "read_write"}


def test_old_generations_download_byte_identical(manifest):
    done = [g for g in manifest["generations"] if g["zip_sha256"]]
    assert len(done) >= 8
    for g in done:
        client = _signed_in(g["owner_email"], g["organization_id"])
        response = client.get(f"/generations/{g['id']}/download/")
        assert response.status_code == 200, g["label"]
        assert hashlib.sha256(_body(response)).hexdigest() == g["zip_sha256"], g["label"]
    pro = _org(manifest, "professional")["id"]
    reader = _api(_token(manifest, "Reporting (read)"))
    for g in (g for g in done if g["organization_id"] == pro):
        response = reader.get(f"/api/v1/generations/{g['id']}/download/")
        assert response.status_code == 200
        assert hashlib.sha256(_body(response)).hexdigest() == g["zip_sha256"], g["label"]


def test_the_logo_moved_into_the_database_byte_identical(manifest, settings):
    # scripts/upgrade_check.sh gives this process an empty media directory
    assert not any(settings.MEDIA_ROOT.iterdir()) if settings.MEDIA_ROOT.exists() else True
    (logo,) = manifest["logos"]
    branding = OrganizationBranding.objects.get(organization__uuid=logo["organization_uuid"])
    assert branding.logo_sha256 == logo["sha256"]
    response = Client().get(f"/branding/{logo['organization_uuid']}/logo.png")
    assert response.status_code == 200
    assert hashlib.sha256(response.content).hexdigest() == logo["sha256"]
    page = _signed_in("owner.ent@upgrade.test", _org(manifest, "enterprise")["id"]).get(
        "/settings/team/"
    )
    assert f"logo.png?v={logo['sha256'][:16]}" in page.content.decode()


def test_every_organisation_has_its_billing_account_after_the_upgrade(manifest):
    # 0.1.0 opened billing accounts lazily; billing/migrations/0005 opens the missing ones.
    orgs = {int(pk) for pk in manifest["snapshot"]["accounts.Organization"]}
    had = {r["organization_id"] for r in manifest["snapshot"]["billing.BillingAccount"].values()}
    assert orgs - had, "the fixture should hold organisations without a billing account"
    opened = BillingAccount.objects.filter(organization_id__in=orgs)
    assert set(opened.values_list("organization_id", flat=True)) == orgs
    for account in opened.filter(organization_id__in=orgs - had):
        assert (account.plan_id, account.plan_source, account.credit_balance) == (None, "free", 0)


def test_plans_usage_and_credits_read_the_same(manifest):
    snapshot = manifest["snapshot"]["billing.BillingAccount"]
    plans = {row["id"]: row["slug"] for row in manifest["snapshot"]["billing.Plan"].values()}
    for key, org in manifest["organizations"].items():
        account = BillingAccount.objects.get(organization_id=org["id"])
        before = next(r for r in snapshot.values() if r["organization_id"] == org["id"])
        assert (
            (plans.get(account.plan_id) or "free")
            == org["plan"]
            == (plans.get(before["plan_id"]) or "free")
        ), key
        assert account.credit_balance == before["credit_balance"], key
    usage = _api(_token(manifest, "Reporting (read)")).get("/api/v1/usage/").json()
    assert usage["plan"] == "professional"
    free = BillingAccount.objects.get(organization_id=_org(manifest, "free")["id"])
    assert free.credit_balance == 3  # bought 3, granted 1, one used


def test_invitations_and_audit_history_are_intact(manifest):
    for email, expected in manifest["invitations"].items():
        invitation = Invitation.objects.get(pk=expected["id"])
        assert (invitation.email, invitation.status) == (email, expected["status"])
    pro = _org(manifest, "professional")
    page = _signed_in("owner.pro@upgrade.test", pro["id"]).get("/settings/audit/")
    assert page.status_code == 200
    for action in ("api_token.revoked", "invitation.accepted", "billing.plan_assigned"):
        assert action in page.content.decode(), action


def test_a_new_generation_is_created_and_charged_to_the_quota(
    manifest, platform, django_capture_on_commit_callbacks
):
    reader = _api(_token(manifest, "Reporting (read)"))
    before = reader.get("/api/v1/usage/").json()
    with django_capture_on_commit_callbacks(execute=True):
        response = _api(_token(manifest, "Pipeline (read & write)")).post(
            "/api/v1/generations/",
            {
                "requirement": _designs_for(
                    platform, "Every Monday, compare our prices with three competitors."
                ),
                "key_source": "platform",
                "provider": "openai",
            },
            content_type="application/json",
            headers={"Idempotency-Key": "upgrade-check-0001"},
        )
    assert response.status_code == 202, response.content
    generation = Generation.objects.get(pk=response.json()["id"])
    assert (generation.status, generation.charged_as) == ("succeeded", "quota")
    charge = GenerationCharge.objects.get(generation_id=generation.pk)
    assert (charge.charged_as, charge.status) == ("quota", "committed")
    after = reader.get("/api/v1/usage/").json()
    assert after["used"] == before["used"] + 1
    assert {r.api_key for r in platform.requests if r.path == "/v1/chat/completions"} == {
        manifest["platform_keys"]["openai"]
    }


def test_a_new_generation_on_credits_takes_one_credit(
    manifest, platform, django_capture_on_commit_callbacks
):
    free = _org(manifest, "free")
    client = _signed_in("owner.free@upgrade.test", free["id"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/generate/",
            {
                "requirement": _designs_for(
                    platform, "Write a weekly newsletter from our blog posts."
                ),
                "key_choice": "platform",
            },
        )
    assert response.status_code == 302
    generation = Generation.objects.filter(organization_id=free["id"]).first()
    assert (generation.status, generation.charged_as) == ("succeeded", "credit")
    assert BillingAccount.objects.get(organization_id=free["id"]).credit_balance == 2
    assert CreditEntry.objects.get(generation_id=generation.pk).kind == "consume"
