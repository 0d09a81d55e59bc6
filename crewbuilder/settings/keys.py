"""Provider keys at rest: the master encryption keys and where data keys are wrapped
(the local keys, HashiCorp Vault transit or AWS KMS)."""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from crewbuilder.settings.env import BASE_DIR, DEBUG, TESTING, env

CREWBUILDER_ENCRYPTION_KEYS = env("CREWBUILDER_ENCRYPTION_KEYS", default="")
# Without CREWBUILDER_ENCRYPTION_KEYS the embedded default and the tests use a local key
# kept in this git-ignored file; the keys app creates it at start-up (keys/apps.py), never
# on import. Production has no such fallback.
CREWBUILDER_DEV_KEYS_FILE = Path(
    env("CREWBUILDER_DEV_KEYS_FILE", default=str(BASE_DIR / ".crewbuilder-dev-keys"))
)
if not CREWBUILDER_ENCRYPTION_KEYS and not (DEBUG or TESTING):
    raise ImproperlyConfigured(
        "CREWBUILDER_ENCRYPTION_KEYS is required in production (comma list of ID:BASE64)."
    )

CREWBUILDER_KEY_BACKEND = env("CREWBUILDER_KEY_BACKEND", default="database")
VAULT_ADDR = env("VAULT_ADDR", default="")
VAULT_TOKEN = env("VAULT_TOKEN", default="")
VAULT_MOUNT = env("VAULT_MOUNT", default="transit")
VAULT_TRANSIT_KEY = env("VAULT_TRANSIT_KEY", default="crewbuilder")
# AWS KMS (CREWBUILDER_KEY_BACKEND=aws-kms; boto3 from the "aws" extra). Credentials come
# from boto3's usual chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, an instance role, ...).
AWS_KMS_KEY_ID = env("AWS_KMS_KEY_ID", default="")
AWS_KMS_REGION = env("AWS_KMS_REGION", default="")
AWS_KMS_ENDPOINT_URL = env("AWS_KMS_ENDPOINT_URL", default="")
