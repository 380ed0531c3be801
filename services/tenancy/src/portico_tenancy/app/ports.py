"""What the tenancy use cases need from the outside world."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from portico_common.clock import Clock
from portico_tenancy.app.job_ports import JobRepository
from portico_tenancy.domain.events import TenantEvent
from portico_tenancy.domain.keys import KeyRing, WrappedDataKey
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


class DataKeyRepository(Protocol):
    """Tenants' wrapped data keys and their rings (tables tenant_key_rings, tenant_data_keys)."""

    async def ring(self, tenant_id: str, *, lock: bool = False) -> KeyRing | None:
        """The tenant's ring; `lock` holds it until the transaction ends."""

    async def create(self, ring: KeyRing, first: WrappedDataKey | None) -> bool:
        """Stores a new ring with its first key (none for a tombstone); False if one exists."""

    async def keys(self, tenant_id: str) -> list[WrappedDataKey]:
        """The tenant's wrapped keys, oldest first."""

    async def add(self, ring: KeyRing, key: WrappedDataKey) -> None:
        """Stores a new key version and the ring that makes it primary."""

    async def shred(self, ring: KeyRing) -> int:
        """Deletes every key of the ring's tenant and stores the shredded ring; how many."""

    async def under_older_kek(self, kms: str, kek_version: int, limit: int) -> list[WrappedDataKey]:
        """Keys (of every tenant the transaction sees) wrapped by another KMS or an older KEK."""

    async def rewrapped(self, key: WrappedDataKey) -> None:
        """Replaces a key's wrapped form (same version, same data key, newer KEK)."""


class TenancyUnitOfWork(Protocol):
    # Read-only members, so any repository implementing the port fits.
    @property
    def tenants(self) -> TenantRepository: ...
    @property
    def quotas(self) -> QuotaRepository: ...
    @property
    def usage(self) -> UsageRepository: ...
    @property
    def data_keys(self) -> DataKeyRepository: ...
    @property
    def clock(self) -> Clock: ...
    # Durable jobs, enqueued in the same transaction as the change that causes them.
    @property
    def jobs(self) -> JobRepository: ...

    async def publish(self, events: Sequence[TenantEvent]) -> None:
        """Queues the events to be published if, and only if, the transaction commits."""


UnitOfWorkFactory = Callable[[str], AbstractAsyncContextManager[TenancyUnitOfWork]]
