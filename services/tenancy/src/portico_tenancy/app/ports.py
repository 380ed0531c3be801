"""What the tenancy use cases need from the outside world."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from portico_common.clock import Clock
from portico_tenancy.app.job_ports import JobRepository
from portico_tenancy.domain.events import TenantEvent
from portico_tenancy.domain.quota import Quota, Usage
from portico_tenancy.domain.tenant import Tenant


class TenantRepository(Protocol):
    async def add(self, tenant: Tenant) -> bool:
        """Stores a new tenant; False if the id is taken."""

    async def get(self, tenant_id: str) -> Tenant | None: ...

    async def lock(self, tenant_id: str) -> bool:
        """Locks the tenant until the transaction ends; False if there is no such tenant.

        Changes to one tenant's quota or usage serialize on it, so revisions never race.
        """


class QuotaRepository(Protocol):
    async def get(self, tenant_id: str) -> Quota | None: ...

    async def save(self, quota: Quota) -> None:
        """Stores the quota, replacing the tenant's previous one."""


class UsageRepository(Protocol):
    async def get(self, tenant_id: str) -> Usage | None: ...

    async def save(self, usage: Usage) -> None:
        """Stores the usage report, replacing the tenant's previous one."""


class TenancyUnitOfWork(Protocol):
    # Read-only members, so any repository implementing the port fits.
    @property
    def tenants(self) -> TenantRepository: ...
    @property
    def quotas(self) -> QuotaRepository: ...
    @property
    def usage(self) -> UsageRepository: ...
    @property
    def clock(self) -> Clock: ...
    # Durable jobs, enqueued in the same transaction as the change that causes them.
    @property
    def jobs(self) -> JobRepository: ...

    async def publish(self, events: Sequence[TenantEvent]) -> None:
        """Queues the events to be published if, and only if, the transaction commits."""


UnitOfWorkFactory = Callable[[str], AbstractAsyncContextManager[TenancyUnitOfWork]]
