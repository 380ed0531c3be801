"""Signing keys at rest: AES-256-GCM under a key-encryption key (KEK).

The KEK is derived with HKDF-SHA256 from the `PORTICO_AUTH_KEY_ENCRYPTION_KEY`
secret (expected to be random, so HKDF rather than a password hash). Each
ciphertext is bound to its key id as associated data, so rows cannot be swapped.
Stored form: version byte, 12-byte nonce, ciphertext with tag.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from portico_auth.errors import ConfigurationError, SigningKeyError

MIN_SECRET_LENGTH = 32
_VERSION = b"\x01"
_NONCE_BYTES = 12
_INFO = b"portico-auth signing-key encryption v1"


class KeyEncryptor:
    """Seals and opens private signing keys under the KEK."""

    def __init__(self, secret: str) -> None:
        if len(secret) < MIN_SECRET_LENGTH:
            raise ConfigurationError(
                "PORTICO_AUTH_KEY_ENCRYPTION_KEY must be a random string of at least"
                f" {MIN_SECRET_LENGTH} characters"
            )
        kek = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
            secret.encode()
        )
        self._aead = AESGCM(kek)

    def seal(self, kid: str, private_key: bytes) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return _VERSION + nonce + self._aead.encrypt(nonce, private_key, _aad(kid))

    def open(self, kid: str, sealed: bytes) -> bytes:
        if sealed[:1] != _VERSION or len(sealed) <= 1 + _NONCE_BYTES:
            raise SigningKeyError(f"signing key {kid}: unknown encryption format")
        nonce, ciphertext = sealed[1 : 1 + _NONCE_BYTES], sealed[1 + _NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, ciphertext, _aad(kid))
        except InvalidTag as exc:
            raise SigningKeyError(
                f"signing key {kid} cannot be decrypted: PORTICO_AUTH_KEY_ENCRYPTION_KEY is not"
                " the one it was stored with (or the row was tampered with)"
            ) from exc


def _aad(kid: str) -> bytes:
    return f"portico-auth/signing-key/{kid}".encode()
