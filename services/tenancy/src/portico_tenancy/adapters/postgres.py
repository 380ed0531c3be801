"""PostgreSQL adapters of the tenancy ports."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from portico_common.clock import Clock
from portico_common.db import Connection, Database
from portico_common.uow import PgUnitOfWork, uow_factory
from portico_tenancy.adapters.messages import to_message
from portico_tenancy.adapters.pg_jobs import PgJobRepository
from portico_tenancy.adapters.pg_reservations import PgReservationRepository
from portico_tenancy.adapters.pg_tenants import PgDataDeletionRepository, PgTenantRepository
from portico_tenancy.adapters.postgres_keys import PgDataKeyRepository
from portico_tenancy.app.ports import UnitOfWorkFactory
from portico_tenancy.domain.events import TenantEvent
from portico_tenancy.domain.quota import Quota, Resources, Usage


class PgQuotaRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def get(self, tenant_id: str) -> Quota | None:
        row = await self._conn.fetchrow(
            """SELECT tenant_id, cpu_millicores, memory_mib, storage_mib, max_plugins,
                      revision, updated_at, max_rollouts
                 FROM tenant_quotas WHERE tenant_id = $1""",
            tenant_id,
        )
        if row is None:
            return None
        limits = Resources(row["cpu_millicores"], row["memory_mib"], row["storage_mib"])
        return Quota(
            row["tenant_id"],
            limits,
            row["max_plugins"],
            row["revision"],
            row["updated_at"],
            row["max_rollouts"],
        )

    async def delete(self, tenant_id: str) -> None:
        await self._conn.execute("DELETE FROM tenant_quotas WHERE tenant_id = $1", tenant_id)

    async def save(self, quota: Quota) -> None:
        await self._conn.execute(
            """INSERT INTO tenant_quotas (tenant_id, cpu_millicores, memory_mib, storage_mib,
                                          max_plugins, revision, updated_at, max_rollouts)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
               ON CONFLICT (tenant_id) DO UPDATE SET
                   cpu_millicores = EXCLUDED.cpu_millicores,
                   memory_mib = EXCLUDED.memory_mib,
                   storage_mib = EXCLUDED.storage_mib,
                   max_plugins = EXCLUDED.max_plugins,
                   max_rollouts = EXCLUDED.max_rollouts,
                   revision = EXCLUDED.revision,
                   updated_at = EXCLUDED.updated_at""",
            quota.tenant_id,
            quota.limits.cpu_millicores,
            quota.limits.memory_mib,
            quota.limits.storage_mib,
            quota.max_plugins,
            quota.revision,
            quota.updated_at,
            quota.max_rollouts,
        )


class PgUsageRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def get(self, tenant_id: str) -> Usage | None:
        row = await self._conn.fetchrow(
            """SELECT tenant_id, cpu_millicores, memory_mib, storage_mib, plugins,
                      revision, updated_at
                 FROM tenant_usage WHERE tenant_id = $1""",
            tenant_id,
        )
        if row is None:
            return None
        used = Resources(row["cpu_millicores"], row["memory_mib"], row["storage_mib"])
        return Usage(row["tenant_id"], used, row["plugins"], row["revision"], row["updated_at"])

    async def delete(self, tenant_id: str) -> None:
        await self._conn.execute("DELETE FROM tenant_usage WHERE tenant_id = $1", tenant_id)

    async def save(self, usage: Usage) -> None:
        await self._conn.execute(
            """INSERT INTO tenant_usage (tenant_id, cpu_millicores, memory_mib, storage_mib,
                                         plugins, revision, updated_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7)
               ON CONFLICT (tenant_id) DO UPDATE SET
                   cpu_millicores = EXCLUDED.cpu_millicores,
                   memory_mib = EXCLUDED.memory_mib,
                   storage_mib = EXCLUDED.storage_mib,
                   plugins = EXCLUDED.plugins,
                   revision = EXCLUDED.revision,
                   updated_at = EXCLUDED.updated_at""",
            usage.tenant_id,
            usage.used.cpu_millicores,
            usage.used.memory_mib,
            usage.used.storage_mib,
            usage.plugins,
            usage.revision,
            usage.updated_at,
        )


class TenancyPgUnitOfWork(PgUnitOfWork):
    """The tenant transaction with tenancy's repositories; events go to the outbox."""

    def __init__(self, conn: Connection, *, tenant_id: str, clock: Clock) -> None:
        super().__init__(conn, source="portico/tenancy", tenant_id=tenant_id, clock=clock)
        self.tenants = PgTenantRepository(conn)
        self.quotas = PgQuotaRepository(conn)
        self.usage = PgUsageRepository(conn)
        self.data_keys = PgDataKeyRepository(conn)
        self.jobs = PgJobRepository(conn)
        self.data_deletions = PgDataDeletionRepository(conn)
        self.reservations = PgReservationRepository(conn)

    async def publish(self, events: Sequence[TenantEvent]) -> None:
        for event in events:
            await self.emit(to_message(event), subject=event.tenant_id)


def pg_uow_factory(db: Database, clock: Clock) -> UnitOfWorkFactory:
    """Units of work that each open (and commit) their own tenant transaction."""
    return uow_factory(
        db, lambda conn, tenant: TenancyPgUnitOfWork(conn, tenant_id=tenant, clock=clock)
    )


def pg_consumer_uow(
    clock: Clock,
) -> Callable[[Connection, str], AbstractAsyncContextManager[TenancyPgUnitOfWork]]:
    """Units of work on an event consumer's transaction, which commits with the inbox row."""

    @asynccontextmanager
    async def within(conn: Connection, tenant_id: str) -> AsyncIterator[TenancyPgUnitOfWork]:
        yield TenancyPgUnitOfWork(conn, tenant_id=tenant_id, clock=clock)

    return within
