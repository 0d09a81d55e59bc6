"""The operator's view and start-up configuration checks."""

from __future__ import annotations

import os
import subprocess
import sys

from django.conf import settings
from django.test import Client

from keys import services
from keys.models import ProviderKey
from tests.factories import UserFactory

KEY = "sk-proj-adminVIEW0123456789abcdefZ9Y8"


def test_operator_sees_masked_metadata_only_and_cannot_edit(tenant, master_keys):
    key = services.provider_key_store(
        organization=tenant.org, actor=tenant.owner, provider="openai", api_key=KEY
    )
    operator = UserFactory(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(operator)
    change_url = f"/admin/keys/providerkey/{key.pk}/change/"
    html = client.get(change_url).content.decode()
    assert "sk-…Z9Y8" in html and key.fingerprint in html
    assert KEY not in html
    for hidden in ("ciphertext", "wrapped_key", 'name="masked"'):
        assert hidden not in html
    # Read-only: a forged change post does nothing.
    response = client.post(change_url, {"label": "pwned", "status": "connected"})
    assert response.status_code == 403
    assert ProviderKey.objects.get().label == ""
    assert client.get("/admin/keys/providerkey/add/").status_code == 403
    html = client.get("/admin/keys/organizationdatakey/").content.decode()
    assert "k1" in html


def test_undecryptable_key_tests_as_invalid_with_a_generic_reason(tenant, master_keys):
    key = services.provider_key_store(
        organization=tenant.org, actor=tenant.owner, provider="openai", api_key=KEY
    )
    ProviderKey.objects.filter(pk=key.pk).update(ciphertext=b"\x01garbage" * 8)
    key.refresh_from_db()
    assert services.provider_key_test(key=key, actor=tenant.owner) == "invalid"
    key.refresh_from_db()
    assert key.status_reason == "The stored key could not be decrypted."


def _manage_check(env_overrides: dict) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "crewbuilder.settings",
            "DJANGO_DEBUG": "false",
            "CREWBUILDER_TESTING": "false",
            "DJANGO_SECRET_KEY": "x" * 60,
            "DJANGO_ALLOWED_HOSTS": "example.com",
            "CREWBUILDER_SITE_URL": "https://example.com",
            "CREWBUILDER_ENV_FILE": "/nonexistent",
        }
    )
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_refuses_to_start_with_malformed_master_keys():
    material = "QUJDREVGR0hJSktMTU5PUA=="  # 16 bytes: too short for AES-256
    result = _manage_check({"CREWBUILDER_ENCRYPTION_KEYS": f"prod1:{material}"})
    assert result.returncode != 0
    assert "must be base64 of exactly 32 bytes" in result.stderr
    assert material not in result.stderr


def test_production_refuses_to_start_without_master_keys():
    result = _manage_check({"CREWBUILDER_ENCRYPTION_KEYS": ""})
    assert result.returncode != 0
    assert "CREWBUILDER_ENCRYPTION_KEYS is required" in result.stderr
