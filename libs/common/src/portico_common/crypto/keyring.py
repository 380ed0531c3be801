"""A tenant's data keys as a service sees them, where they come from, and the field cipher.

`DataKeySource` is the port: tenancy's gRPC API in a service
(`portico_common.crypto.tenancy_client`), tenancy's own store inside
tenancy, a static ring in tests. `CachedDataKeys` keeps each tenant's ring
for a short while (a shredded key stops working everywhere within that
time). `FieldCipher` seals with the tenant's primary key and opens with
whichever version a value names; it only accepts fields its service
declared sensitive (`SensitiveFields`), so the declaration is the one place
that says what is encrypted.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from portico_common.crypto.envelope import (
    DataKey,
    EnvelopeError,
    FieldBinding,
    UnreadableSealedValueError,
    key_version,
    open_sealed,
    seal,
)
from portico_common.errors import FailedPreconditionError


class TenantKeysShreddedError(EnvelopeError, FailedPreconditionError):
    """The tenant's data keys were destroyed: nothing of it can be sealed or opened again."""

    def __init__(self, tenant_id: str) -> None:
        super().__init__(f"the data keys of tenant {tenant_id} were destroyed (crypto-shredded)")
        self.tenant_id = tenant_id


class UndeclaredFieldError(EnvelopeError, FailedPreconditionError):
    """A field was sealed or opened that its service never declared sensitive."""

    def __init__(self, service: str, table: str, column: str) -> None:
        super().__init__(f"{table}.{column} is not among {service}'s declared sensitive fields")


@dataclass(frozen=True)
class TenantKeys:
    """Every data key of a tenant still readable, and the one new values are sealed with.

    A shredded tenant has no keys and no primary.
    """

    tenant_id: str
    primary: int
    keys: Mapping[int, DataKey] = field(repr=False)

    @property
    def shredded(self) -> bool:
        return not self.keys

    def primary_key(self) -> DataKey:
        if self.shredded:
            raise TenantKeysShreddedError(self.tenant_id)
        return self.keys[self.primary]

    @staticmethod
    def destroyed(tenant_id: str) -> TenantKeys:
        return TenantKeys(tenant_id, 0, {})


class DataKeySource(Protocol):
    async def keys_for(self, tenant_id: str) -> TenantKeys:
        """The tenant's ring; the first call for a tenant without keys creates its first key."""


@dataclass(frozen=True)
class SensitiveField:
    """A column whose values are sealed with the tenant's key."""

    table: str
    column: str
    what: str


class SensitiveFields:
    """A service's declaration of its sensitive fields (one per service)."""

    def __init__(self, service: str, fields: Iterable[SensitiveField]) -> None:
        self.service = service
        self.fields = {(f.table, f.column): f for f in fields}

    def binding(self, table: str, column: str, tenant_id: str, row_id: str) -> FieldBinding:
        if (table, column) not in self.fields:
            raise UndeclaredFieldError(self.service, table, column)
        return FieldBinding(tenant_id, table, column, row_id)

    def declared(self) -> list[SensitiveField]:
        return list(self.fields.values())


class CachedDataKeys:
    """Keeps each tenant's ring for `ttl_seconds`; one fetch per tenant however many wait."""

    def __init__(
        self,
        source: DataKeySource,
        *,
        ttl_seconds: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self._ttl = ttl_seconds
        self._now = monotonic
        self._rings: dict[str, tuple[float, TenantKeys]] = {}
        self._pending: dict[str, asyncio.Task[TenantKeys]] = {}

    async def keys_for(self, tenant_id: str) -> TenantKeys:
        cached = self._rings.get(tenant_id)
        if cached is not None and self._now() < cached[0]:
            return cached[1]
        return await self.refresh(tenant_id)

    async def refresh(self, tenant_id: str) -> TenantKeys:
        """Fetches the ring again (a value names a version the cached ring lacks)."""
        task = self._pending.get(tenant_id)
        if task is None or task.done():
            task = asyncio.create_task(self._fetch(tenant_id))
            self._pending[tenant_id] = task
        return await asyncio.shield(task)

    def forget(self, tenant_id: str) -> None:
        self._rings.pop(tenant_id, None)

    async def _fetch(self, tenant_id: str) -> TenantKeys:
        ring = await self._source.keys_for(tenant_id)
        self._rings[tenant_id] = (self._now() + self._ttl, ring)
        return ring


class FieldCipher:
    """Seals and opens a service's declared sensitive fields with the tenant's keys."""

    def __init__(self, fields: SensitiveFields, keys: DataKeySource) -> None:
        self.fields = fields
        self._keys = keys

    async def seal(
        self, table: str, column: str, tenant_id: str, row_id: str, plaintext: bytes
    ) -> bytes:
        binding = self.fields.binding(table, column, tenant_id, row_id)
        ring = await self._keys.keys_for(tenant_id)
        return seal(ring.primary_key(), binding, plaintext)

    async def open(
        self, table: str, column: str, tenant_id: str, row_id: str, sealed: bytes
    ) -> bytes:
        binding = self.fields.binding(table, column, tenant_id, row_id)
        version = key_version(sealed)
        ring = await self._keys.keys_for(tenant_id)
        if (
            version not in ring.keys
            and isinstance(self._keys, CachedDataKeys)
            and not ring.shredded
        ):
            ring = await self._keys.refresh(tenant_id)
        if ring.shredded:
            raise TenantKeysShreddedError(tenant_id)
        key = ring.keys.get(version)
        if key is None:
            raise UnreadableSealedValueError(binding, f"key {version} of the tenant is not known")
        return open_sealed(key, binding, sealed)

    async def seal_text(
        self, table: str, column: str, tenant_id: str, row_id: str, text: str
    ) -> bytes:
        return await self.seal(table, column, tenant_id, row_id, text.encode())

    async def open_text(
        self, table: str, column: str, tenant_id: str, row_id: str, sealed: bytes
    ) -> str:
        return (await self.open(table, column, tenant_id, row_id, sealed)).decode()

    async def fingerprint(self, tenant_id: str, value: str) -> str:
        """A short keyed digest of a secret (HMAC under a key derived from the primary key).

        Equal secrets of a tenant compare equal while its primary key stays; a
        guessable secret cannot be confirmed by hashing guesses without the key.
        """
        key = (await self._keys.keys_for(tenant_id)).primary_key()
        mac_key = HKDF(
            algorithm=hashes.SHA256(),
            length=32,
            salt=None,
            info=f"portico-field-fingerprint-v1/{self.fields.service}".encode(),
        ).derive(key.material)
        return "hmac-sha256:" + hmac.new(mac_key, value.encode(), hashlib.sha256).hexdigest()[:16]

    async def primary_version(self, tenant_id: str) -> int:
        """The version new values of the tenant get (a re-encryption job skips values at it)."""
        return (await self._keys.keys_for(tenant_id)).primary_key().version


class StaticDataKeys:
    """Rings held in memory: tests, and tools that were handed the keys."""

    def __init__(self) -> None:
        self.rings: dict[str, TenantKeys] = {}

    async def keys_for(self, tenant_id: str) -> TenantKeys:
        ring = self.rings.get(tenant_id)
        if ring is None:
            ring = TenantKeys(tenant_id, 1, {1: DataKey.generate(1)})
            self.rings[tenant_id] = ring
        return ring

    def rotate(self, tenant_id: str) -> int:
        ring = self.rings[tenant_id]
        version = max(ring.keys) + 1
        self.rings[tenant_id] = TenantKeys(
            tenant_id, version, {**ring.keys, version: DataKey.generate(version)}
        )
        return version

    def shred(self, tenant_id: str) -> None:
        self.rings[tenant_id] = TenantKeys.destroyed(tenant_id)
