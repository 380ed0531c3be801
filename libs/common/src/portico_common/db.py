"""PostgreSQL access: the pool, and transactions scoped to one tenant.

Each service connects as its own login role, `portico_<schema>`: no
superuser, no BYPASSRLS, member of no other role and owner of nothing (the
migrator owns the schema and its tables). Row-level security therefore binds
every statement the service runs, with no role switch. Every transaction sets
`app.tenant_id` with `is_local => true`, so nothing leaks to the next user of
the connection; a transaction that forgets its tenant sees no tenant rows.

ALL_TENANTS ("*") is not the request role's to use: the policies open every
tenant's rows to it only for a member of `portico_platform`, which the
service's request role never is. A `Database` therefore holds two pools: the
request pool (`portico_<svc>`) for tenant transactions, and the platform pool
(`portico_<svc>_platform`) that every ALL_TENANTS transaction goes to.

A transaction's outcome is its COMMIT's: a connection that cannot be reset
when it goes back to the pool (PostgreSQL went away just after the commit) is
closed by the pool and logged, and does not turn a committed request into an
error its caller would retry.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from portico_common.idempotency_effects import current_claim, record_effect
from portico_common.tenants import ALL_TENANTS

log = logging.getLogger(__name__)

# What a transaction hands out: a pooled connection.
Connection = asyncpg.Connection | PoolConnectionProxy

# Owns every service schema and runs the migrations; no service connects as it.
MIGRATOR_ROLE = "portico_migrator"
# The group (NOLOGIN, no privileges of its own) whose members the policies let
# use ALL_TENANTS: the services' platform roles and the migrator, never a
# service's request role.
PLATFORM_GROUP = "portico_platform"
# The advisory lock provisioning and migrating both hold: run at once (replicas,
# tests), they would update the same catalog rows ("tuple concurrently updated").
SETUP_LOCK = "portico:migrate"

__all__ = [
    "ALL_TENANTS",
    "MIGRATOR_ROLE",
    "PLATFORM_GROUP",
    "SETUP_LOCK",
    "Connection",
    "Database",
    "create_pool",
    "open_database",
    "platform_role",
    "platform_url",
    "service_role",
]


def service_role(schema: str) -> str:
    """The login role a service whose schema is `schema` connects as."""
    return f"portico_{schema}"


def platform_role(schema: str) -> str:
    """The login role of a service's platform jobs (schedulers, the relay, ALL_TENANTS)."""
    return f"portico_{schema}_platform"


def platform_url(url: str, schema: str) -> str:
    """The request role's URL logging in as the platform role instead, same password.

    The default when no platform URL is configured: `provision` gives the
    platform role the request role's password unless told another.
    """
    parts = urlsplit(url)
    credentials, at, host = parts.netloc.rpartition("@")
    password = credentials.partition(":")[2] if at else ""
    secret = f":{password}" if password else ""
    netloc = f"{quote(platform_role(schema), safe='')}{secret}@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


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
    """Transactions scoped to one tenant (the request pool), or to all (the platform pool)."""

    def __init__(
        self, pool: asyncpg.Pool, schema: str, *, platform: asyncpg.Pool | None = None
    ) -> None:
        self.pool = pool
        self.schema = schema
        self.platform = platform

    def pool_for(self, tenant_id: str) -> asyncpg.Pool:
        """The pool whose role may run `tenant_id`'s transaction."""
        if tenant_id != ALL_TENANTS:
            return self.pool
        if self.platform is None:
            raise RuntimeError(
                "an ALL_TENANTS transaction needs the platform pool (its role is the only one"
                f" the policies open every tenant to): Database({self.schema!r}, platform=...)"
            )
        return self.platform

    @asynccontextmanager
    async def transaction(self, tenant_id: str) -> AsyncIterator[Connection]:
        """A transaction that can see only `tenant_id`'s rows (ALL_TENANTS: every row)."""
        if not tenant_id:
            raise ValueError("a transaction needs a tenant id (or ALL_TENANTS)")
        pool = self.pool_for(tenant_id)
        conn = await pool.acquire()
        try:
            async with conn.transaction():
                await conn.execute("SELECT set_config('app.tenant_id', $1, true)", tenant_id)
                yield conn
                # Inside an RPC called with an idempotency key, the key commits with the effect.
                claim = current_claim.get()
                if claim is not None:
                    await record_effect(conn, claim)
        finally:
            await _release(pool, conn)

    async def close(self) -> None:
        await self.pool.close()
        if self.platform is not None:
            await self.platform.close()


async def _release(pool: asyncpg.Pool, conn: PoolConnectionProxy) -> None:
    try:
        await pool.release(conn)
    except Exception as exc:  # noqa: BLE001 - the pool has closed the connection already
        log.warning(
            "a connection could not be reset for reuse and was closed",
            extra={"error": f"{type(exc).__name__}: {exc}"},
        )


async def open_database(
    dsn: str,
    schema: str,
    *,
    platform_dsn: str = "",
    min_size: int = 1,
    max_size: int = 10,
    platform_max_size: int = 4,
    ssl_context: ssl.SSLContext | None = None,
) -> Database:
    """The request pool at `dsn` and the platform pool (`platform_dsn`, else derived from `dsn`)."""
    pool = await create_pool(
        dsn, schema, min_size=min_size, max_size=max_size, ssl_context=ssl_context
    )
    try:
        platform = await create_pool(
            platform_dsn or platform_url(dsn, schema),
            schema,
            min_size=1,
            max_size=platform_max_size,
            ssl_context=ssl_context,
        )
    except BaseException:
        await pool.close()
        raise
    return Database(pool, schema, platform=platform)
