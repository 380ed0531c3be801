"""PostgreSQL adapters of the tenancy ports."""

from __future__ import annotations

from collections.abc import Sequence

from portico_common.clock import Clock
from portico_common.db import Connection, Database
from portico_common.uow import PgUnitOfWork, uow_factory
from portico_tenancy.adapters.messages import to_message
from portico_tenancy.adapters.pg_jobs import PgJobRepository
from portico_tenancy.adapters.postgres_keys import PgDataKeyRepository
from portico_tenancy.app.ports import UnitOfWorkFactory
from portico_tenancy.domain.events import TenantEvent
from portico_tenancy.domain.quota import Quota, Resources, Usage
from portico_tenancy.domain.tenant import Tenant


class PgTenantRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def add(self, tenant: Tenant) -> bool:
        inserted = await self._conn.fetchval(
            """INSERT INTO tenants (tenant_id, display_name, created_at) VALUES ($1, $2, $3)
               ON CONFLICT (tenant_id) DO NOTHING RETURNING true""",
            tenant.tenant_id,
            tenant.display_name,
            tenant.created_at,
        )
        return bool(inserted)

    async def get(self, tenant_id: str) -> Tenant | None:
        row = await self._conn.fetchrow(
            "SELECT tenant_id, display_name, created_at FROM tenants WHERE tenant_id = $1",
            tenant_id,
        )
        return (
            None
            if row is None
            else Tenant(row["tenant_id"], row["display_name"], row["created_at"])
        )

    async def lock(self, tenant_id: str) -> bool:
        locked = await self._conn.fetchval(
            "SELECT true FROM tenants WHERE tenant_id = $1 FOR UPDATE", tenant_id
        )
        return bool(locked)


class PgQuotaRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def get(self, tenant_id: str) -> Quota | None:
        row = await self._conn.fetchrow(
            """SELECT tenant_id, cpu_millicores, memory_mib, storage_mib, max_plugins,
                      revision, updated_at
                 FROM tenant_quotas WHERE tenant_id = $1""",
            tenant_id,
        )
        if row is None:
            return None
        limits = Resources(row["cpu_millicores"], row["memory_mib"], row["storage_mib"])
        return Quota(
            row["tenant_id"], limits, row["max_plugins"], row["revision"], row["updated_at"]
        )

    async def save(self, quota: Quota) -> None:
        await self._conn.execute(
            """INSERT INTO tenant_quotas (tenant_id, cpu_millicores, memory_mib, storage_mib,
                                          max_plugins, revision, updated_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7)
               ON CONFLICT (tenant_id) DO UPDATE SET
                   cpu_millicores = EXCLUDED.cpu_millicores,
                   memory_mib = EXCLUDED.memory_mib,
                   storage_mib = EXCLUDED.storage_mib,
                   max_plugins = EXCLUDED.max_plugins,
                   revision = EXCLUDED.revision,
                   updated_at = EXCLUDED.updated_at""",
            quota.tenant_id,
            quota.limits.cpu_millicores,
            quota.limits.memory_mib,
            quota.limits.storage_mib,
            quota.max_plugins,
            quota.revision,
            quota.updated_at,
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

    async def publish(self, events: Sequence[TenantEvent]) -> None:
        for event in events:
            await self.emit(to_message(event), subject=event.tenant_id)


def pg_uow_factory(db: Database, clock: Clock) -> UnitOfWorkFactory:
    """Units of work that each open (and commit) their own tenant transaction."""
    return uow_factory(
        db, lambda conn, tenant: TenancyPgUnitOfWork(conn, tenant_id=tenant, clock=clock)
    )
