"""In-memory twin of the data-key repository (contract-tested with the PostgreSQL one)."""

from __future__ import annotations

from dataclasses import dataclass, field

from portico_common.memory_uow import TenantScope
from portico_tenancy.domain.keys import KeyRing, WrappedDataKey


@dataclass
class MemoryKeyTables:
    rings: dict[str, KeyRing] = field(default_factory=dict)
    keys: dict[tuple[str, int], WrappedDataKey] = field(default_factory=dict)


class MemoryDataKeyRepository:
    def __init__(self, tables: MemoryKeyTables, scope: TenantScope) -> None:
        self._t = tables
        self._scope = scope

    async def ring(self, tenant_id: str, *, lock: bool = False) -> KeyRing | None:  # noqa: ARG002 - units of work run one at a time
        return self._t.rings.get(tenant_id) if self._scope.sees(tenant_id) else None

    async def create(self, ring: KeyRing, first: WrappedDataKey | None) -> bool:
        self._scope.check_write(ring.tenant_id)
        if ring.tenant_id in self._t.rings:
            return False
        self._t.rings[ring.tenant_id] = ring
        if first is not None:
            self._t.keys[(first.tenant_id, first.version)] = first
        return True

    async def keys(self, tenant_id: str) -> list[WrappedDataKey]:
        if not self._scope.sees(tenant_id):
            return []
        return sorted(
            (k for (t, _), k in self._t.keys.items() if t == tenant_id), key=lambda k: k.version
        )

    async def add(self, ring: KeyRing, key: WrappedDataKey) -> None:
        self._scope.check_write(ring.tenant_id)
        self._t.keys[(key.tenant_id, key.version)] = key
        self._t.rings[ring.tenant_id] = ring

    async def shred(self, ring: KeyRing) -> int:
        self._scope.check_write(ring.tenant_id)
        gone = [k for k in self._t.keys if k[0] == ring.tenant_id]
        for k in gone:
            del self._t.keys[k]
        self._t.rings[ring.tenant_id] = ring
        return len(gone)

    async def under_older_kek(self, kms: str, kek_version: int, limit: int) -> list[WrappedDataKey]:
        found = [
            k
            for k in self._t.keys.values()
            if self._scope.sees(k.tenant_id) and k.kms == kms and k.kek_version < kek_version
        ]
        return sorted(found, key=lambda k: (k.tenant_id, k.version))[:limit]

    async def rewrapped(self, key: WrappedDataKey) -> None:
        self._scope.check_write(key.tenant_id)
        self._t.keys[(key.tenant_id, key.version)] = key
