"""Issue 12 item 4: a custom domain is served only after a DNS TXT proof.

Driven as the attacker would: an Enterprise organisation claims someone else's domain from
the branding page, sends requests with that Host header, and asks for password resets of
other organisations' users. The proof is checked by dnspython against a local DNS server
over real UDP (tests/fakes/dns.py), through ``CREWBUILDER_DNS_RESOLVER``.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from accounts.branding import forget_custom_domains
from accounts.domains import branding_domains_recheck, challenge_name, challenge_value
from accounts.models import AuditEvent, OrganizationBranding
from tests.factories import plan_assign

pytestmark = pytest.mark.django_db

VICTIM_DOMAIN = "crews.victim.test"


@pytest.fixture(autouse=True)
def _hosts(settings, tmp_path):
    from crewbuilder.hosts import AllowedHosts

    settings.MEDIA_ROOT = tmp_path
    settings.ALLOWED_HOSTS = AllowedHosts(["testserver", "localhost", "127.0.0.1"])
    forget_custom_domains()
    yield
    forget_custom_domains()


def save_domain(client: Client, domain: str, capture, brand: str = "Brand"):
    with capture(execute=True):
        return client.post(
            "/settings/branding/",
            {"brand_name": brand, "primary_color": "", "accent_color": "", "custom_domain": domain},
        )


def publish_proof(dns_server, org, domain: str) -> None:
    token = OrganizationBranding.objects.get(organization=org).domain_token
    assert token, "the token is created when a domain is claimed"
    dns_server.publish(challenge_name(domain), "v=spf1 -all", challenge_value(token))


def verify(client: Client, capture):
    with capture(execute=True):
        return client.post("/settings/branding/", {"verify": "1"})


def served_brand(domain: str) -> bytes | None:
    response = Client().get("/accounts/login/", HTTP_HOST=domain)
    return response.content if response.status_code == 200 else None


@pytest.fixture
def rivals(tenant):
    """Acme (the attacker, Enterprise) and Globex (the domain's real owner, Enterprise)."""
    plan_assign(tenant.org, "enterprise")
    plan_assign(tenant.outsider_org, "enterprise")
    return tenant


def test_a_claim_without_proof_is_not_served_and_does_not_lock_out_the_owner(
    rivals, owner_client, outsider_client, dns_server, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    attacker, owner = owner_client, outsider_client
    assert save_domain(attacker, VICTIM_DOMAIN, capture, brand="Evil").status_code == 302
    # not served: the host is refused, no brand, nothing routed
    assert served_brand(VICTIM_DOMAIN) is None
    assert Client().get("/", HTTP_HOST=VICTIM_DOMAIN).status_code == 400
    # the page shows what to publish, and verifying without the record fails clearly
    page = attacker.get("/settings/branding/").content.decode()
    assert challenge_name(VICTIM_DOMAIN) in page and "crewbuilder-verify=" in page
    failed = verify(attacker, capture)
    assert failed.status_code == 400
    assert b"No TXT record" in failed.content
    # the real owner claims the same name: no "already used", and proves it
    assert save_domain(owner, VICTIM_DOMAIN, capture, brand="Globex").status_code == 302
    publish_proof(dns_server, rivals.outsider_org, VICTIM_DOMAIN)
    assert verify(owner, capture).status_code == 302
    assert b"Globex" in served_brand(VICTIM_DOMAIN)
    # the attacker's record would have to be in the owner's DNS: its verify still fails
    assert verify(attacker, capture).status_code == 400
    assert b"Evil" not in served_brand(VICTIM_DOMAIN)
    event = AuditEvent.objects.get(action="branding.domain_verified")
    assert event.organization == rivals.outsider_org


def test_another_organisations_token_does_not_prove_the_domain(
    rivals, owner_client, outsider_client, dns_server, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    save_domain(owner_client, VICTIM_DOMAIN, capture)
    save_domain(outsider_client, VICTIM_DOMAIN, capture)
    publish_proof(dns_server, rivals.outsider_org, VICTIM_DOMAIN)  # the owner's record
    assert verify(owner_client, capture).status_code == 400  # Acme's token is not there
    assert served_brand(VICTIM_DOMAIN) is None
    tokens = set(OrganizationBranding.objects.values_list("domain_token", flat=True))
    assert len(tokens) == 2  # one per organisation


def test_proving_a_domain_takes_it_from_an_organisation_that_no_longer_can(
    rivals, owner_client, outsider_client, dns_server, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    save_domain(owner_client, VICTIM_DOMAIN, capture, brand="Acme")
    publish_proof(dns_server, rivals.org, VICTIM_DOMAIN)
    assert verify(owner_client, capture).status_code == 302
    assert b"Acme" in served_brand(VICTIM_DOMAIN)
    # the domain changes hands; the new owner publishes its own record and proves it
    dns_server.unpublish(challenge_name(VICTIM_DOMAIN))
    save_domain(outsider_client, VICTIM_DOMAIN, capture, brand="Globex")
    publish_proof(dns_server, rivals.outsider_org, VICTIM_DOMAIN)
    assert verify(outsider_client, capture).status_code == 302
    assert b"Globex" in served_brand(VICTIM_DOMAIN)
    acme = OrganizationBranding.objects.get(organization=rivals.org)
    assert acme.custom_domain is None and acme.domain_verified_at is None
    assert AuditEvent.objects.filter(
        action="branding.domain_released", organization=rivals.org
    ).exists()


def test_a_tenant_domain_never_greets_another_tenants_users_in_emails(
    rivals, owner_client, dns_server, settings, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    settings.SITE_URL = "https://app.crewbuilder.test"
    domain = "evil-attacker.example"
    save_domain(owner_client, domain, capture, brand="Evil")
    publish_proof(dns_server, rivals.org, domain)
    assert verify(owner_client, capture).status_code == 302  # the attacker owns this one
    with capture(execute=True):
        response = Client().post(
            "/accounts/password/reset/", {"email": rivals.outsider.email}, HTTP_HOST=domain
        )
    assert response.status_code == 302
    message = mail.outbox[-1]
    assert message.to == [rivals.outsider.email]
    text = message.subject + message.body + "".join(a[0] for a in message.alternatives)
    assert domain not in text and "Evil" not in text
    assert "https://app.crewbuilder.test/accounts/password/reset/key/" in message.body
    assert "CrewBuilder" in message.subject


def test_a_member_or_an_unentitled_organisation_cannot_verify(
    rivals, member_client, dns_server, django_capture_on_commit_callbacks
):
    assert verify(member_client, django_capture_on_commit_callbacks).status_code == 403
    plan_assign(rivals.org, "professional")
    owner = rivals.client_for(rivals.owner)
    assert verify(owner, django_capture_on_commit_callbacks).status_code == 403


def test_verify_without_a_claim_is_a_400(rivals, owner_client, dns_server):
    response = owner_client.post("/settings/branding/", {"verify": "1"})
    assert response.status_code == 400
    assert b"Enter a custom domain and save it first." in response.content


def test_a_resolver_failure_verifies_nothing(
    rivals, owner_client, dns_server, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    save_domain(owner_client, VICTIM_DOMAIN, capture)
    publish_proof(dns_server, rivals.org, VICTIM_DOMAIN)
    dns_server.broken.add(challenge_name(VICTIM_DOMAIN) + ".")
    response = verify(owner_client, capture)
    assert response.status_code == 400 and b"DNS lookup failed" in response.content
    assert served_brand(VICTIM_DOMAIN) is None


def test_the_daily_recheck_stops_serving_a_domain_whose_proof_is_gone(
    rivals, owner_client, dns_server, settings, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    settings.CREWBUILDER_DOMAIN_GRACE_DAYS = 3
    save_domain(owner_client, VICTIM_DOMAIN, capture, brand="Acme")
    publish_proof(dns_server, rivals.org, VICTIM_DOMAIN)
    verify(owner_client, capture)
    now = timezone.now()
    with capture(execute=True):
        assert branding_domains_recheck(now=now)["seen"] == 1
    dns_server.unpublish(challenge_name(VICTIM_DOMAIN))
    # a resolver failure decides nothing
    dns_server.broken.add(challenge_name(VICTIM_DOMAIN) + ".")
    with capture(execute=True):
        assert branding_domains_recheck(now=now + timedelta(days=10))["lookup_failed"] == 1
    assert b"Acme" in served_brand(VICTIM_DOMAIN)
    dns_server.broken.clear()
    # gone, but within the grace period: still served
    with capture(execute=True):
        assert branding_domains_recheck(now=now + timedelta(days=1))["unverified"] == 0
    assert b"Acme" in served_brand(VICTIM_DOMAIN)
    # gone for longer than the grace period: no longer served, back to a claim, audited
    with capture(execute=True):
        assert branding_domains_recheck(now=now + timedelta(days=4))["unverified"] == 1
    assert served_brand(VICTIM_DOMAIN) is None
    branding = OrganizationBranding.objects.get(organization=rivals.org)
    assert branding.domain_claim == VICTIM_DOMAIN and branding.custom_domain is None
    assert AuditEvent.objects.filter(action="branding.domain_unverified").exists()


def test_the_resolver_is_configurable_and_really_queried(
    rivals, owner_client, dns_server, django_capture_on_commit_callbacks
):
    save_domain(owner_client, VICTIM_DOMAIN, django_capture_on_commit_callbacks)
    verify(owner_client, django_capture_on_commit_callbacks)
    assert (challenge_name(VICTIM_DOMAIN) + ".", "TXT") in dns_server.queries


def test_a_domain_saved_before_proofs_existed_is_a_claim_until_verified(
    rivals, owner_client, dns_server, django_capture_on_commit_callbacks
):
    # what 0.1.0 left behind: custom_domain set, never verified (the upgrade keeps the row)
    OrganizationBranding.objects.create(
        organization=rivals.org, brand_name="Old", custom_domain=VICTIM_DOMAIN
    )
    forget_custom_domains()
    assert served_brand(VICTIM_DOMAIN) is None
    page = owner_client.get("/settings/branding/").content.decode()
    assert f"Verify {VICTIM_DOMAIN}" in page
    publish_proof(dns_server, rivals.org, VICTIM_DOMAIN)
    assert verify(owner_client, django_capture_on_commit_callbacks).status_code == 302
    assert b"Old" in served_brand(VICTIM_DOMAIN)
    assert branding_domains_recheck()["seen"] == 1
