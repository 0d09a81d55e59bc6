"""Decrypting a stored provider key through the vault service vs a bare AESGCM.decrypt.

Run: .venv/bin/python bench/keys_decrypt.py

The rows are built in memory exactly as the service stores them, so the figures exclude
the database fetch (which the issue's target excludes too). Three figures per key:
  * bare AESGCM.decrypt          - the floor: one AES-256-GCM open with a ready cipher object
  * service, data key cached     - keys.services._decrypt as used by provider_key_resolve
                                   (master-key check, cache lookup, AAD, open, UTF-8 decode)
  * service, cold data key       - the same plus unwrapping the organisation's data key
                                   under the master key (first use in a process, or every
                                   use if the in-process cache were off)
"""

from __future__ import annotations

import base64
import os
import secrets
import sys
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crewbuilder.test_settings")
os.environ["CREWBUILDER_ENCRYPTION_KEYS"] = (
    "bench:" + base64.b64encode(secrets.token_bytes(32)).decode()
)
os.environ.pop("DATABASE_URL", None)

import django  # noqa: E402

django.setup()

from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: E402

from keys import services  # noqa: E402
from keys.backends import active_backend  # noqa: E402
from keys.crypto import new_data_key, seal  # noqa: E402
from keys.models import OrganizationDataKey, ProviderKey  # noqa: E402

SECRET = "sk-proj-" + secrets.token_urlsafe(120)[:156]
N = 20000


def build_rows():
    data_key = new_data_key()
    wrapped, key_id = active_backend().wrap(
        data_key=data_key, context=services._data_key_context(42)
    )
    row = OrganizationDataKey(organization_id=42, wrapped_key=wrapped, master_key_id=key_id)
    key = ProviderKey(
        pk=7, organization_id=42, provider="openai", scope="organization", key_version=3
    )
    key.ciphertext = seal(AESGCM(data_key), SECRET.encode(), services._key_aad(key))
    return data_key, row, key


def per_key_us(fn) -> float:
    return min(timeit.repeat(fn, number=N, repeat=5)) / N * 1e6


def main() -> None:
    data_key, row, key = build_rows()
    blob = bytes(key.ciphertext)
    nonce, body, aad = blob[1:13], blob[13:], services._key_aad(key)
    aead = AESGCM(data_key)
    assert aead.decrypt(nonce, body, aad).decode() == SECRET
    assert services._decrypt(key, row) == SECRET

    bare = per_key_us(lambda: aead.decrypt(nonce, body, aad))
    warm = per_key_us(lambda: services._decrypt(key, row))

    def cold():
        services._data_key_cache.clear()
        services._decrypt(key, row)

    cold_us = per_key_us(cold)
    print(f"provider key of {len(SECRET)} chars, {N} decrypts x best of 5, no database")
    print(f"{'':34}{'µs/key':>10}{'vs bare':>12}")
    print(f"{'bare AESGCM.decrypt (baseline)':34}{bare:>10.2f}{'':>12}")
    print(f"{'service, data key cached':34}{warm:>10.2f}{warm - bare:>+11.2f}µs")
    print(f"{'service, cold data key (unwrap)':34}{cold_us:>10.2f}{cold_us - bare:>+11.2f}µs")
    target = 10.0
    verdict = "meets" if warm - bare <= target else "MISSES"
    print(f"target: ≤ {target:.0f} µs per key beyond the database fetch -> {verdict} (cached path)")


if __name__ == "__main__":
    main()
