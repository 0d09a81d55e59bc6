from __future__ import annotations

import hashlib
import io
import uuid

import pytest
from django.core import mail
from django.test import Client
from PIL import Image

from accounts import services
from accounts.branding import forget_custom_domains
from accounts.models import AuditEvent, OrganizationBranding
from tests.factories import plan_assign

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media_and_hosts(settings, tmp_path):
    from crewbuilder.hosts import AllowedHosts

    settings.MEDIA_ROOT = tmp_path
    # Django's test set-up copies ALLOWED_HOSTS into a plain list; put the production
    # class back so custom domains are exercised exactly as deployed.
    settings.ALLOWED_HOSTS = AllowedHosts(["testserver", "localhost", "127.0.0.1"])
    forget_custom_domains()
    yield
    forget_custom_domains()


def test_production_settings_use_the_custom_domain_aware_host_list():
    from crewbuilder import settings as production
    from crewbuilder.hosts import AllowedHosts

    assert isinstance(production.ALLOWED_HOSTS, AllowedHosts)


@pytest.fixture
def enterprise(tenant):
    plan_assign(tenant.org, "enterprise")
    return tenant


def _image(fmt: str = "PNG", size=(64, 32), color=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format=fmt)
    return out.getvalue()


def _upload(data: bytes, name: str = "logo.png"):
    f = io.BytesIO(data)
    f.name = name
    return f


def _save(client: Client, **fields):
    data = {
        "brand_name": "Acme Crews",
        "primary_color": "#112233",
        "accent_color": "#445566",
        "custom_domain": "",
    }
    data.update(fields)
    return client.post("/settings/branding/", data)


def _save_and_prove(client: Client, dns_server, org, capture, domain: str, **fields):
    """Save a custom domain, publish its TXT proof on the local DNS server, verify it."""
    from tests.accounts.test_custom_domain_proof import publish_proof

    with capture(execute=True):
        assert _save(client, custom_domain=domain, **fields).status_code == 302
    publish_proof(dns_server, org, domain.lower())
    with capture(execute=True):
        assert client.post("/settings/branding/", {"verify": "1"}).status_code == 302


def test_without_enterprise_the_page_explains_and_saving_is_forbidden(tenant, owner_client):
    page = owner_client.get("/settings/branding/")
    assert page.status_code == 200
    assert b"part of the Enterprise plan" in page.content
    assert _save(owner_client).status_code == 403
    assert not OrganizationBranding.objects.exists()


@pytest.mark.parametrize("who", ["member", "outsider"])
def test_members_cannot_manage_branding(enterprise, who, member_client, outsider_client):
    client = member_client if who == "member" else outsider_client
    if who == "member":
        assert client.get("/settings/branding/").status_code == 403
        assert _save(client).status_code == 403
    assert not OrganizationBranding.objects.filter(organization=enterprise.org).exists()


def test_owner_brands_the_org_and_members_see_it_everywhere(
    enterprise, owner_client, member_client, outsider_client
):
    response = _save(owner_client, logo=_upload(_image()))
    assert response.status_code == 302
    branding = OrganizationBranding.objects.get(organization=enterprise.org)
    assert branding.brand_name == "Acme Crews"
    assert bytes(branding.logo_png).startswith(b"\x89PNG")
    assert branding.logo_sha256 == hashlib.sha256(bytes(branding.logo_png)).hexdigest()
    assert not branding.logo  # nothing written to a disk
    page = member_client.get("/settings/team/").content.decode()
    assert "Acme Crews" in page
    assert "--primary: #112233" in page
    assert f"/branding/{enterprise.org.uuid}/logo.png?v={branding.logo_sha256[:16]}" in page
    assert "<title>Team · Acme Crews</title>" in page
    # another organisation's members keep the default brand
    other = outsider_client.get("/settings/team/").content.decode()
    assert "Acme Crews" not in other and "#112233" not in other
    logo = Client().get(f"/branding/{enterprise.org.uuid}/logo.png")
    assert logo.status_code == 200
    assert logo["Content-Type"] == "image/png"
    assert logo.content == bytes(branding.logo_png)
    event = AuditEvent.objects.get(action="branding.updated")
    assert event.metadata["logo"] == "replaced"


def test_branding_switches_off_when_the_plan_no_longer_includes_it(
    enterprise, owner_client, member_client
):
    _save(owner_client)
    assert b"Acme Crews" in member_client.get("/settings/team/").content
    plan_assign(enterprise.org, "professional")
    assert b"Acme Crews" not in member_client.get("/settings/team/").content
    assert OrganizationBranding.objects.filter(organization=enterprise.org).exists()  # kept


@pytest.mark.parametrize(
    ("fields", "field_message"),
    [
        ({"primary_color": "red"}, b"Use a colour like #4f46e5."),
        ({"accent_color": "#12345g"}, b"Use a colour like #4f46e5."),
        ({"primary_color": "#fff;}"}, b"Use a colour like #4f46e5."),
        ({"custom_domain": "http://crews.acme.test/x"}, b"Enter a host name like"),
        ({"custom_domain": "localhost"}, b"Enter a host name like"),
        ({"custom_domain": "testserver.example"}, None),
        ({"brand_name": "x" * 81}, b"at most 80 characters"),
    ],
)
def test_bad_branding_input_is_400_with_a_field_message(
    enterprise, owner_client, fields, field_message
):
    response = _save(owner_client, **fields)
    if field_message is None:
        assert response.status_code == 302
        return
    assert response.status_code == 400
    assert field_message in response.content
    assert not OrganizationBranding.objects.exists()


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "logo.svg",
            b"SVG is not accepted",
        ),
        (b"\x89PNG\r\n\x1a\n" + b"not really a png" * 10, "logo.png", b"could not be read"),
        (b"GIF89a" + b"\x00" * 50, "logo.gif", b"Upload a PNG or JPEG"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * (512 * 1024), "big.png", b"at most 512 KB"),
    ],
)
def test_logo_must_be_a_real_small_png_or_jpeg(enterprise, owner_client, data, name, message):
    response = _save(owner_client, logo=_upload(data, name))
    assert response.status_code == 400
    assert message in response.content
    assert not OrganizationBranding.objects.exists()


def test_oversized_dimensions_are_refused(enterprise, owner_client):
    response = _save(owner_client, logo=_upload(_image(size=(3000, 10))))
    assert response.status_code == 400
    assert b"2048" in response.content


def test_jpeg_is_accepted_and_stored_reencoded_as_png_without_trailing_payload(
    enterprise, owner_client
):
    payload = b"<script>alert('polyglot')</script>"
    response = _save(owner_client, logo=_upload(_image("JPEG") + payload, "logo.jpg"))
    assert response.status_code == 302
    branding = OrganizationBranding.objects.get()
    stored = bytes(branding.logo_png)
    assert stored.startswith(b"\x89PNG")
    assert payload not in stored


def test_replacing_and_removing_the_logo(enterprise, owner_client, settings):
    _save(owner_client, logo=_upload(_image(color=(1, 2, 3))))
    first = OrganizationBranding.objects.get().logo_sha256
    _save(owner_client, logo=_upload(_image(color=(9, 9, 9))))
    second = OrganizationBranding.objects.get()
    assert second.logo_sha256 and second.logo_sha256 != first
    assert Client().get(f"/branding/{enterprise.org.uuid}/logo.png").content == bytes(
        second.logo_png
    )
    _save(owner_client, remove_logo="on")
    branding = OrganizationBranding.objects.get()
    assert branding.logo_png is None and branding.logo_sha256 == "" and not branding.has_logo
    assert Client().get(f"/branding/{enterprise.org.uuid}/logo.png").status_code == 404
    assert list(settings.MEDIA_ROOT.iterdir()) == []  # never on the web process's disk


def test_logo_is_served_from_the_database_with_caching_headers(enterprise, owner_client):
    _save(owner_client, logo=_upload(_image()))
    digest = OrganizationBranding.objects.get().logo_sha256
    url = f"/branding/{enterprise.org.uuid}/logo.png"
    plain = Client().get(url)
    assert plain["ETag"] == f'"{digest}"'
    assert plain["Cache-Control"] == "public, max-age=300"
    assert plain["X-Content-Type-Options"] == "nosniff"
    versioned = Client().get(url, {"v": digest[:16]})
    assert versioned["Cache-Control"] == "public, max-age=31536000, immutable"
    assert versioned.content == plain.content
    stale = Client().get(url, {"v": "0123456789abcdef"})
    assert stale["Cache-Control"] == "public, max-age=300"  # an old link is not pinned
    revalidated = Client().get(url, headers={"If-None-Match": f'"{digest}"'})
    assert revalidated.status_code == 304 and revalidated.content == b""


def test_logo_survives_a_web_process_without_the_old_disk(
    enterprise, owner_client, settings, tmp_path_factory
):
    _save(owner_client, logo=_upload(_image(color=(5, 80, 200))))
    served = Client().get(f"/branding/{enterprise.org.uuid}/logo.png").content
    settings.MEDIA_ROOT = tmp_path_factory.mktemp("fresh-container")  # a new replica
    again = Client().get(f"/branding/{enterprise.org.uuid}/logo.png")
    assert again.status_code == 200 and again.content == served


def test_logo_url_is_404_for_unknown_or_unentitled_organisations(enterprise, owner_client):
    _save(owner_client, logo=_upload(_image()))
    assert Client().get(f"/branding/{uuid.uuid4()}/logo.png").status_code == 404
    assert Client().get("/branding/not-a-uuid/logo.png").status_code == 404
    digest = OrganizationBranding.objects.get().logo_sha256
    plan_assign(enterprise.org, "professional")  # downgraded: branding switched off
    url = f"/branding/{enterprise.org.uuid}/logo.png"
    assert Client().get(url).status_code == 404
    assert Client().get(url, headers={"If-None-Match": f'"{digest}"'}).status_code == 404


def test_a_0_1_0_logo_file_is_served_then_imported_byte_for_byte(enterprise, settings):
    """A logo a 0.1.0 web process saved as a file (before the upgrade, or during the
    rolling deploy) keeps working and is copied into the row by branding_logos_import."""
    from django.core.files.storage import default_storage
    from django.core.management import call_command

    png = _image(color=(10, 20, 30))
    name = default_storage.save(f"branding/{enterprise.org.uuid}-legacy.png", io.BytesIO(png))
    OrganizationBranding.objects.create(organization=enterprise.org, brand_name="Old", logo=name)
    url = f"/branding/{enterprise.org.uuid}/logo.png"
    assert Client().get(url).content == png
    out = io.StringIO()
    call_command("branding_logos_import", stdout=out)
    assert "Copied 1 logo(s)" in out.getvalue()
    branding = OrganizationBranding.objects.get()
    assert bytes(branding.logo_png) == png
    assert branding.logo_sha256 == hashlib.sha256(png).hexdigest()
    (settings.MEDIA_ROOT / name).unlink()  # the old container is gone
    assert Client().get(url).content == png
    call_command("branding_logos_import", stdout=io.StringIO())  # idempotent
    assert bytes(OrganizationBranding.objects.get().logo_png) == png


def test_logo_import_reports_files_it_cannot_find(enterprise):
    from django.core.management import call_command

    OrganizationBranding.objects.create(
        organization=enterprise.org, logo="branding/lost-with-the-container.png"
    )
    out = io.StringIO()
    call_command("branding_logos_import", stdout=out)
    assert "Copied 0 logo(s)" in out.getvalue() and "1 logo file(s) are missing" in out.getvalue()
    assert OrganizationBranding.objects.get().logo_png is None


def test_uploading_replaces_a_0_1_0_file(
    enterprise, owner_client, settings, django_capture_on_commit_callbacks
):
    from django.core.files.storage import default_storage

    name = default_storage.save("branding/old.png", io.BytesIO(_image(color=(1, 1, 1))))
    OrganizationBranding.objects.create(organization=enterprise.org, logo=name)
    with django_capture_on_commit_callbacks(execute=True):
        _save(owner_client, logo=_upload(_image(color=(2, 2, 2))))
    branding = OrganizationBranding.objects.get()
    assert not branding.logo and branding.logo_png is not None
    assert not (settings.MEDIA_ROOT / name).exists()


def test_preview_renders_the_proposed_brand_without_saving(enterprise, owner_client):
    response = _save(owner_client, brand_name="Draft Name", primary_color="#abcdef", preview="1")
    assert response.status_code == 200
    assert b"Draft Name" in response.content
    assert b"background: #abcdef" in response.content
    assert not OrganizationBranding.objects.exists()


def test_custom_domain_shows_the_brand_to_anonymous_visitors(
    enterprise, owner_client, dns_server, django_capture_on_commit_callbacks
):
    _save_and_prove(
        owner_client,
        dns_server,
        enterprise.org,
        django_capture_on_commit_callbacks,
        "Crews.Acme.test",
    )
    assert OrganizationBranding.objects.get().custom_domain == "crews.acme.test"
    page = Client().get("/accounts/login/", HTTP_HOST="crews.acme.test")
    assert page.status_code == 200
    assert b"Acme Crews" in page.content
    # the normal host keeps the default brand
    assert b"Acme Crews" not in Client().get("/accounts/login/").content


def test_unknown_hosts_are_still_refused(
    enterprise, owner_client, dns_server, django_capture_on_commit_callbacks
):
    _save_and_prove(
        owner_client,
        dns_server,
        enterprise.org,
        django_capture_on_commit_callbacks,
        "crews.acme.test",
    )
    assert Client().get("/", HTTP_HOST="evil.example").status_code == 400
    assert Client().get("/", HTTP_HOST="sub.crews.acme.test").status_code == 400


def test_a_verified_domain_cannot_be_taken_without_proof(
    enterprise, owner_client, outsider_client, dns_server, django_capture_on_commit_callbacks
):
    _save_and_prove(
        owner_client,
        dns_server,
        enterprise.org,
        django_capture_on_commit_callbacks,
        "crews.acme.test",
    )
    plan_assign(enterprise.outsider_org, "enterprise")
    # claiming is allowed (a claim reserves nothing) but changes nothing without proof
    assert _save(outsider_client, custom_domain="crews.acme.test").status_code == 302
    assert outsider_client.post("/settings/branding/", {"verify": "1"}).status_code == 400
    page = Client().get("/accounts/login/", HTTP_HOST="crews.acme.test")
    assert b"Acme Crews" in page.content


def test_custom_domain_stops_mapping_after_it_is_removed(
    enterprise, owner_client, dns_server, django_capture_on_commit_callbacks
):
    _save_and_prove(
        owner_client,
        dns_server,
        enterprise.org,
        django_capture_on_commit_callbacks,
        "crews.acme.test",
    )
    assert Client().get("/accounts/login/", HTTP_HOST="crews.acme.test").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        _save(owner_client, custom_domain="")
    assert Client().get("/accounts/login/", HTTP_HOST="crews.acme.test").status_code == 400


def test_invitation_email_carries_the_brand(
    enterprise, owner_client, django_capture_on_commit_callbacks
):
    _save(owner_client)
    with django_capture_on_commit_callbacks(execute=True):
        services.invitation_create(
            organization=enterprise.org, actor=enterprise.owner, email="zoe@acme.test"
        )
    message = mail.outbox[-1]
    assert "on Acme Crews" in message.subject
    assert "Acme Crews" in message.body and "CrewBuilder" not in message.body
    html = message.alternatives[0][0]
    assert "background:#112233" in html


def test_invitation_email_is_plain_crewbuilder_without_branding(
    tenant, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.invitation_create(
            organization=tenant.org, actor=tenant.owner, email="zoe@acme.test"
        )
    assert "on CrewBuilder" in mail.outbox[-1].subject


def test_invitation_link_uses_the_custom_domain(
    enterprise, owner_client, dns_server, django_capture_on_commit_callbacks, settings
):
    settings.SITE_URL = "https://app.crewbuilder.example"
    _save_and_prove(
        owner_client,
        dns_server,
        enterprise.org,
        django_capture_on_commit_callbacks,
        "crews.acme.test",
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.invitation_create(
            organization=enterprise.org, actor=enterprise.owner, email="yan@acme.test"
        )
    assert "https://crews.acme.test/invitations/" in mail.outbox[-1].body
    # the link works on that host
    path = mail.outbox[-1].body.split("https://crews.acme.test", 1)[1].split()[0]
    assert Client().get(path, HTTP_HOST="crews.acme.test").status_code == 200


def test_landing_on_a_custom_domain_speaks_with_the_brand(
    enterprise, owner_client, dns_server, django_capture_on_commit_callbacks
):
    _save_and_prove(
        owner_client,
        dns_server,
        enterprise.org,
        django_capture_on_commit_callbacks,
        "crews.acme.test",
    )
    page = Client().get("/", HTTP_HOST="crews.acme.test").content.decode()
    assert "Acme Crews designs the agents" in page
    assert "<title>" in page and "· Acme Crews</title>" in page
