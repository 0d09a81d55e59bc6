"""Primitives of the key vault: master keys, AES-256-GCM sealing with associated data.

Nothing here touches the database. ``keys/services.py`` is the only caller; it decides
what goes into the associated data (the row a ciphertext belongs to), so a ciphertext
copied to another row, organisation or key version fails authentication.

Every failure to open a sealed value raises ``DecryptionFailed`` with one generic message:
a caller (or an attacker probing) cannot tell a tampered ciphertext from a transplanted
one, an unknown master key or a destroyed data key.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

NONCE_BYTES = 12  # 96-bit random nonce, fresh for every write
KEY_BYTES = 32  # AES-256
FORMAT_V1 = b"\x01"
_MASTER_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,32}$")


class DecryptionFailed(Exception):
    """A sealed value could not be opened. Deliberately says nothing about why."""

    def __init__(self) -> None:
        super().__init__("The stored key could not be decrypted.")


@dataclass(frozen=True)
class MasterKey:
    id: str
    aead: AESGCM = field(repr=False, compare=False)


@dataclass(frozen=True)
class MasterKeyRing:
    """Parsed ``CREWBUILDER_ENCRYPTION_KEYS``: the first key encrypts, all of them decrypt."""

    keys: tuple[MasterKey, ...]

    @property
    def current(self) -> MasterKey:
        return self.keys[0]

    def get(self, key_id: str) -> MasterKey | None:
        for key in self.keys:
            if key.id == key_id:
                return key
        return None

    @property
    def ids(self) -> list[str]:
        return [key.id for key in self.keys]


def parse_master_keys(raw: str) -> MasterKeyRing:
    """Parse ``ID:BASE64,ID:BASE64``. Raises ImproperlyConfigured (never echoing key material)."""
    entries = [part.strip() for part in (raw or "").split(",") if part.strip()]
    if not entries:
        raise ImproperlyConfigured("CREWBUILDER_ENCRYPTION_KEYS is empty.")
    keys: list[MasterKey] = []
    seen: set[str] = set()
    for position, entry in enumerate(entries, start=1):
        key_id, sep, encoded = entry.partition(":")
        if not sep or not _MASTER_ID.match(key_id):
            raise ImproperlyConfigured(
                f"CREWBUILDER_ENCRYPTION_KEYS entry {position} must look like ID:BASE64 "
                "(ID: letters, digits, _ . -, at most 32 characters)."
            )
        if key_id in seen:
            raise ImproperlyConfigured(f"CREWBUILDER_ENCRYPTION_KEYS repeats the id {key_id!r}.")
        try:
            material = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            material = b""
        if len(material) != KEY_BYTES:
            raise ImproperlyConfigured(
                f"CREWBUILDER_ENCRYPTION_KEYS key {key_id!r} must be base64 of exactly 32 bytes."
            )
        seen.add(key_id)
        keys.append(MasterKey(id=key_id, aead=AESGCM(material)))
    return MasterKeyRing(keys=tuple(keys))


_RING_CACHE: dict[str, MasterKeyRing] = {}


_DEV_KEYS_CACHE: dict[Path, str] = {}


def dev_master_keys() -> str:
    """The embedded default's local master key (``CREWBUILDER_DEV_KEYS_FILE``), generated
    on first use: the keys app asks for the ring at start-up (keys/apps.py), so ``make run``
    creates the file before serving. Never used in production."""
    path = Path(settings.CREWBUILDER_DEV_KEYS_FILE)
    if path not in _DEV_KEYS_CACHE:
        if not path.exists():
            key = base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()
            path.write_text(f"dev1:{key}\n")
            path.chmod(0o600)
        _DEV_KEYS_CACHE[path] = path.read_text().strip()
    return _DEV_KEYS_CACHE[path]


def configured_master_keys() -> str:
    """``CREWBUILDER_ENCRYPTION_KEYS``; unset in the embedded default or the tests, the
    local key file (production settings refuse to start without the variable)."""
    raw: str = settings.CREWBUILDER_ENCRYPTION_KEYS
    if not raw and (settings.DEBUG or settings.TESTING):
        return dev_master_keys()
    return raw


def master_key_ring() -> MasterKeyRing:
    """The configured ring, parsed once per distinct setting value (tests override it)."""
    raw = configured_master_keys()
    ring = _RING_CACHE.get(raw)
    if ring is None:
        ring = parse_master_keys(raw)
        _RING_CACHE.clear()  # keep at most one parsed ring in memory
        _RING_CACHE[raw] = ring
    return ring


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def seal(aead: AESGCM, plaintext: bytes, aad: bytes) -> bytes:
    """``01 || nonce || ciphertext+tag`` under a fresh random 96-bit nonce."""
    nonce = os.urandom(NONCE_BYTES)
    return FORMAT_V1 + nonce + aead.encrypt(nonce, plaintext, aad)


def open_sealed(aead: AESGCM, blob: bytes, aad: bytes) -> bytes:
    blob = bytes(blob or b"")
    if len(blob) < 1 + NONCE_BYTES + 16 or blob[:1] != FORMAT_V1:
        raise DecryptionFailed()
    try:
        return aead.decrypt(blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :], aad)
    except InvalidTag:
        raise DecryptionFailed() from None


def aad(*parts: object) -> bytes:
    """Associated data: a fixed label plus ``name=value`` parts joined unambiguously."""
    return "|".join(str(part) for part in parts).encode()
