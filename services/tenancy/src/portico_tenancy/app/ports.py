"""What the tenancy use cases need from the outside world."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Protocol

from portico_common.clock import Clock
from portico_tenancy.app.job_ports import JobRepository
from portico_tenancy.domain.events import TenantEvent
from portico_tenancy.domain.keys import KeyRing, WrappedDataKey
from portico_tenancy.domain.quota import Quota, Usage
from portico_tenancy.domain.reservations import Reservation, ReservationKind
from portico_tenancy.domain.tenant import Tenant, TenantQuery


class TenantRepository(Protocol):
    async def add(self, tenant: Tenant) -> bool:
        """Stores a new tenant; False if the id is taken."""

    async def get(self, tenant_id: str) -> Tenant | None: ...

    async def lock(self, tenant_id: str) -> bool:
        """Locks the tenant until the transaction ends; False if there is no such tenant.

        Changes to one tenant's quota or usage serialize on it, so revisions never race.
        """

    # ---- the lifecycle (app/lifecycle.py) ----

    async def get_for_update(self, tenant_id: str) -> Tenant | None:
        """The tenant, locked until the transaction ends: lifecycle moves serialize on it."""

    async def save(self, tenant: Tenant) -> None:
        """Writes an existing tenant's state and metadata."""

    async def search(self, query: TenantQuery, after: str, limit: int) -> list[Tenant]:
        """Tenants matching the query with an id above `after`, by id, at most `limit`."""

    async def deletions_due(self, now: datetime, limit: int) -> list[Tenant]:
        """Deleting tenants whose grace period ended by `now`, deletion not requested yet.

        Locked to the transaction; rows another holds are skipped (replicas share the work).
        """

    async def placed_awaiting(self, limit: int) -> list[str]:
        """Provisioning tenants the placer reported placed and not yet provisioned-checked."""
        ...

    async def refused(self) -> list[Tenant]:
        """Every tenant whose tokens services refuse (suspended, deleting, deleted)."""


class DataDeletionRepository(Protocol):
    """The deletion saga's reports: which services deleted a tenant's data."""

    async def record(self, tenant_id: str, service: str, rows: int, at: datetime) -> bool:
        """Records the report; False if that service had reported already."""

    async def reported(self, tenant_id: str) -> set[str]: ...


class QuotaRepository(Protocol):
    async def get(self, tenant_id: str) -> Quota | None: ...

    async def save(self, quota: Quota) -> None:
        """Stores the quota, replacing the tenant's previous one."""

    async def delete(self, tenant_id: str) -> None:
        """Deletes the tenant's row, if any (its deletion)."""


class UsageRepository(Protocol):
    async def get(self, tenant_id: str) -> Usage | None: ...

    async def save(self, usage: Usage) -> None:
        """Stores the usage report, replacing the tenant's previous one."""

    async def delete(self, tenant_id: str) -> None:
        """Deletes the tenant's row, if any (its deletion)."""


class ReservationRepository(Protocol):
    """What installs and rollouts hold against tenants' quotas (table tenant_reservations)."""

    async def get(self, tenant_id: str, reservation_id: str) -> Reservation | None: ...

    async def add(self, reservation: Reservation) -> None:
        """Stores a new reservation (the caller holds the tenant's lock and checked the id)."""

    async def save(self, reservation: Reservation) -> None:
        """Writes an existing reservation's state, reason and time."""

    async def live(
        self,
        tenant_id: str,
        *,
        kind: ReservationKind | None = None,
        plugin: str | None = None,
        version: str | None = None,
    ) -> list[Reservation]:
        """The tenant's held and in-use reservations, narrowed by kind, plugin and version."""

    async def delete(self, tenant_id: str) -> None:
        """Deletes every reservation of the tenant (its deletion)."""

    async def tenants_with_unconfirmed(self, created_before: datetime, limit: int) -> list[str]:
        """Tenants (of every tenant the transaction sees) with a hold unconfirmed since before."""

    async def unconfirmed(
        self, tenant_id: str, created_before: datetime, limit: int
    ) -> list[Reservation]:
        """The tenant's held, unconfirmed reservations created before the time, oldest first."""


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
    def reservations(self) -> ReservationRepository: ...
    @property
    def clock(self) -> Clock: ...
    # Durable jobs, enqueued in the same transaction as the change that causes them.
    @property
    def jobs(self) -> JobRepository: ...
    @property
    def data_deletions(self) -> DataDeletionRepository: ...

    async def publish(self, events: Sequence[TenantEvent]) -> None:
        """Queues the events to be published if, and only if, the transaction commits."""


UnitOfWorkFactory = Callable[[str], AbstractAsyncContextManager[TenancyUnitOfWork]]
