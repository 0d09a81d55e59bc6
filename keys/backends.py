"""Where data keys are wrapped: locally under ``CREWBUILDER_ENCRYPTION_KEYS`` (default) or
by HashiCorp Vault's transit engine (``CREWBUILDER_KEY_BACKEND=vault``).

The wrapping key id recorded with every wrapped data key says who can open it:
``<ID>`` is a local master key, ``vault:<transit key>:v<N>`` a Vault transit key version.
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


_LOCAL = LocalBackend()


def active_backend() -> LocalBackend | VaultBackend:
    """The backend new data keys are wrapped with."""
    backend = settings.CREWBUILDER_KEY_BACKEND
    if backend == "vault":
        return vault_backend()
    if backend != "database":
        raise ImproperlyConfigured("CREWBUILDER_KEY_BACKEND must be 'database' or 'vault'.")
    return _LOCAL


def backend_for(key_id: str) -> LocalBackend | VaultBackend:
    """The backend that can unwrap a data key wrapped under ``key_id``."""
    return vault_backend() if key_id.startswith(VAULT_PREFIX) else _LOCAL
