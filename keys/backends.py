"""Where data keys are wrapped: locally under ``CREWBUILDER_ENCRYPTION_KEYS`` (default),
by HashiCorp Vault's transit engine (``CREWBUILDER_KEY_BACKEND=vault``) or by an AWS KMS
key (``CREWBUILDER_KEY_BACKEND=aws-kms``).

The wrapping key id recorded with every wrapped data key says who can open it:
``<ID>`` is a local master key, ``vault:<transit key>:v<N>`` a Vault transit key version,
``kms:<partition>:<region>:<account>:<key id>`` an AWS KMS key (its ARN, compacted to fit
the 80-character column).
Unwrapping dispatches on that id, not on the current setting, so switching backends is
just a rotation (``manage.py keys_rotate``) and nothing has to be re-entered.
"""

from __future__ import annotations

import base64
import logging
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from keys.crypto import DecryptionFailed, master_key_ring, open_sealed, seal

logger = logging.getLogger("crewbuilder.keys")

VAULT_PREFIX = "vault:"
KMS_PREFIX = "kms:"


class LocalBackend:
    name = "database"

    def current_key_id(self) -> str:
        return master_key_ring().current.id

    def wrap(self, *, data_key: bytes, context: bytes) -> tuple[bytes, str]:
        master = master_key_ring().current
        return seal(master.aead, data_key, context + f"|master={master.id}".encode()), master.id

    def unwrap(self, *, wrapped: bytes, key_id: str, context: bytes) -> bytes:
        master = master_key_ring().get(key_id)
        if master is None:
            raise DecryptionFailed()
        return open_sealed(master.aead, wrapped, context + f"|master={key_id}".encode())


class VaultBackend:
    """Vault transit: ``encrypt``/``decrypt`` of the data key with the row binding as
    associated data (aes256-gcm96 transit keys), ``keys/<name>`` for the latest version."""

    name = "vault"

    def __init__(self, *, url: str, token: str, mount: str, key_name: str) -> None:
        if not url or not token:
            raise ImproperlyConfigured(
                "CREWBUILDER_KEY_BACKEND=vault needs VAULT_ADDR and VAULT_TOKEN."
            )
        import hvac

        self.mount = mount
        self.key_name = key_name
        self.client = hvac.Client(url=url, token=token, timeout=10)

    def _key_id(self, version: int) -> str:
        return f"{VAULT_PREFIX}{self.key_name}:v{version}"

    def current_key_id(self) -> str:
        response = self.client.secrets.transit.read_key(name=self.key_name, mount_point=self.mount)
        return self._key_id(int(response["data"]["latest_version"]))

    def wrap(self, *, data_key: bytes, context: bytes) -> tuple[bytes, str]:
        response = self.client.secrets.transit.encrypt_data(
            name=self.key_name,
            plaintext=base64.b64encode(data_key).decode(),
            associated_data=base64.b64encode(context).decode(),
            mount_point=self.mount,
        )
        ciphertext = response["data"]["ciphertext"]
        version = int(ciphertext.split(":")[1].lstrip("v"))
        return ciphertext.encode(), self._key_id(version)

    def unwrap(self, *, wrapped: bytes, key_id: str, context: bytes) -> bytes:
        import hvac.exceptions
        import requests

        # The transit key that wrapped this data key is named in its id ("vault:<name>:vN").
        name = key_id[len(VAULT_PREFIX) :].rsplit(":", 1)[0] or self.key_name
        try:
            response = self.client.secrets.transit.decrypt_data(
                name=name,
                ciphertext=bytes(wrapped).decode(),
                associated_data=base64.b64encode(context).decode(),
                mount_point=self.mount,
            )
            return base64.b64decode(response["data"]["plaintext"])
        except (hvac.exceptions.VaultError, requests.RequestException, KeyError, ValueError):
            # Vault said no (tampered, wrong binding, key deleted) or could not be reached.
            logger.warning("vault transit could not unwrap a data key (%s)", key_id)
            raise DecryptionFailed() from None


@lru_cache(maxsize=4)
def _vault_backend(url: str, token: str, mount: str, key_name: str) -> VaultBackend:
    return VaultBackend(url=url, token=token, mount=mount, key_name=key_name)


def vault_backend() -> VaultBackend:
    return _vault_backend(
        settings.VAULT_ADDR,
        settings.VAULT_TOKEN,
        settings.VAULT_MOUNT,
        getattr(settings, "VAULT_TRANSIT_KEY", "crewbuilder"),
    )


def kms_key_id_for_arn(arn: str) -> str:
    """``arn:aws:kms:eu-west-1:111122223333:key/<id>`` → ``kms:aws:eu-west-1:111122223333:<id>``
    (at most 78 characters even for aws-us-gov; a full ARN with a prefix would not fit)."""
    _, partition, _service, region, account, resource = arn.split(":", 5)
    return f"{KMS_PREFIX}{partition}:{region}:{account}:{resource.removeprefix('key/')}"


def kms_arn_of(key_id: str) -> str:
    partition, region, account, resource = key_id[len(KMS_PREFIX) :].split(":", 3)
    return f"arn:{partition}:kms:{region}:{account}:key/{resource}"


def kms_encryption_context(context: bytes) -> dict[str, str]:
    """The row binding as a KMS encryption context: ``crewbuilder/data-key/v1|org=7`` →
    ``{"purpose": "crewbuilder/data-key/v1", "organization": "7"}``. KMS refuses to decrypt
    under any other context, so a data key copied to another organisation stays shut, and
    the context shows up in CloudTrail for every decrypt."""
    label, *parts = context.decode().split("|")
    result = {"purpose": label}
    for part in parts:
        name, _, value = part.partition("=")
        result[{"org": "organization"}.get(name, name)] = value
    return result


class AwsKmsBackend:
    """AWS KMS: ``Encrypt``/``Decrypt`` of the data key (at most 4 KiB, so no envelope of
    our own) under a symmetric KMS key, the organisation as encryption context. The
    recorded id is the key's ARN (compacted): KMS's automatic rotation keeps the ARN (old ciphertexts
    still decrypt), moving to another key is a ``keys_rotate``."""

    name = "aws-kms"

    def __init__(self, *, key_id: str, region: str, endpoint_url: str) -> None:
        if not key_id:
            raise ImproperlyConfigured(
                "CREWBUILDER_KEY_BACKEND=aws-kms needs AWS_KMS_KEY_ID (a key id, ARN or alias)."
            )
        try:
            import boto3
            from botocore.config import Config
        except ImportError:  # boto3 is the optional "aws" extra
            raise ImproperlyConfigured(
                "CREWBUILDER_KEY_BACKEND=aws-kms needs boto3: pip install 'crewbuilder[aws]'."
            ) from None
        self.key_id = key_id
        self._arn = ""
        self.client = boto3.client(
            "kms",
            region_name=region or None,
            endpoint_url=endpoint_url or None,
            config=Config(
                connect_timeout=5, read_timeout=10, retries={"max_attempts": 3, "mode": "standard"}
            ),
        )

    def _key_id(self, arn: str) -> str:
        return kms_key_id_for_arn(arn)

    def current_key_id(self) -> str:
        if not self._arn:
            # An alias or bare key id resolves to the ARN that is recorded with each row.
            self._arn = self.client.describe_key(KeyId=self.key_id)["KeyMetadata"]["Arn"]
        return self._key_id(self._arn)

    def wrap(self, *, data_key: bytes, context: bytes) -> tuple[bytes, str]:
        response = self.client.encrypt(
            KeyId=self.key_id,
            Plaintext=data_key,
            EncryptionContext=kms_encryption_context(context),
        )
        return response["CiphertextBlob"], self._key_id(response["KeyId"])

    def unwrap(self, *, wrapped: bytes, key_id: str, context: bytes) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = self.client.decrypt(
                CiphertextBlob=bytes(wrapped),
                KeyId=kms_arn_of(key_id),
                EncryptionContext=kms_encryption_context(context),
            )
            return response["Plaintext"]
        except (ClientError, BotoCoreError, KeyError) as exc:
            # KMS said no (wrong context, key disabled or deleted, no permission) or could
            # not be reached: the same generic failure as everywhere in the vault.
            code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
            logger.warning("aws kms could not unwrap a data key (%s): %s", key_id, code)
            raise DecryptionFailed() from None


@lru_cache(maxsize=4)
def _kms_backend(key_id: str, region: str, endpoint_url: str) -> AwsKmsBackend:
    return AwsKmsBackend(key_id=key_id, region=region, endpoint_url=endpoint_url)


def kms_backend(*, for_key_id: str = "") -> AwsKmsBackend:
    """The configured KMS backend. Unwrapping a row wrapped by another key (before a move
    to a new key, or after moving off KMS) works too: the row names its key and region."""
    region, key = settings.AWS_KMS_REGION, settings.AWS_KMS_KEY_ID
    if for_key_id:
        region = for_key_id[len(KMS_PREFIX) :].split(":")[1] or region
        key = key or kms_arn_of(for_key_id)
    return _kms_backend(key, region, settings.AWS_KMS_ENDPOINT_URL)


_LOCAL = LocalBackend()

Backend = LocalBackend | VaultBackend | AwsKmsBackend
BACKEND_NAMES = ("database", "vault", "aws-kms")


def active_backend() -> Backend:
    """The backend new data keys are wrapped with."""
    backend = settings.CREWBUILDER_KEY_BACKEND
    if backend == "vault":
        return vault_backend()
    if backend == "aws-kms":
        return kms_backend()
    if backend != "database":
        raise ImproperlyConfigured(
            "CREWBUILDER_KEY_BACKEND must be 'database', 'vault' or 'aws-kms'."
        )
    return _LOCAL


def is_local_key_id(key_id: str) -> bool:
    """Wrapped by a ``CREWBUILDER_ENCRYPTION_KEYS`` master key (not Vault, not KMS)."""
    return not key_id.startswith((VAULT_PREFIX, KMS_PREFIX))


def backend_name(key_id: str) -> str:
    """``database``, ``vault`` or ``aws-kms``: what wrapped a row (a metrics label)."""
    if key_id.startswith(VAULT_PREFIX):
        return "vault"
    if key_id.startswith(KMS_PREFIX):
        return "aws-kms"
    return "database"


def backend_for(key_id: str) -> Backend:
    """The backend that can unwrap a data key wrapped under ``key_id``."""
    if key_id.startswith(VAULT_PREFIX):
        return vault_backend()
    if key_id.startswith(KMS_PREFIX):
        return kms_backend(for_key_id=key_id)
    return _LOCAL
