"""A tenant's data-key ring as tenancy stores it: wrapped keys and which one is primary.

Pure: the keys here are wrapped (opaque bytes from the KMS); unwrapping is
the use case's business. A ring is created with version 1, rotated by adding
the next version, and shredded by destroying every key, after which it
stays shredded for good (a tombstone, so no key is ever made for the tenant
again and nothing sealed before can be opened).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime


@dataclass(frozen=True)
class WrappedDataKey:
    """One data key version under the KMS's key-encryption key."""

    tenant_id: str
    version: int
    wrapped: bytes = field(repr=False)
    kms: str
    kek_version: int
    created_at: datetime


@dataclass(frozen=True)
class KeyRing:
    """Which version seals new values, or when the keys were destroyed."""

    tenant_id: str
    primary_version: int | None
    shredded_at: datetime | None
    updated_at: datetime

    @property
    def shredded(self) -> bool:
        return self.shredded_at is not None

    @staticmethod
    def first(tenant_id: str, now: datetime) -> KeyRing:
        return KeyRing(tenant_id, 1, None, now)

    def rotated(self, now: datetime) -> KeyRing:
        if self.primary_version is None:
            raise ValueError("a shredded ring has no versions to rotate")
        return replace(self, primary_version=self.primary_version + 1, updated_at=now)

    def shred(self, now: datetime) -> KeyRing:
        if self.shredded:
            return self
        return replace(self, primary_version=None, shredded_at=now, updated_at=now)
