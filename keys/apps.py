from __future__ import annotations

from django.apps import AppConfig


class KeysConfig(AppConfig):
    name = "keys"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from keys import receivers  # noqa: F401  (accounts signals → key services)
        from keys.crypto import master_key_ring

        # A malformed CREWBUILDER_ENCRYPTION_KEYS stops the process at start-up, not at the
        # first request that needs a key; without it (embedded default, tests) this creates
        # the local key file (keys/crypto.py dev_master_keys), never the settings import.
        master_key_ring()
