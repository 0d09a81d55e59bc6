"""The generation pages with alice (owner), bob (member), vera (viewer) and charlie
(outsider from another organisation)."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.urls import reverse

from billing.services import PaymentRequired
from generation import services
from generation.models import CrewTemplate, Generation
from tests.generation.conftest import CANARY_OPENAI, assign_plan

pytestmark = pytest.mark.django_db

REQ = "Research the EV battery market news and write a short report for our executives."


def post_generate(client, django_capture_on_commit_callbacks, **data):
    payload = {"requirement": REQ, "key_choice": "platform", "template": "", "model": ""}
    payload.update(data)
    with django_capture_on_commit_callbacks(execute=True):
        return client.post(reverse("generation:generate"), payload)


@pytest.fixture
def done(tenant, owner_client, django_capture_on_commit_callbacks) -> Generation:
    response = post_generate(owner_client, django_capture_on_commit_callbacks)
    assert response.status_code == 302
    return Generation.objects.get()


def test_generate_page_offers_templates_key_options_and_models(owner_client):
    response = owner_client.get(reverse("generation:generate"))
    assert response.status_code == 200
    html = response.content.decode()
    for text in (
        "CrewBuilder AI",
        "My OpenAI key",
        "My Anthropic key",
        "One-time key",
        "Content marketing",
        "Lead research",
        "Customer support triage",
        'type="password"',
        "gpt-4o-mini",
        "claude-sonnet-4-6",
        'name="requirement"',
    ):
        assert text in html, text


def test_choosing_a_template_prefills_its_requirement(owner_client):
    response = owner_client.get(reverse("generation:generate") + "?template=support-triage")
    template = CrewTemplate.objects.get(slug="support-triage", organization=None)
    html = response.content.decode()
    assert template.requirement in html
    assert 'value="support-triage" checked' in html


def test_owner_generates_and_lands_on_the_finished_result(
    tenant, owner_client, django_capture_on_commit_callbacks
):
    response = post_generate(owner_client, django_capture_on_commit_callbacks)
    g = Generation.objects.get()
    assert response["Location"] == reverse("generation:detail", args=[g.pk])
    assert (g.organization, g.user, g.status) == (tenant.org, tenant.owner, "succeeded")
    page = owner_client.get(response["Location"]).content.decode()
    assert g.design["title"] in page
    for agent in g.design["agents"]:
        assert agent["role"] in page
    for task in g.design["tasks"]:
        assert task["id"] in page
    assert "Download zip" in page
    assert "hx-get" not in page  # finished: no polling
    assert f"{len(g.checks)} of {len(g.checks)} passed" in page


def test_member_can_generate_and_see_the_owners_generations(
    member_client, done, django_capture_on_commit_callbacks
):
    assert member_client.get(reverse("generation:detail", args=[done.pk])).status_code == 200
    response = post_generate(member_client, django_capture_on_commit_callbacks)
    assert response.status_code == 302
    assert Generation.objects.count() == 2


def test_viewer_sees_but_cannot_generate(tenant, viewer, done):
    client = tenant.client_for(viewer)
    assert client.get(reverse("generation:detail", args=[done.pk])).status_code == 200
    response = client.post(reverse("generation:generate"), {"requirement": REQ})
    assert response.status_code == 403
    assert Generation.objects.count() == 1


@pytest.mark.parametrize(
    "name", ["generation:detail", "generation:progress", "generation:download", "generation:file"]
)
def test_outsider_gets_404_for_another_organisations_generation(outsider_client, done, name):
    url = reverse(name, args=[done.pk])
    if name == "generation:file":
        url += "?path=README.md"
    assert outsider_client.get(url).status_code == 404


def test_outsider_cannot_answer_or_save_templates_on_another_orgs_generation(outsider_client, done):
    for name in ("generation:answer", "generation:save_template"):
        assert outsider_client.post(reverse(name, args=[done.pk]), {}).status_code == 404


def test_anonymous_is_sent_to_login(client, done):
    response = client.get(reverse("generation:detail", args=[done.pk]))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.parametrize(
    ("data", "field_text"),
    [
        ({"requirement": "too short"}, "at least 20 characters"),
        ({"requirement": "z" * 5001}, "under 5000 characters"),
        ({"key_choice": "one_time", "api_key": ""}, "Paste the API key"),
        ({"key_choice": "openai"}, "no OpenAI key saved"),
        ({"key_choice": "anthropic"}, "no Anthropic key saved"),
        ({"model": "openai:gpt-imaginary"}, "Unknown openai model"),
        ({"key_choice": "openai", "model": "anthropic:claude-haiku-4-5"}, "Anthropic model"),
        ({"key_choice": "bogus"}, "Select a valid choice"),
        ({"template": "nope"}, "Unknown template"),
    ],
)
def test_bad_input_is_a_400_with_the_field_message_and_creates_nothing(
    owner_client, django_capture_on_commit_callbacks, data, field_text
):
    response = post_generate(owner_client, django_capture_on_commit_callbacks, **data)
    assert response.status_code == 400
    assert field_text in response.content.decode()
    assert 'class="field-error"' in response.content.decode()
    assert Generation.objects.count() == 0


def test_one_time_key_is_never_echoed_or_stored(
    tenant, owner_client, django_capture_on_commit_callbacks
):
    # too-short requirement: the form comes back, without the key in it
    response = post_generate(
        owner_client,
        django_capture_on_commit_callbacks,
        requirement="short",
        key_choice="one_time",
        api_key=CANARY_OPENAI,
    )
    assert response.status_code == 400
    assert CANARY_OPENAI not in response.content.decode()


def test_out_of_quota_is_a_402_with_buy_and_upgrade_links(
    owner_client, settings, django_capture_on_commit_callbacks
):
    settings.OPENAI_API_KEY = CANARY_OPENAI  # CrewBuilder AI on; the Free plan has 0
    response = post_generate(owner_client, django_capture_on_commit_callbacks)
    assert response.status_code == 402
    html = response.content.decode()
    assert "Buy a generation" in html and reverse("billing:settings") in html
    assert "Upgrade" in html and reverse("billing:pricing") in html
    assert Generation.objects.count() == 0


def test_advanced_model_without_the_plan_is_a_403_with_the_reason(
    tenant, owner_client, settings, django_capture_on_commit_callbacks
):
    settings.OPENAI_API_KEY = CANARY_OPENAI
    assign_plan(tenant.org, "basic")
    response = post_generate(
        owner_client, django_capture_on_commit_callbacks, model="openai:gpt-4o"
    )
    assert response.status_code == 403
    assert "Advanced models need the Professional" in response.content.decode()
    assert Generation.objects.count() == 0


def test_payment_required_raised_by_billing_is_mapped_to_402(
    owner_client, monkeypatch, django_capture_on_commit_callbacks
):
    def refuse(**kwargs):
        raise PaymentRequired("No generations left this month.")

    monkeypatch.setattr(services.billing, "charge_reserve", refuse)
    response = post_generate(owner_client, django_capture_on_commit_callbacks)
    assert response.status_code == 402
    assert "No generations left this month." in response.content.decode()


def test_list_is_paginated_newest_first_and_scoped_to_the_organisation(
    tenant, owner_client, outsider_client
):
    for i in range(23):
        Generation.objects.create(
            organization=tenant.org,
            user=tenant.owner,
            requirement=f"requirement number {i:02d} for the list page",
            provider="fallback",
            model="fallback",
            key_source="platform",
        )
    Generation.objects.create(
        organization=tenant.outsider_org,
        user=tenant.outsider,
        requirement="charlie's secret plan for world domination",
        provider="fallback",
        model="fallback",
        key_source="platform",
    )
    first = owner_client.get(reverse("generation:list")).content.decode()
    assert "23 in total" in first and "Page 1 of 2" in first
    assert "requirement number 22" in first and "requirement number 02" not in first
    second = owner_client.get(reverse("generation:list") + "?page=2").content.decode()
    assert "requirement number 02" in second
    assert "world domination" not in first + second
    theirs = outsider_client.get(reverse("generation:list")).content.decode()
    assert "world domination" in theirs and "requirement number" not in theirs


def test_list_and_detail_use_a_bounded_number_of_queries(
    owner_client, done, django_assert_max_num_queries
):
    with django_assert_max_num_queries(12):
        owner_client.get(reverse("generation:list"))
    with django_assert_max_num_queries(12):
        owner_client.get(reverse("generation:detail", args=[done.pk]))


def test_running_generation_polls_its_progress_fragment(tenant, owner_client):
    g = Generation.objects.create(
        organization=tenant.org,
        user=tenant.owner,
        requirement=REQ,
        provider="fallback",
        model="fallback",
        key_source="platform",
        status="running",
        stage="checking",
        progress=70,
    )
    page = owner_client.get(reverse("generation:detail", args=[g.pk])).content.decode()
    assert f'hx-get="{reverse("generation:progress", args=[g.pk])}"' in page
    assert 'hx-trigger="every 1s"' in page
    fragment = owner_client.get(reverse("generation:progress", args=[g.pk]), HTTP_HX_REQUEST="true")
    assert fragment.status_code == 200
    assert "HX-Refresh" not in fragment
    body = fragment.content.decode()
    assert "width: 70%" in body and '<li class="current">Checking</li>' in body
    assert '<li class="done">Rendering</li>' in body and "<html" not in body


def test_progress_fragment_reloads_the_page_once_finished(owner_client, done):
    fragment = owner_client.get(
        reverse("generation:progress", args=[done.pk]), HTTP_HX_REQUEST="true"
    )
    assert fragment["HX-Refresh"] == "true"
    assert "hx-get" not in fragment.content.decode()


def test_download_is_a_zip_of_the_project(owner_client, member_client, done):
    for client in (owner_client, member_client):
        response = client.get(reverse("generation:download", args=[done.pk]))
        assert response.status_code == 200
        assert response["Content-Type"] == "application/zip"
        assert f'filename="{done.design["name"]}.zip"' in response["Content-Disposition"]
        with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
            names = archive.namelist()
        assert f"{done.design['name']}/pyproject.toml" in names


def test_download_of_an_unfinished_generation_is_a_409(tenant, owner_client):
    g = Generation.objects.create(
        organization=tenant.org,
        requirement=REQ,
        provider="fallback",
        model="fallback",
        key_source="platform",
    )
    assert owner_client.get(reverse("generation:download", args=[g.pk])).status_code == 409


def test_file_browser_shows_a_files_content_and_404s_for_unknown_paths(owner_client, done):
    name = done.design["name"]
    url = reverse("generation:file", args=[done.pk])
    response = owner_client.get(url, {"path": f"src/{name}/config/agents.yaml"})
    assert response.status_code == 200
    assert done.design["agents"][0]["id"] in response.content.decode()
    assert owner_client.get(url, {"path": "../../etc/passwd"}).status_code == 404
    assert owner_client.get(url, {"path": ""}).status_code == 404
    detail = owner_client.get(reverse("generation:detail", args=[done.pk])).content.decode()
    assert f"{url}?path=src/{name}/crew.py" in detail.replace("%2F", "/")


def test_failed_generation_shows_the_error(tenant, owner_client):
    g = Generation.objects.create(
        organization=tenant.org,
        requirement=REQ,
        provider="openai",
        model="gpt-4o-mini",
        key_source="stored",
        status="failed",
        stage="designing",
        error_code="provider_auth",
        error_message="OpenAI rejected the API key.",
    )
    page = owner_client.get(reverse("generation:detail", args=[g.pk])).content.decode()
    assert "OpenAI rejected the API key." in page and "Download zip" not in page


def test_clarifying_questions_are_answered_on_the_page_and_the_generation_continues(
    tenant, owner_client, member_client, django_capture_on_commit_callbacks
):
    g = Generation.objects.create(
        organization=tenant.org,
        user=tenant.owner,
        requirement="Automate our reports please, thanks a lot",
        provider="fallback",
        model="fallback",
        key_source="platform",
        resolved_key_source="fallback",
        questions=["Which reports?", "Who reads them?"],
        notice="Waiting for your answers to the designer's questions.",
    )
    url = reverse("generation:detail", args=[g.pk])
    page = owner_client.get(url).content.decode()
    assert "Which reports?" in page and "Who reads them?" in page
    assert "hx-get" not in page  # waiting for the user, not polling

    missing = member_client.post(
        reverse("generation:answer", args=[g.pk]), {"answer_0": "Weekly sales"}
    )
    assert missing.status_code == 400
    assert "Answer this question" in missing.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = member_client.post(
            reverse("generation:answer", args=[g.pk]),
            {"answer_0": "Weekly sales reports", "answer_1": "The board"},
        )
    assert response.status_code == 302
    g.refresh_from_db()
    assert g.answers == {"Which reports?": "Weekly sales reports", "Who reads them?": "The board"}
    assert g.status == "succeeded"
    again = member_client.post(
        reverse("generation:answer", args=[g.pk]), {"answer_0": "x", "answer_1": "y"}
    )
    assert again.status_code == 400


def test_save_as_template_needs_a_plan_with_custom_templates(tenant, owner_client, done):
    url = reverse("generation:save_template", args=[done.pk])
    page = owner_client.get(reverse("generation:detail", args=[done.pk])).content.decode()
    assert "Save as a template" not in page
    response = owner_client.post(url, {"name": "Weekly pricing"})
    assert response.status_code == 403
    assert "Professional and Enterprise" in response.content.decode()
    assert not CrewTemplate.objects.filter(organization=tenant.org).exists()


def test_saved_template_is_offered_to_its_organisation_only(
    tenant, owner_client, outsider_client, done
):
    assign_plan(tenant.org, "professional")
    url = reverse("generation:save_template", args=[done.pk])
    assert owner_client.post(url, {"name": ""}).status_code == 400
    response = owner_client.post(url, {"name": "Weekly pricing", "description": "Ours"})
    assert response.status_code == 302
    template = CrewTemplate.objects.get(organization=tenant.org)
    assert (template.slug, template.blueprint["name"]) == ("weekly-pricing", done.design["name"])
    assert "Weekly pricing" in owner_client.get(reverse("generation:generate")).content.decode()
    assert (
        "Weekly pricing" not in outsider_client.get(reverse("generation:generate")).content.decode()
    )


def test_one_time_key_encrypted_in_the_browser_reaches_the_provider_and_nothing_else(
    tenant, owner_client, fake_llm, django_capture_on_commit_callbacks
):
    from keys.transport import transport_encrypt_for_tests, transport_public_jwk

    page = owner_client.get(reverse("generation:generate")).content.decode()
    assert 'id="keycrypt-jwk"' in page and 'data-keycrypt="1"' in page
    sealed = transport_encrypt_for_tests(CANARY_OPENAI, transport_public_jwk())
    response = post_generate(
        owner_client,
        django_capture_on_commit_callbacks,
        key_choice="one_time",
        one_time_provider="openai",
        api_key=sealed,
    )
    assert response.status_code == 302
    g = Generation.objects.get()
    assert (g.status, g.key_source, g.charged_as) == ("succeeded", "one_time", "own_key")
    assert [r.api_key for r in fake_llm.requests] == [CANARY_OPENAI]
    detail = owner_client.get(response["Location"]).content.decode()
    assert CANARY_OPENAI not in detail and sealed not in detail


def test_generate_page_says_when_crewbuilder_ai_is_the_built_in_designer(owner_client, settings):
    page = owner_client.get(reverse("generation:generate")).content.decode()
    assert "built-in designer" in page
    settings.ANTHROPIC_API_KEY = "sk-ant-platform000000000000000000000000"
    page = owner_client.get(reverse("generation:generate")).content.decode()
    assert "built-in designer" not in page and "plan's generations" in page
