"""The KMS port: a key-encryption key (KEK) that wraps and unwraps data keys.

Data keys never leave tenancy unwrapped except to service identities; the
KEK never leaves the KMS adapter (the local key file, or Vault Transit).
`context` binds a wrapped key to its tenant and version, so a wrapped key
copied to another tenant's row does not unwrap. `rewrap` puts a wrapped key
under the KEK's newest version without the caller seeing the data key.
"""

from __future__ import annotations

from typing import Protocol

from portico_common.errors import FailedPreconditionError, PorticoError, UnavailableError


class KmsError(PorticoError):
    """Base of the KMS adapters' errors."""


class KmsUnavailableError(KmsError, UnavailableError):
    """The KMS could not be reached or refused to work."""


class KmsUnwrapError(KmsError, FailedPreconditionError):
    """A wrapped key does not unwrap: another KMS, a destroyed KEK version, or tampered."""


class KeyEncryptionKey(Protocol):
    @property
    def name(self) -> str:
        """Which KMS this is ("local", "vault-transit"), recorded beside each wrapped key."""

    async def wrap(self, data_key: bytes, context: bytes) -> bytes: ...

    async def unwrap(self, wrapped: bytes, context: bytes) -> bytes: ...

    async def rewrap(self, wrapped: bytes, context: bytes) -> bytes:
        """The same data key wrapped under the KEK's newest version."""

    async def rotate(self) -> int:
        """Adds a KEK version and makes it the one that wraps; returns it."""

    def kek_version(self, wrapped: bytes) -> int:
        """The KEK version a wrapped key is under (no call to the KMS)."""


def wrap_context(tenant_id: str, version: int) -> bytes:
    """What a tenant's data key of `version` is bound to when wrapped."""
    return f"portico-dek-v1/{tenant_id}/{version}".encode()
