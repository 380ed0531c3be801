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
from datetime import datetime
from typing import Generic, TypeVar

from portico_common import memory_uow
from portico_common.clock import Clock
from portico_common.memory_uow import TenantScope
from portico_tenancy.adapters.memory_jobs import MemoryJobRepository, MemoryJobTables
from portico_tenancy.adapters.memory_keys import MemoryDataKeyRepository, MemoryKeyTables
from portico_tenancy.adapters.memory_reservations import MemoryReservationRepository
from portico_tenancy.adapters.messages import to_message
from portico_tenancy.app.ports import UnitOfWorkFactory
from portico_tenancy.domain.events import TenantEvent
from portico_tenancy.domain.quota import Quota, Usage
from portico_tenancy.domain.reservations import Reservation
from portico_tenancy.domain.tenant import Tenant, TenantQuery, TenantState


@dataclass
class MemoryTables:
    """Every table, as plain containers keyed by tenant id."""

    tenants: dict[str, Tenant] = field(default_factory=dict)
    quotas: dict[str, Quota] = field(default_factory=dict)
    usage: dict[str, Usage] = field(default_factory=dict)
    data_keys: MemoryKeyTables = field(default_factory=MemoryKeyTables)
    jobs: MemoryJobTables = field(default_factory=MemoryJobTables)
    data_deletions: dict[tuple[str, str], int] = field(default_factory=dict)
    reservations: dict[tuple[str, str], Reservation] = field(default_factory=dict)


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

    async def get_for_update(self, tenant_id: str) -> Tenant | None:
        return await self.get(tenant_id)

    async def save(self, tenant: Tenant) -> None:
        self._scope.check_write(tenant.tenant_id)
        if tenant.tenant_id not in self._tenants:
            raise LookupError(f"no tenant {tenant.tenant_id!r} to update")
        self._tenants[tenant.tenant_id] = tenant

    async def search(self, query: TenantQuery, after: str, limit: int) -> list[Tenant]:
        found = sorted(
            (
                t
                for t in self._tenants.values()
                if self._scope.sees(t.tenant_id) and t.tenant_id > after and query.matches(t)
            ),
            key=lambda t: t.tenant_id,
        )
        return found[:limit]

    async def placed_awaiting(self, limit: int) -> list[str]:
        return sorted(
            t.tenant_id
            for t in self._tenants.values()
            if self._scope.sees(t.tenant_id)
            and t.state is TenantState.PROVISIONING
            and t.placed_at is not None
        )[:limit]

    async def deletions_due(self, now: datetime, limit: int) -> list[Tenant]:
        due = [
            t
            for t in self._tenants.values()
            if self._scope.sees(t.tenant_id)
            and t.state is TenantState.DELETING
            and t.deletion_requested_at is None
            and t.delete_after is not None
            and t.delete_after <= now
        ]
        return sorted(due, key=lambda t: t.delete_after or now)[:limit]

    async def refused(self) -> list[Tenant]:
        return sorted(
            (
                t
                for t in self._tenants.values()
                if self._scope.sees(t.tenant_id) and t.state.refuses_tokens
            ),
            key=lambda t: t.tenant_id,
        )


class MemoryDataDeletions:
    """The deletion saga's reports: (tenant, service) -> rows deleted."""

    def __init__(self, reports: dict[tuple[str, str], int], scope: TenantScope) -> None:
        self._reports = reports
        self._scope = scope

    async def record(
        self,
        tenant_id: str,
        service: str,
        rows: int,
        at: datetime,  # noqa: ARG002 - the port's; the memory store keeps no time
    ) -> bool:
        self._scope.check_write(tenant_id)
        if (tenant_id, service) in self._reports:
            return False
        self._reports[tenant_id, service] = rows
        return True

    async def reported(self, tenant_id: str) -> set[str]:
        return {
            service
            for (tenant, service) in self._reports
            if tenant == tenant_id and self._scope.sees(tenant)
        }


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

    async def delete(self, tenant_id: str) -> None:
        self._scope.check_write(tenant_id)
        self._rows.pop(tenant_id, None)


class MemoryUnitOfWork(memory_uow.MemoryUnitOfWork[MemoryTables]):
    """One in-memory transaction with tenancy's repositories."""

    def __init__(self, state: MemoryTables, tenant_id: str, clock: Clock) -> None:
        super().__init__(state, tenant_id, clock)
        self.tenants = MemoryTenantRepository(state.tenants, self)
        self.quotas: MemoryTenantRows[Quota] = MemoryTenantRows(state.quotas, state, self)
        self.usage: MemoryTenantRows[Usage] = MemoryTenantRows(state.usage, state, self)
        self.data_keys = MemoryDataKeyRepository(state.data_keys, self)
        self.jobs = MemoryJobRepository(state.jobs, state.tenants, self)
        self.data_deletions = MemoryDataDeletions(state.data_deletions, self)
        self.reservations = MemoryReservationRepository(state.reservations, state.tenants, self)

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
