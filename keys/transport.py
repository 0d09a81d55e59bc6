"""Client-side encryption of keys before they leave the browser.

The page gets the server's RSA-OAEP-256 public key as a JWK; ``static/js/keycrypt.js``
seals the key with a fresh AES-256-GCM key and wraps that key with RSA-OAEP (hybrid, so
keys longer than RSA's 190-byte limit still fit) and submits
``cbenc1.<kid>.<rsa(aes key)>.<iv>.<ciphertext>`` (base64url) instead of the key.

Why a stored key pair rather than one derived from the master key: RSA key generation is
randomised and no vetted library derives RSA keys deterministically from a seed; a
stored pair, its private half wrapped by the master key exactly like a data key, is
shared by every web process, survives restarts and is re-wrapped by ``keys_rotate``.
"""

from __future__ import annotations

import base64
import binascii
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.core.exceptions import ValidationError

from keys.backends import active_backend, backend_for
from keys.crypto import DecryptionFailed
from keys.models import TransportKey

TRANSPORT_CONTEXT = b"crewbuilder/transport-key/v1"
PAYLOAD_PREFIX = "cbenc1."
_ERROR = "Your browser's encrypted key could not be read. Reload the page and try again."
_private_cache: dict[tuple[str, str, bytes], rsa.RSAPrivateKey] = {}


def transport_context(kid: str) -> bytes:
    return TRANSPORT_CONTEXT + f"|kid={kid}".encode()


def _b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def transport_key_current() -> TransportKey:
    """The newest transport key pair, created on first use."""
    row = TransportKey.objects.order_by("-created_at", "-id").first()
    if row is not None:
        return row
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    numbers = private.public_key().public_numbers()
    kid = secrets.token_hex(8)
    der = private.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    wrapped, key_id = active_backend().wrap(data_key=der, context=transport_context(kid))
    jwk = {
        "kty": "RSA",
        "alg": "RSA-OAEP-256",
        "use": "enc",
        "kid": kid,
        "n": _b64u(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
        "e": _b64u(numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")),
    }
    return TransportKey.objects.create(
        wrapped_key=wrapped, master_key_id=key_id, public_jwk=jwk, kid=kid
    )


def transport_public_jwk() -> dict:
    return dict(transport_key_current().public_jwk)


def _private_key(row: TransportKey) -> rsa.RSAPrivateKey:
    wrapped = bytes(row.wrapped_key)
    cache_key = (row.kid, row.master_key_id, wrapped)
    private = _private_cache.get(cache_key)
    if private is None:
        der = backend_for(row.master_key_id).unwrap(
            wrapped=wrapped, key_id=row.master_key_id, context=transport_context(row.kid)
        )
        loaded = serialization.load_der_private_key(der, password=None)
        if not isinstance(loaded, rsa.RSAPrivateKey):
            raise TypeError(f"transport key {row.kid} is not an RSA key")
        private = loaded
        _private_cache.clear()
        _private_cache[cache_key] = private
    return private


def is_transport_payload(value: str) -> bool:
    return (value or "").strip().startswith(PAYLOAD_PREFIX)


def transport_decrypt(payload: str) -> str:
    """Open what keycrypt.js sent. Raises ValidationError({"api_key": [...]})."""
    parts = (payload or "").strip()[len(PAYLOAD_PREFIX) :].split(".")
    if len(parts) != 4:
        raise ValidationError({"api_key": [_ERROR]})
    kid, wrapped_key, iv, ciphertext = parts
    row = TransportKey.objects.filter(kid=kid).first()
    if row is None:
        raise ValidationError({"api_key": [_ERROR]})
    try:
        aes_key = _private_key(row).decrypt(
            _unb64u(wrapped_key),
            padding.OAEP(
                mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None
            ),
        )
        plaintext = AESGCM(aes_key).decrypt(
            _unb64u(iv), _unb64u(ciphertext), b"crewbuilder/transport/v1|kid=" + kid.encode()
        )
        return plaintext.decode()
    except (ValueError, InvalidTag, binascii.Error, DecryptionFailed, UnicodeDecodeError):
        raise ValidationError({"api_key": [_ERROR]}) from None


def transport_encrypt_for_tests(value: str, jwk: dict) -> str:
    """What keycrypt.js does, in Python (tests and the benchmark use it)."""
    n = int.from_bytes(_unb64u(jwk["n"]), "big")
    e = int.from_bytes(_unb64u(jwk["e"]), "big")
    public = rsa.RSAPublicNumbers(e, n).public_key()
    aes_key = AESGCM.generate_key(bit_length=256)
    iv = secrets.token_bytes(12)
    ciphertext = AESGCM(aes_key).encrypt(
        iv, value.encode(), b"crewbuilder/transport/v1|kid=" + jwk["kid"].encode()
    )
    wrapped = public.encrypt(
        aes_key,
        padding.OAEP(
            mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None
        ),
    )
    return PAYLOAD_PREFIX + ".".join([jwk["kid"], _b64u(wrapped), _b64u(iv), _b64u(ciphertext)])
