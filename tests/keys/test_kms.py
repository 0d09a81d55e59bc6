"""CREWBUILDER_KEY_BACKEND=aws-kms: data keys wrapped by an AWS KMS key with the organisation
as encryption context, against moto's standalone server over real HTTP with boto3; and
rotation between any two backends (database, Vault, KMS) through ``keys_rotate``."""

from __future__ import annotations

import itertools
import sys
from io import StringIO

import pytest
from botocore.exceptions import ClientError
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError

from keys import backends, services
from keys.models import OrganizationDataKey
from tests.conftest import require_service
from tests.keys.fake_vault import FakeVault
from tests.keys.moto_kms import CREDENTIALS, MotoServer, _free_port

KEY = "sk-proj-kmsBACKEND0123456789abcdefKKKK"
OTHER = "sk-proj-otherORG0123456789abcdefWWWW"


@pytest.fixture(scope="session")
def moto_server():
    try:
        import boto3  # noqa: F401
        import moto.server  # noqa: F401
    except ImportError:
        require_service("moto[server] and boto3 (the dev extra)", False)
    server = MotoServer().start()
    yield server
    server.stop()


class Kms:
    def __init__(self, server: MotoServer, settings) -> None:
        self.server = server
        self.settings = settings
        self.client = server.client()
        self.arn = self.new_key()

    def new_key(self) -> str:
        return self.client.create_key(Description="crewbuilder test")["KeyMetadata"]["Arn"]

    def unreachable(self, *, back: bool = False) -> None:
        """KMS out of reach (moto does not refuse Decrypt on a disabled key, so "the key is
        gone" is played by an endpoint where nothing listens)."""
        self.settings.AWS_KMS_ENDPOINT_URL = (
            self.server.url if back else f"http://127.0.0.1:{_free_port()}"
        )

    def use(self, key_id: str | None = None) -> None:
        self.settings.CREWBUILDER_KEY_BACKEND = "aws-kms"
        self.settings.AWS_KMS_KEY_ID = key_id or self.arn

    def key_id_of(self, arn: str | None = None) -> str:
        return backends.kms_key_id_for_arn(arn or self.arn)


@pytest.fixture
def kms(moto_server, settings, master_keys, monkeypatch):
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    settings.AWS_KMS_REGION = "eu-west-1"
    settings.AWS_KMS_ENDPOINT_URL = moto_server.url
    settings.AWS_KMS_KEY_ID = ""
    helper = Kms(moto_server, settings)
    helper.use()
    yield helper
    backends._kms_backend.cache_clear()


@pytest.fixture
def vault(settings):
    with FakeVault() as fake:
        fake.create_key("crewbuilder")
        settings.VAULT_ADDR = fake.url
        settings.VAULT_TOKEN = fake.token
        settings.VAULT_MOUNT = "transit"
        settings.VAULT_TRANSIT_KEY = "crewbuilder"
        yield fake


def _store(tenant, org=None, actor=None, value=KEY):
    return services.provider_key_store(
        organization=org or tenant.org,
        actor=actor or tenant.owner,
        provider="openai",
        api_key=value,
    )


def _resolve(tenant, org=None, user=None):
    services._data_key_cache.clear()  # make the backend unwrap again
    return services.provider_key_resolve(
        organization=org or tenant.org,
        user=user or tenant.owner,
        provider="openai",
        allow_platform=False,
    )


def test_data_key_is_wrapped_by_kms_with_the_organisation_as_context(tenant, kms):
    _store(tenant)
    row = OrganizationDataKey.objects.get(organization=tenant.org)
    assert row.master_key_id == kms.key_id_of()
    assert kms.arn.startswith("arn:aws:kms:eu-west-1:")
    # KMS itself holds the binding: the right context opens it, another organisation's not.
    context = {"purpose": "crewbuilder/data-key/v1", "organization": str(tenant.org.pk)}
    plain = kms.client.decrypt(CiphertextBlob=bytes(row.wrapped_key), EncryptionContext=context)
    assert len(plain["Plaintext"]) == 32
    with pytest.raises(kms.client.exceptions.InvalidCiphertextException):
        kms.client.decrypt(
            CiphertextBlob=bytes(row.wrapped_key),
            EncryptionContext={**context, "organization": str(tenant.outsider_org.pk)},
        )
    assert _resolve(tenant).secret == KEY


def test_an_alias_is_recorded_as_the_key_arn(tenant, kms):
    kms.client.create_alias(AliasName="alias/crewbuilder-test", TargetKeyId=kms.arn)
    kms.use("alias/crewbuilder-test")
    _store(tenant)
    assert OrganizationDataKey.objects.get().master_key_id == kms.key_id_of()
    out = StringIO()
    call_command("keys_rotate", "--check", stdout=out)
    assert f"{kms.key_id_of()}: 1 (current)" in out.getvalue()


def test_kms_refuses_a_data_key_transplanted_to_another_org(tenant, kms):
    _store(tenant)
    _store(tenant, org=tenant.outsider_org, actor=tenant.outsider, value=OTHER)
    victim = OrganizationDataKey.objects.get(organization=tenant.org)
    OrganizationDataKey.objects.filter(organization=tenant.outsider_org).update(
        wrapped_key=bytes(victim.wrapped_key)
    )
    assert _resolve(tenant, org=tenant.outsider_org, user=tenant.outsider) is None
    with pytest.raises(services.DecryptionFailed):
        services._unwrap(OrganizationDataKey.objects.get(organization=tenant.outsider_org))


def test_kms_out_of_reach_is_the_generic_failure_and_keys_verify_names_the_org(tenant, kms):
    key = _store(tenant)
    kms.unreachable()
    services._data_key_cache.clear()
    with pytest.raises(services.DecryptionFailed) as excinfo:
        services._decrypt(key, OrganizationDataKey.objects.get())
    assert str(excinfo.value) == "The stored key could not be decrypted."
    out = StringIO()
    with pytest.raises(CommandError, match="1 organisation"):
        call_command("keys_verify", stdout=out)
    assert (
        f"organisation {tenant.org.pk} (Acme): its data key could not be unwrapped by "
        f"'{kms.key_id_of()}'" in out.getvalue()
    )
    kms.unreachable(back=True)
    assert _resolve(tenant).secret == KEY


def test_moving_to_another_kms_key_is_a_rotation(tenant, kms):
    _store(tenant)
    new_arn = kms.new_key()
    kms.use(new_arn)
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("keys_rotate", "--check", stdout=out)
    assert f"{kms.key_id_of()}: 1 (old)" in out.getvalue()
    call_command("keys_rotate", stdout=StringIO())
    row = OrganizationDataKey.objects.get()
    assert row.master_key_id == kms.key_id_of(new_arn)
    # KMS confirms which key wrapped it now: decrypting as the old key is refused.
    context = {"purpose": "crewbuilder/data-key/v1", "organization": str(tenant.org.pk)}
    blob = bytes(row.wrapped_key)
    kms.client.decrypt(CiphertextBlob=blob, EncryptionContext=context, KeyId=new_arn)
    with pytest.raises(ClientError) as refused:
        kms.client.decrypt(CiphertextBlob=blob, EncryptionContext=context, KeyId=kms.arn)
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert _resolve(tenant).secret == KEY


BACKENDS = ["database", "vault", "aws-kms"]


@pytest.mark.parametrize(("source", "target"), list(itertools.permutations(BACKENDS, 2)))
def test_rotation_between_any_two_backends(
    tenant, kms, vault, master_keys, settings, source, target
):
    settings.CREWBUILDER_KEY_BACKEND = source
    _store(tenant)
    _store(tenant, org=tenant.outsider_org, actor=tenant.outsider, value=OTHER)
    before = set(OrganizationDataKey.objects.values_list("master_key_id", flat=True))
    assert len(before) == 1 and before != {"k9"}

    settings.CREWBUILDER_KEY_BACKEND = target
    with pytest.raises(CommandError, match="still use an old key"):
        call_command("keys_rotate", "--check", stdout=StringIO())
    out = StringIO()
    call_command("keys_rotate", stdout=out)
    assert "Re-wrapped 2 key(s)" in out.getvalue()  # two data keys (no transport key yet)
    call_command("keys_rotate", "--check", stdout=StringIO())  # exits 0 now

    # The source backend goes away; every key still opens through the target alone.
    if source == "database":
        master_keys.use("k9")
    elif source == "vault":
        settings.VAULT_TOKEN = "s.revoked"
    else:
        kms.unreachable()
    assert _resolve(tenant).secret == KEY
    assert _resolve(tenant, org=tenant.outsider_org, user=tenant.outsider).secret == OTHER
    call_command("keys_verify", stdout=StringIO())  # exits 0: everything recoverable


def test_kms_without_boto3_says_how_to_install_it(settings, monkeypatch):
    monkeypatch.setitem(sys.modules, "boto3", None)
    backends._kms_backend.cache_clear()
    settings.CREWBUILDER_KEY_BACKEND = "aws-kms"
    settings.AWS_KMS_KEY_ID = "alias/crewbuilder"
    with pytest.raises(ImproperlyConfigured, match=r"pip install 'crewbuilder\[aws\]'"):
        backends.active_backend()
    settings.AWS_KMS_KEY_ID = ""
    with pytest.raises(ImproperlyConfigured, match="AWS_KMS_KEY_ID"):
        backends.active_backend()
