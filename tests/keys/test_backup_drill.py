"""Backup and recovery drill (README "Backup and recovery"), run the way an operator runs it:
``pg_dump`` a database holding stored keys, restore it into a fresh database, and prove with
``manage.py keys_verify`` (production settings, a separate process) that every key
decrypts with the configured master keys. With a master key missing, the command names
exactly the organisations that cannot be recovered and changes nothing; ``keys_rotate
--check`` fails while anything is not on the newest key."""

from __future__ import annotations

import difflib
import hashlib
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from keys import services
from keys.models import OrganizationDataKey, ProviderKey
from keys.transport import transport_public_jwk
from tests.conftest import require_service
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

ROOT = Path(__file__).resolve().parents[2]


def _secret(i: int, provider: str = "openai") -> str:
    prefix = "sk-ant-" if provider == "anthropic" else "sk-proj-"
    return f"{prefix}drill{i:03d}KEY0123456789abcdefXYZ"


def _pg_args() -> tuple[list[str], dict[str, str]]:
    db = settings.DATABASES["default"]
    args = ["-h", db.get("HOST") or "127.0.0.1", "-p", str(db.get("PORT") or 5432)]
    args += ["-U", db.get("USER") or "postgres"]
    env = dict(os.environ)
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = db["PASSWORD"]
    return args, env


def _run(cmd: list[str], env: dict[str, str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, **kw)


class Drill:
    """A restored copy of the test database, and ``manage.py`` against it with production
    settings and a chosen set of master keys."""

    def __init__(self, tmp_path: Path) -> None:
        self.pg, self.pg_env = _pg_args()
        base = connection.settings_dict["NAME"].removeprefix("test_")
        self.name = f"{base}_drill_{uuid.uuid4().hex[:8]}"
        self.dump = tmp_path / "backup.dump"

    def backup_and_restore(self) -> None:
        source = connection.settings_dict["NAME"]
        result = _run(
            ["pg_dump", *self.pg, "--format=custom", "--file", str(self.dump), source],
            self.pg_env,
        )
        assert result.returncode == 0, result.stderr
        result = _run(["createdb", *self.pg, self.name], self.pg_env)
        assert result.returncode == 0, result.stderr
        result = _run(
            [
                "pg_restore",
                *self.pg,
                "--no-owner",
                "--exit-on-error",
                "-d",
                self.name,
                str(self.dump),
            ],
            self.pg_env,
        )
        assert result.returncode == 0, result.stderr

    def drop(self) -> None:
        _run(["dropdb", *self.pg, "--if-exists", self.name], self.pg_env)

    def snapshot(self) -> str:
        """Every row of the restored database (data-only dump), hashed."""
        result = _run(
            ["pg_dump", *self.pg, "--data-only", "--format=plain", self.name], self.pg_env
        )
        assert result.returncode == 0, result.stderr
        # pg_dump's \restrict / \unrestrict lines carry a fresh random key on every run.
        return "".join(
            line
            for line in result.stdout.splitlines(True)
            if not line.startswith(("\\restrict ", "\\unrestrict "))
        )

    def env(self, master_keys: str) -> dict[str, str]:
        db = settings.DATABASES["default"]
        user = db.get("USER") or "postgres"
        password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
        host, port = db.get("HOST") or "127.0.0.1", db.get("PORT") or 5432
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("CREWBUILDER_", "DJANGO_", "DATABASE_", "REDIS_", "VAULT_"))
        }
        env.update(
            DJANGO_SETTINGS_MODULE="crewbuilder.settings",
            DJANGO_DEBUG="false",
            DJANGO_SECRET_KEY="drill-secret-key-drill-secret-key-drill-secret-key-0123456789",
            DJANGO_ALLOWED_HOSTS="drill.example.com",
            CREWBUILDER_SITE_URL="https://drill.example.com",
            CREWBUILDER_ENV_FILE=os.devnull,
            CREWBUILDER_ENCRYPTION_KEYS=master_keys,
            DATABASE_URL=f"postgres://{user}{password}@{host}:{port}/{self.name}",
        )
        return env

    def manage(self, master_keys: str, *args: str) -> subprocess.CompletedProcess:
        return _run([sys.executable, "manage.py", *args], self.env(master_keys), cwd=ROOT)

    def verify_and_decrypt(self, master_keys: str) -> tuple[str, dict[int, str]]:
        """``keys_verify``, then decrypt every stored key of the restored database, in one
        separate process with production settings (a Django start-up costs seconds on a
        loaded machine). Returns the command's output and sha256 of each plaintext by id."""
        script = (
            "import django, hashlib, io; django.setup()\n"
            "from django.core.management import call_command\n"
            "from keys import services\n"
            "from keys.models import ProviderKey\n"
            "out = io.StringIO()\n"
            "call_command('keys_verify', stdout=out)\n"
            "print(out.getvalue(), end='')\n"
            "for key in ProviderKey.objects.order_by('pk'):\n"
            "    value = services._decrypt(key, services._data_key_row(key.organization_id))\n"
            "    print('DIGEST', key.pk, hashlib.sha256(value.encode()).hexdigest())\n"
        )
        result = _run([sys.executable, "-c", script], self.env(master_keys), cwd=ROOT)
        assert result.returncode == 0, result.stdout + result.stderr
        digests = {}
        for line in result.stdout.splitlines():
            if line.startswith("DIGEST "):
                _, pk, digest = line.split()
                digests[int(pk)] = digest
        return result.stdout, digests


@pytest.fixture
def drill(tmp_path):
    require_service("PostgreSQL (DATABASE_URL)", connection.vendor == "postgresql")
    missing = [tool for tool in ("pg_dump", "pg_restore", "createdb") if not shutil.which(tool)]
    require_service(f"PostgreSQL client tools ({', '.join(missing)})", not missing)
    d = Drill(tmp_path)
    yield d
    d.drop()


def _org_with_keys(i: int):
    org = OrganizationFactory(name=f"Drill org {i}")
    owner = UserFactory()
    MembershipFactory(organization=org, user=owner, role="owner")
    expected = {}
    key = services.provider_key_store(
        organization=org, actor=owner, provider="openai", api_key=_secret(i)
    )
    expected[key.pk] = _secret(i)
    personal = services.provider_key_store(
        organization=org,
        actor=owner,
        provider="anthropic",
        api_key=_secret(i, "anthropic"),
        scope="user",
    )
    expected[personal.pk] = _secret(i, "anthropic")
    return org, expected


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_backup_restore_drill_every_key_decrypts_and_a_missing_master_key_is_named(
    drill, master_keys
):
    # Two organisations from before the last master-key change (data keys under k0) and
    # three after it (under k1); the transport key pair is under k0 as well.
    master_keys.use("k0")
    old = [_org_with_keys(i) for i in range(2)]
    transport_public_jwk()
    master_keys.use("k1", "k0")
    new = [_org_with_keys(i) for i in range(2, 5)]
    expected = {pk: value for _, keys in old + new for pk, value in keys.items()}
    assert OrganizationDataKey.objects.filter(master_key_id="k0").count() == 2
    both = master_keys.entries["k1"] + "," + master_keys.entries["k0"]
    only_new = master_keys.entries["k1"]

    drill.backup_and_restore()

    # 1. With the configured master keys, every key of every organisation decrypts.
    output, digests = drill.verify_and_decrypt(both)
    assert "Checked 5 organisation(s) with 10 stored key(s) and 1 transport key(s)." in output
    assert "Every stored key decrypts with the configured keys." in output
    assert digests == {pk: hashlib.sha256(v.encode()).hexdigest() for pk, v in expected.items()}
    assert set(digests) == set(ProviderKey.objects.values_list("pk", flat=True))

    # 2. A deploy gate: not everything is on the newest key yet.
    gate = drill.manage(both, "keys_rotate", "--check")
    assert gate.returncode != 0
    assert "k0: 3 (old)" in gate.stdout

    # 3. Without k0: exactly the two old organisations are named, and nothing changes.
    before = drill.snapshot()
    result = drill.manage(only_new, "keys_verify")
    assert result.returncode != 0
    assert "CANNOT BE RECOVERED: 2 organisation(s):" in result.stdout
    named = [line for line in result.stdout.splitlines() if line.startswith("  organisation ")]
    assert named == [
        f"  organisation {org.pk} ({org.name}): its data key is wrapped by master key 'k0', "
        "which is not configured; 2 stored key(s)"
        for org, _ in old
    ]
    for org, _ in new:
        assert f"organisation {org.pk} " not in result.stdout
    assert "transport key" in result.stdout
    assert "Missing master key(s): k0. Nothing was changed." in result.stderr
    after = drill.snapshot()
    assert after == before, "".join(
        list(difflib.unified_diff(before.splitlines(True), after.splitlines(True)))[:40]
    )

    # 4. Put k0 back and rotate: everything is on k1, so k0 can go.
    result = drill.manage(both, "keys_rotate")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Re-wrapped 3 key(s) under k1." in result.stdout
    assert "Everything uses the newest key" in result.stdout
    output, after_rotation = drill.verify_and_decrypt(only_new)
    assert "Every stored key decrypts with the configured keys." in output
    assert after_rotation == digests


@pytest.mark.django_db
def test_keys_verify_names_a_tampered_key_and_reads_only(tenant, master_keys):
    """In-process: a corrupted ciphertext is reported with its key id; no audit row."""
    from io import StringIO

    from django.core.management import call_command
    from django.core.management.base import CommandError

    from accounts.models import AuditEvent

    key = services.provider_key_store(
        organization=tenant.org, actor=tenant.owner, provider="openai", api_key=_secret(1)
    )
    services.provider_key_store(
        organization=tenant.outsider_org,
        actor=tenant.outsider,
        provider="openai",
        api_key=_secret(2),
    )
    blob = bytearray(bytes(key.ciphertext))
    blob[-1] ^= 1
    ProviderKey.objects.filter(pk=key.pk).update(ciphertext=bytes(blob))
    audits = AuditEvent.objects.count()
    out = StringIO()
    with pytest.raises(CommandError, match="1 organisation"):
        call_command("keys_verify", stdout=out)
    assert (
        f"organisation {tenant.org.pk} (Acme): 1 of 1 stored key(s) do not decrypt "
        f"(key ids {key.pk})" in out.getvalue()
    )
    assert f"organisation {tenant.outsider_org.pk} " not in out.getvalue()
    assert AuditEvent.objects.count() == audits
