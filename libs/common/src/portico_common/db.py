"""PostgreSQL access: the pool, and transactions scoped to one tenant.

Each service connects as its own login role, `portico_<schema>`: no
superuser, no BYPASSRLS, member of no other role and owner of nothing (the
migrator owns the schema and its tables). Row-level security therefore binds
every statement the service runs, with no role switch. Every transaction sets
`app.tenant_id` with `is_local => true`, so nothing leaks to the next user of
the connection; a transaction that forgets its tenant sees no tenant rows.

A transaction's outcome is its COMMIT's: a connection that cannot be reset
when it goes back to the pool (PostgreSQL went away just after the commit) is
closed by the pool and logged, and does not turn a committed request into an
error its caller would retry. A connection the pool hands out that cannot
even begin a transaction because the server dropped it in the middle of a
message (PostgreSQL killed under it) is closed, and the request answered as
PostgreSQL's outage: it is retried, not reported as a bug.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from portico_common.idempotency_effects import current_claim, record_effect
from portico_common.outages import POSTGRESQL, DependencyUnavailableError
from portico_common.tenants import ALL_TENANTS

log = logging.getLogger(__name__)

# What a transaction hands out: a pooled connection.
Connection = asyncpg.Connection | PoolConnectionProxy

# Owns every service schema and runs the migrations; no service connects as it.
MIGRATOR_ROLE = "portico_migrator"
# The advisory lock provisioning and migrating both hold: run at once (replicas,
# tests), they would update the same catalog rows ("tuple concurrently updated").
SETUP_LOCK = "portico:migrate"

__all__ = [
    "ALL_TENANTS",
    "MIGRATOR_ROLE",
    "SETUP_LOCK",
    "Connection",
    "Database",
    "create_pool",
    "service_role",
]


def service_role(schema: str) -> str:
    """The login role a service whose schema is `schema` connects as."""
    return f"portico_{schema}"


async def create_pool(
    dsn: str,
    schema: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    ssl_context: ssl.SSLContext | None = None,
) -> asyncpg.Pool:
    """A pool whose connections resolve unqualified names in the service's schema.

    With `ssl_context` (`tls.database_ssl_context`) every connection requires
    TLS and checks the server's certificate and name; without, the URL decides.
    """
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        ssl=ssl_context,
        server_settings={
            "search_path": f"{schema},public",
            "application_name": f"portico-{schema}",
        },
    )
    if pool is None:  # pragma: no cover - asyncpg returns None only without awaiting
        raise RuntimeError("asyncpg returned no pool")
    return pool


class Database:
    """Opens transactions scoped to one tenant, as the role the pool connects with."""

    def __init__(self, pool: asyncpg.Pool, schema: str) -> None:
        self.pool = pool
        self.schema = schema

    @asynccontextmanager
    async def transaction(self, tenant_id: str) -> AsyncIterator[Connection]:
        """A transaction that can see only `tenant_id`'s rows (ALL_TENANTS: every row)."""
        if not tenant_id:
            raise ValueError("a transaction needs a tenant id (or ALL_TENANTS)")
        conn = await self.pool.acquire()
        begun = False
        try:
            async with conn.transaction():
                begun = True
                await conn.execute("SELECT set_config('app.tenant_id', $1, true)", tenant_id)
                yield conn
                # Inside an RPC called with an idempotency key, the key commits with the effect.
                claim = current_claim.get()
                if claim is not None:
                    await record_effect(conn, claim)
        except asyncpg.InternalClientError as exc:
            if begun:
                raise
            # BEGIN is the first thing this connection was asked since the pool handed
            # it out, so it was left mid-message ("another operation is in progress"):
            # the server went away under it while it idled. Nothing was run; the pool
            # opens a fresh connection in its place.
            conn.terminate()
            raise DependencyUnavailableError(POSTGRESQL) from exc
        finally:
            await self._release(conn)

    async def _release(self, conn: PoolConnectionProxy) -> None:
        try:
            await self.pool.release(conn)
        except Exception as exc:  # noqa: BLE001 - the pool has closed the connection already
            log.warning(
                "a connection could not be reset for reuse and was closed",
                extra={"error": f"{type(exc).__name__}: {exc}"},
            )

    async def close(self) -> None:
        await self.pool.close()
