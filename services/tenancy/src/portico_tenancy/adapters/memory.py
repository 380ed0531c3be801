"""In-memory adapters of the tenancy ports: the fakes unit tests wire in through `build`.

Built on the kernel's in-memory unit of work, they keep the promises the
PostgreSQL adapters keep (the contract suite runs against both): a unit of
work commits all or nothing, its events reach the sink only on commit, a
tenant sees and writes only its own rows, and a quota or usage row needs its
tenant (the foreign key).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from portico_common import memory_uow
from portico_common.clock import Clock
from portico_common.memory_uow import TenantScope
from portico_tenancy.adapters.memory_jobs import MemoryJobRepository, MemoryJobTables
from portico_tenancy.adapters.memory_keys import MemoryDataKeyRepository, MemoryKeyTables
from portico_tenancy.adapters.messages import to_message
from portico_tenancy.app.ports import UnitOfWorkFactory
from portico_tenancy.domain.events import TenantEvent
from portico_tenancy.domain.quota import Quota, Usage
from portico_tenancy.domain.tenant import Tenant


@dataclass
class MemoryTables:
    """Every table, as plain containers keyed by tenant id."""

    tenants: dict[str, Tenant] = field(default_factory=dict)
    quotas: dict[str, Quota] = field(default_factory=dict)
    usage: dict[str, Usage] = field(default_factory=dict)
    data_keys: MemoryKeyTables = field(default_factory=MemoryKeyTables)
    jobs: MemoryJobTables = field(default_factory=MemoryJobTables)


class MemoryTenantRepository:
    def __init__(self, tenants: dict[str, Tenant], scope: TenantScope) -> None:
        self._tenants = tenants
        self._scope = scope

    async def add(self, tenant: Tenant) -> bool:
        self._scope.check_write(tenant.tenant_id)
        if tenant.tenant_id in self._tenants:
            return False
        self._tenants[tenant.tenant_id] = tenant
        return True

    async def get(self, tenant_id: str) -> Tenant | None:
        return self._tenants.get(tenant_id) if self._scope.sees(tenant_id) else None

    async def lock(self, tenant_id: str) -> bool:
        # Units of work run one at a time, so finding the row is locking it.
        return await self.get(tenant_id) is not None


T = TypeVar("T", Quota, Usage)


class MemoryTenantRows(Generic[T]):
    """One row per tenant that must exist, like the quota and usage tables."""

    def __init__(self, rows: dict[str, T], tables: MemoryTables, scope: TenantScope) -> None:
        self._rows: dict[str, T] = rows
        self._tenants = tables.tenants
        self._scope = scope

    async def get(self, tenant_id: str) -> T | None:
        return self._rows.get(tenant_id) if self._scope.sees(tenant_id) else None

    async def save(self, row: T) -> None:
        self._scope.check_write(row.tenant_id)
        if row.tenant_id not in self._tenants:
            raise LookupError(f"no tenant {row.tenant_id!r} (foreign key)")
        self._rows[row.tenant_id] = row


class MemoryUnitOfWork(memory_uow.MemoryUnitOfWork[MemoryTables]):
    """One in-memory transaction with tenancy's repositories."""

    def __init__(self, state: MemoryTables, tenant_id: str, clock: Clock) -> None:
        super().__init__(state, tenant_id, clock)
        self.tenants = MemoryTenantRepository(state.tenants, self)
        self.quotas: MemoryTenantRows[Quota] = MemoryTenantRows(state.quotas, state, self)
        self.usage: MemoryTenantRows[Usage] = MemoryTenantRows(state.usage, state, self)
        self.data_keys = MemoryDataKeyRepository(state.data_keys, self)
        self.jobs = MemoryJobRepository(state.jobs, state.tenants, self)

    async def publish(self, events: Sequence[TenantEvent]) -> None:
        for event in events:
            await self.emit(to_message(event), subject=event.tenant_id)


class MemoryStore(memory_uow.MemoryStore[MemoryTables, MemoryUnitOfWork]):
    """Tenancy's committed tables and the events that committed with them."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(
            MemoryTables(), lambda state, tenant: MemoryUnitOfWork(state, tenant, clock)
        )
        self.clock = clock

    def uow_factory(self) -> UnitOfWorkFactory:
        return self.open
