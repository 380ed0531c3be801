"""PostgreSQL adapters of the tenancy ports."""

from __future__ import annotations

from portico_common.clock import Clock
from portico_common.db import Connection
from portico_common.uow import PgUnitOfWork
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


class TenancyPgUnitOfWork(PgUnitOfWork):
    def __init__(self, conn: Connection, *, tenant_id: str, clock: Clock) -> None:
        super().__init__(conn, source="portico/tenancy", tenant_id=tenant_id, clock=clock)
        self.tenants = PgTenantRepository(conn)
