"""Hardening: CSP nonces, login throttling, operator console, deploy checks."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.contrib.auth.models import Permission
from django.test import Client
from prometheus_client import REGISTRY

from accounts.models import User
from crewbuilder.settings.celery import redis_cache
from tests.conftest import PASSWORD
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
ROOT = Path(settings.BASE_DIR)


# --- Content-Security-Policy -----------------------------------------------------------


def _policy(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return dict(part.strip().split(" ", 1) for part in header.split(";"))


def test_every_page_has_a_csp_with_a_fresh_nonce_and_no_unsafe_inline_scripts(client: Client):
    first = _policy(client.get("/"))
    second = _policy(client.get("/"))
    nonce = re.search(r"'nonce-([^']+)'", first["script-src"]).group(1)
    assert len(nonce) >= 16
    assert nonce not in second["script-src"]
    assert "unsafe-inline" not in first["script-src"]
    assert "unsafe-eval" not in first["script-src"]
    assert first["object-src"] == "'none'"
    assert first["frame-ancestors"] == "'none'"
    assert first["base-uri"] == "'self'"


def test_csp_nonce_tag_renders_the_request_nonce(rf):
    from django.template import engines

    from crewbuilder.csp import ContentSecurityPolicyMiddleware

    template = engines["django"].from_string(
        '{% load security %}<script nonce="{% csp_nonce %}">1</script>'
    )
    captured = {}

    def view(request):
        from django.http import HttpResponse

        captured["html"] = template.render({}, request)
        return HttpResponse(captured["html"])

    response = ContentSecurityPolicyMiddleware(view)(rf.get("/"))
    nonce = re.search(r'nonce="([^"]+)"', captured["html"]).group(1)
    assert f"'nonce-{nonce}'" in response["Content-Security-Policy"]


INLINE_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.I)
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*\bnonce=)[^>]*>", re.I)


def test_no_template_has_inline_event_handlers_or_unnonced_inline_scripts():
    offenders = []
    for path in (ROOT / "templates").rglob("*.html"):
        text = path.read_text()
        for pattern in (INLINE_HANDLER, INLINE_SCRIPT):
            for match in pattern.finditer(text):
                offenders.append(f"{path.relative_to(ROOT)}: {match.group(0)[:80]}")
    assert offenders == []


def test_behaviours_come_from_the_static_app_js(owner_client: Client):
    page = owner_client.get("/settings/team/").content.decode()
    assert "/static/js/app.js" in page
    assert "data-toggle-body-class" in page
    js = (ROOT / "static/js/app.js").read_text()
    for hook in ("data-toggle-body-class", "data-confirm", "data-autosubmit"):
        assert hook in js


# --- Login throttling (allauth rate limits: per IP and per email) ---------------------


def _ip() -> str:
    n = uuid.uuid4().int
    return f"10.{n % 250}.{(n >> 8) % 250}.{(n >> 16) % 250 + 1}"


def _login(email: str, password: str, ip: str):
    return Client(REMOTE_ADDR=ip).post("/accounts/login/", {"login": email, "password": password})


def _signed_in(response) -> bool:
    return response.status_code == 302 and "/accounts/login/" not in response["Location"]


def test_failed_logins_for_one_email_lock_it_even_from_many_ips():
    user = UserFactory(email=f"victim-{uuid.uuid4().hex[:8]}@acme.test")
    for _ in range(5):
        assert _login(user.email, "wrong password", _ip()).status_code == 200
    # the right password from yet another address is refused now
    blocked = _login(user.email, PASSWORD, _ip())
    assert not _signed_in(blocked)
    assert b"Too many failed login attempts" in blocked.content
    # another account is not affected
    other = UserFactory(email=f"other-{uuid.uuid4().hex[:8]}@acme.test")
    assert _signed_in(_login(other.email, PASSWORD, _ip()))


def test_failed_logins_from_one_ip_lock_that_ip_for_every_email():
    ip = _ip()
    for i in range(10):
        _login(f"nobody{i}-{uuid.uuid4().hex[:6]}@acme.test", "wrong", ip)
    user = UserFactory(email=f"fresh-{uuid.uuid4().hex[:8]}@acme.test")
    assert not _signed_in(_login(user.email, PASSWORD, ip))
    assert _signed_in(_login(user.email, PASSWORD, _ip()))


def test_successful_login_does_not_reset_the_failure_count():
    """Interleaving a correct login (attacker owning one account) must not refill the bucket."""
    user = UserFactory(email=f"mixed-{uuid.uuid4().hex[:8]}@acme.test")
    for _ in range(4):
        _login(user.email, "wrong", _ip())
    assert _signed_in(_login(user.email, PASSWORD, _ip()))
    _login(user.email, "wrong", _ip())
    assert not _signed_in(_login(user.email, PASSWORD, _ip()))


def test_login_limits_are_counted_in_redis_and_enforced_while_it_is_up(redis_url, settings):
    """With the production cache on a live Redis the fail-open backend is only RedisCache:
    the failures are counted in Redis and the limit holds (``tests/faults`` covers Redis
    down)."""
    prefix = f"cbrl{uuid.uuid4().hex[:8]}"
    settings.CACHES = {"default": {**redis_cache(redis_url), "KEY_PREFIX": prefix}}

    def degraded() -> float:
        sample = {"component": "account_rate_limiter"}
        return REGISTRY.get_sample_value("crewbuilder_degraded_operations_total", sample) or 0

    before = degraded()
    user = UserFactory(email=f"upvictim-{uuid.uuid4().hex[:8]}@acme.test")
    for _ in range(5):
        assert _login(user.email, "wrong password", _ip()).status_code == 200
    blocked = _login(user.email, PASSWORD, _ip())
    assert not _signed_in(blocked)
    assert b"Too many failed login attempts" in blocked.content
    with redis.Redis.from_url(redis_url) as client:
        stored = client.keys(f"{prefix}:*")
        assert [k for k in stored if b":allauth:rl:allauth.account:login_failed:" in k]
        client.delete(*stored)
    assert degraded() == before  # nothing went on without Redis


def test_admin_login_goes_through_the_throttled_allauth_form(client: Client):
    response = client.get("/admin/login/?next=/admin/accounts/auditevent/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert "next=/admin/accounts/auditevent/" in response["Location"]
    # the admin's own password form is gone
    assert client.post("/admin/login/", {"username": "x", "password": "y"}).status_code == 302


# --- Operator console ------------------------------------------------------------------


def test_signed_in_non_staff_is_refused_the_console(owner_client: Client):
    assert owner_client.get("/admin/login/").status_code == 403
    response = owner_client.get("/admin/accounts/organization/")
    assert response.status_code == 302  # → admin login → 403 above


@pytest.fixture
def staff_client(db) -> tuple[User, Client]:
    staff = UserFactory(email="support@crewbuilder.test")
    staff.is_staff = True
    staff.save()
    client = Client()
    client.force_login(staff)
    return staff, client


def test_staff_without_permissions_sees_no_models(tenant, staff_client):
    _staff, client = staff_client
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/accounts/organization/").status_code == 403
    assert client.get("/admin/accounts/user/").status_code == 403
    assert b"Acme" not in client.get("/admin/").content


def test_staff_with_view_permission_can_read_but_not_change(tenant, staff_client):
    staff, client = staff_client
    staff.user_permissions.add(
        Permission.objects.get(codename="view_organization", content_type__app_label="accounts")
    )
    assert client.get("/admin/accounts/organization/").status_code == 200
    assert b"Acme" in client.get("/admin/accounts/organization/").content
    url = f"/admin/accounts/organization/{tenant.org.pk}/change/"
    assert client.post(url, {"name": "Hacked"}).status_code == 403
    tenant.org.refresh_from_db()
    assert tenant.org.name == "Acme"
    # still nothing else
    assert client.get("/admin/accounts/user/").status_code == 403


# --- Deployment checks -----------------------------------------------------------------


def _production_env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "CREWBUILDER_", "STRIPE_", "SENTRY_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="crewbuilder.settings",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY="ci-dummy-secret-key-" + "x" * 50,
        DJANGO_ALLOWED_HOSTS="crewbuilder.example.com",
        CREWBUILDER_SITE_URL="https://crewbuilder.example.com",
        CREWBUILDER_ENCRYPTION_KEYS="ci:" + "A" * 43 + "=",
        STRIPE_SECRET_KEY="sk_test_dummy",
        STRIPE_WEBHOOK_SECRET="whsec_dummy",
        # Sentry on (nothing is sent at start-up): the settings must load with it enabled
        SENTRY_DSN="http://public@127.0.0.1:9/1",
    )
    return env


def test_check_deploy_is_clean_at_warning_level_with_production_settings():
    env = _production_env()
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_api_docs_page_works_under_the_csp_without_inline_script(client: Client):
    page = client.get("/api/v1/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert INLINE_SCRIPT.search(html) is None
    script_url = re.search(r'<script src="([^"]*\?script[^"]*)"', html).group(1)
    script = client.get(script_url.replace("&amp;", "&"))
    assert script.status_code == 200
    assert b"SwaggerUIBundle" in script.content


def test_operator_fixes_a_custom_domain_in_the_admin_with_validation(tenant):
    from django.utils import timezone

    from accounts.models import OrganizationBranding

    branding = OrganizationBranding.objects.create(
        organization=tenant.org,
        brand_name="Acme",
        custom_domain="old.acme.test",
        domain_verified_at=timezone.now(),
    )
    operator = User.objects.create_superuser("root@crewbuilder.test", "pw-root-123456")
    client = Client()
    client.force_login(operator)
    url = f"/admin/accounts/organizationbranding/{branding.pk}/change/"
    fields = {"brand_name": "Acme", "primary_color": "", "accent_color": ""}
    bad = client.post(url, {**fields, "domain_claim": "not a host"})
    assert bad.status_code == 200 and b"Enter a host name like" in bad.content
    # an operator may record a claim (still to be proved) but cannot mark it verified
    assert client.post(url, {**fields, "domain_claim": "new.acme.test"}).status_code == 302
    branding.refresh_from_db()
    assert branding.domain_claim == "new.acme.test"
    assert branding.custom_domain == "old.acme.test"
    # and may stop serving the verified domain
    assert client.post(url, {**fields, "domain_claim": "", "stop_serving": "on"}).status_code == 302
    branding.refresh_from_db()
    assert branding.custom_domain is None and branding.domain_verified_at is None


def test_production_settings_use_secure_cookies_hsts_and_the_csp_middleware():
    code = (
        "import json; from django.conf import settings as s; print(json.dumps({"
        "'session_secure': s.SESSION_COOKIE_SECURE, 'csrf_secure': s.CSRF_COOKIE_SECURE,"
        "'session_httponly': s.SESSION_COOKIE_HTTPONLY, 'hsts': s.SECURE_HSTS_SECONDS,"
        "'hsts_sub': s.SECURE_HSTS_INCLUDE_SUBDOMAINS, 'ssl_redirect': s.SECURE_SSL_REDIRECT,"
        "'frame': s.X_FRAME_OPTIONS, 'middleware': s.MIDDLEWARE, 'debug': s.DEBUG}))"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=_production_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    import json

    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values["debug"] is False
    assert values["session_secure"] is True and values["csrf_secure"] is True
    assert values["session_httponly"] is True
    assert values["hsts"] >= 31536000 and values["hsts_sub"] is True
    assert values["ssl_redirect"] is True
    assert values["frame"] == "DENY"
    assert "crewbuilder.csp.ContentSecurityPolicyMiddleware" in values["middleware"]


def test_behind_a_proxy_the_client_ip_comes_from_x_forwarded_for(settings):
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    proxy = _ip()
    attacker, bystander = _ip(), _ip()

    def login(email, password, client_ip):
        return Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=client_ip).post(
            "/accounts/login/", {"login": email, "password": password}
        )

    for i in range(10):
        login(f"spray{i}-{uuid.uuid4().hex[:6]}@acme.test", "wrong", attacker)
    user = UserFactory(email=f"proxied-{uuid.uuid4().hex[:8]}@acme.test")
    # the attacker's address is locked, the other client behind the same proxy is not
    assert not _signed_in(login(user.email, PASSWORD, attacker))
    assert _signed_in(login(user.email, PASSWORD, bystander))
