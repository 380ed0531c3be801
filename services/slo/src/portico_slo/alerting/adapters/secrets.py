"""Channel secrets at rest: AES-256-GCM under the tenant's data key, old rows under a setting.

`TenantSecretBox` seals with the tenant's data key (from tenancy, through
the kernel's field cipher and slo's declared sensitive fields), in the
kernel's format (byte 0x02, the key version inside) bound to tenant, table,
column and channel id. Channels sealed before per-tenant keys (format byte
0x01, `AesGcmSecretBox`) stay readable while the old setting is given, and
are sealed with the tenant's key on their next change (lazy migration).

The old key comes from `PORTICO_SLO_CHANNEL_SECRET_KEY` through HKDF-SHA256 (the
setting is expected to be random, so HKDF rather than a password hash), as
auth derives its key-encryption key. Each sealed blob is bound to its
tenant and channel as associated data, so rows cannot be swapped. Stored
form: version byte, 12-byte nonce, ciphertext with tag. Fingerprints shown
by reads are HMAC-SHA256 under a second derived key: equal secrets compare
equal, and a guessable secret (an SMTP password) cannot be confirmed by
hashing guesses without the key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from portico_common.crypto.envelope import EnvelopeError, is_sealed
from portico_common.crypto.keyring import FieldCipher
from portico_slo.alerting.errors import (
    AlertingConfigurationError,
    ChannelSecretsUnavailableError,
    ChannelSecretsUnreadableError,
)
from portico_slo.sensitive import CHANNEL_SECRETS

MIN_SECRET_LENGTH = 32
_VERSION = b"\x01"
_NONCE_BYTES = 12


def _derive(secret: str, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret.encode())


class TenantSecretBox:
    """Seals channel secrets with the tenant's data key; opens those and legacy ones."""

    def __init__(self, cipher: FieldCipher, legacy: AesGcmSecretBox | None = None) -> None:
        self._cipher = cipher
        self._legacy = legacy

    @property
    def available(self) -> bool:
        return True

    async def seal(self, tenant_id: str, channel_id: str, secrets: Mapping[str, str]) -> bytes:
        plain = json.dumps(dict(secrets), sort_keys=True).encode()
        return await self._cipher.seal(
            CHANNEL_SECRETS.table, CHANNEL_SECRETS.column, tenant_id, channel_id, plain
        )

    async def open(self, tenant_id: str, channel_id: str, sealed: bytes) -> dict[str, str]:
        if not is_sealed(sealed):
            if self._legacy is None:
                raise ChannelSecretsUnreadableError(
                    channel_id,
                    "they were sealed under PORTICO_SLO_CHANNEL_SECRET_KEY, which is not set",
                )
            return self._legacy.open(tenant_id, channel_id, sealed)
        try:
            plain = await self._cipher.open(
                CHANNEL_SECRETS.table, CHANNEL_SECRETS.column, tenant_id, channel_id, sealed
            )
        except EnvelopeError as exc:
            raise ChannelSecretsUnreadableError(channel_id, str(exc)) from None
        opened = json.loads(plain)
        return {str(k): str(v) for k, v in opened.items()}

    async def fingerprint(self, tenant_id: str, value: str) -> str:
        return await self._cipher.fingerprint(tenant_id, value)


class AesGcmSecretBox:
    """Seals and opens channel secrets under the suite-wide key of the old setting.

    Only reads remain in service (rows sealed before per-tenant keys); tests
    seal with it to make such rows.
    """

    def __init__(self, secret: str) -> None:
        if len(secret) < MIN_SECRET_LENGTH:
            raise AlertingConfigurationError(
                "PORTICO_SLO_CHANNEL_SECRET_KEY must be a random string of at least"
                f" {MIN_SECRET_LENGTH} characters"
            )
        self._aead = AESGCM(_derive(secret, b"portico-slo channel-secret encryption v1"))
        self._mac_key = _derive(secret, b"portico-slo channel-secret fingerprint v1")

    @property
    def available(self) -> bool:
        return True

    def seal(self, tenant_id: str, channel_id: str, secrets: Mapping[str, str]) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        plain = json.dumps(dict(secrets), sort_keys=True).encode()
        return _VERSION + nonce + self._aead.encrypt(nonce, plain, _aad(tenant_id, channel_id))

    def open(self, tenant_id: str, channel_id: str, sealed: bytes) -> dict[str, str]:
        if sealed[:1] != _VERSION or len(sealed) <= 1 + _NONCE_BYTES:
            raise ChannelSecretsUnreadableError(channel_id)
        nonce, ciphertext = sealed[1 : 1 + _NONCE_BYTES], sealed[1 + _NONCE_BYTES :]
        try:
            plain = self._aead.decrypt(nonce, ciphertext, _aad(tenant_id, channel_id))
        except InvalidTag:
            raise ChannelSecretsUnreadableError(channel_id) from None
        opened = json.loads(plain)
        return {str(k): str(v) for k, v in opened.items()}

    def fingerprint(self, value: str) -> str:
        digest = hmac.new(self._mac_key, value.encode(), hashlib.sha256).hexdigest()
        return f"hmac-sha256:{digest[:16]}"


class NoSecretBox:
    """Stands in when no key source is configured: channels cannot be created or sent to."""

    @property
    def available(self) -> bool:
        return False

    # The port's signatures; without a key there is nothing to do with the arguments.
    async def seal(self, tenant_id: str, channel_id: str, secrets: Mapping[str, str]) -> bytes:  # noqa: ARG002
        raise ChannelSecretsUnavailableError

    async def open(self, tenant_id: str, channel_id: str, sealed: bytes) -> dict[str, str]:  # noqa: ARG002
        raise ChannelSecretsUnavailableError

    async def fingerprint(self, tenant_id: str, value: str) -> str:  # noqa: ARG002
        raise ChannelSecretsUnavailableError


def _aad(tenant_id: str, channel_id: str) -> bytes:
    return f"portico-slo/channel/{tenant_id}/{channel_id}".encode()
