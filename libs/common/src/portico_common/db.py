"""PostgreSQL access: the pool, and transactions scoped to one tenant.

Tenant-scoped tables are under FORCE row-level security. Every transaction
switches to the non-owner role `portico_app` and sets `app.tenant_id`, both
with `is_local => true` so nothing leaks to the next user of the connection.
A transaction that forgets its tenant sees no tenant rows at all.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from portico_common.tenants import ALL_TENANTS

# What a transaction hands out: a pooled connection.
Connection = asyncpg.Connection | PoolConnectionProxy

APP_ROLE = "portico_app"

__all__ = ["ALL_TENANTS", "APP_ROLE", "Connection", "Database", "create_pool"]


async def create_pool(
    dsn: str, schema: str, *, min_size: int = 1, max_size: int = 10
) -> asyncpg.Pool:
    """A pool whose connections resolve unqualified names in the service's schema."""
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        server_settings={
            "search_path": f"{schema},public",
            "application_name": f"portico-{schema}",
        },
    )
    if pool is None:  # pragma: no cover - asyncpg returns None only without awaiting
        raise RuntimeError("asyncpg returned no pool")
    return pool


class Database:
    """Opens transactions as the application role, scoped to one tenant."""

    def __init__(self, pool: asyncpg.Pool, schema: str, role: str = APP_ROLE) -> None:
        self.pool = pool
        self.schema = schema
        self.role = role

    @asynccontextmanager
    async def transaction(self, tenant_id: str) -> AsyncIterator[Connection]:
        """A transaction that can see only `tenant_id`'s rows (ALL_TENANTS: every row)."""
        if not tenant_id:
            raise ValueError("a transaction needs a tenant id (or ALL_TENANTS)")
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "SELECT set_config('role', $1, true), set_config('app.tenant_id', $2, true)",
                self.role,
                tenant_id,
            )
            yield conn

    async def close(self) -> None:
        await self.pool.close()
