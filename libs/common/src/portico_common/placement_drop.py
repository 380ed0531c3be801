"""Dropping a deleted tenant's place: its bridge schemas or its silo database.

The tenant deletion saga empties the tenant's tables in every service, in
the tenant's place; the place itself (a schema per service, or a database)
and the services' `placements` rows naming it are the administrator's and
the migrator's to remove, never a service's. The placer does it once tenancy
says the tenant is `deleted` (`placer.drop_deleted`).

Every step is idempotent, so a placer that dies half way finishes on its
next pass, and the names are derived from the tenant (as placing derives
them), not read from rows a previous run may already have deleted. Both
kinds of place are looked for, whatever tier the tenant was created in: a
tenant moved between tiers (`placement.move_tenant`) may have either, and
a silo it left keeps its (empty) database until now.

Events the tenant's services wrote in its place and the outbox relay has not
sent yet would go with the place: while any is left, nothing is dropped and
the drop is tried again later. The relay finds a place through the
`placements` rows, so the check comes before any of them is deleted.

- bridge, per service, in one migrator transaction: the tenant's placement
  lock taken exclusively (its running transactions finish first, new ones
  wait), its placements row deleted, its schema dropped (CASCADE); both
  commit, or neither.
- silo: first each service's placements row in the main database (from
  then on the tenant's transactions go to the pool, where it has no rows),
  then the database: closed to new connections, and dropped with FORCE,
  which ends the connections the services' silo pools still hold.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Iterable

import asyncpg

from portico_common.db import Connection, database_url
from portico_common.errors import DatabaseSetupError
from portico_common.placement import bridge_schema, silo_database
from portico_common.tenants import require_tenant_id

__all__ = ["drop_place"]

# The names placing makes: lower-case identifiers, never quoted.
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


async def drop_place(
    admin_url: str,
    migrator_url: str,
    tenant_id: str,
    services: Iterable[str],
    *,
    ssl_context: ssl.SSLContext | None = None,
) -> list[str]:
    """Drops the tenant's bridge schemas, its silo database and its placements rows.

    Only for a tenant whose rows every service has deleted: the caller
    checks that (the placer: tenancy's state `deleted`). Returns the schemas
    and the database that were there and are dropped.
    """
    require_tenant_id(tenant_id)
    names = list(services)
    for service in names:
        _check_name(service)
    dropped: list[str] = []
    await _refuse_unsent_events_in_silo(admin_url, tenant_id, names, ssl_context)
    conn = await asyncpg.connect(migrator_url, ssl=ssl_context)
    try:
        for service in names:
            schema = bridge_schema(service, tenant_id)
            if await _unplace(conn, service, tenant_id, drop_schema=schema):
                dropped.append(schema)
    finally:
        await conn.close()
    silo = await _drop_silo(admin_url, tenant_id, ssl_context)
    return dropped if silo is None else [*dropped, silo]


async def _unplace(conn: Connection, service: str, tenant_id: str, *, drop_schema: str) -> bool:
    """Deletes the tenant's placements row and drops its schema; whether the schema was there."""
    async with conn.transaction():
        await conn.execute("SELECT set_config('app.tenant_id', '*', true)")
        # The key enter_tenant() takes shared (placement._lock): no transaction
        # of the tenant is inside its place while it goes.
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext($1))",
            f"portico:placement:{service}:{tenant_id}",
        )
        if await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", f"{service}.placements"):
            await conn.execute(
                f"DELETE FROM {service}.placements WHERE tenant_id = $1",  # noqa: S608 - checked name
                tenant_id,
            )
        _check_name(drop_schema)
        if not await conn.fetchval("SELECT to_regnamespace($1) IS NOT NULL", drop_schema):
            return False
        await _refuse_unsent_events(conn, drop_schema, f"bridge schema {drop_schema}")
        await conn.execute(f"DROP SCHEMA IF EXISTS {drop_schema} CASCADE")
        return True


async def _drop_silo(admin_url: str, tenant_id: str, tls: ssl.SSLContext | None) -> str | None:
    """Drops the tenant's silo database; its name, or None when there was none."""
    admin = await asyncpg.connect(admin_url, ssl=tls)
    try:
        # Named beside the main database, as placing names it.
        database = silo_database(await admin.fetchval("SELECT current_database()"), tenant_id)
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database):
            return None
        # No new connection from here on (a silo pool reopening one would make
        # the drop fail); FORCE ends the ones already open.
        await admin.execute(f"ALTER DATABASE {database} WITH ALLOW_CONNECTIONS false")
        await admin.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    finally:
        await admin.close()
    return database


async def _refuse_unsent_events_in_silo(
    admin_url: str, tenant_id: str, services: list[str], tls: ssl.SSLContext | None
) -> None:
    admin = await asyncpg.connect(admin_url, ssl=tls)
    try:
        database = silo_database(await admin.fetchval("SELECT current_database()"), tenant_id)
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database):
            return
    finally:
        await admin.close()
    silo = await asyncpg.connect(database_url(admin_url, database), ssl=tls)
    try:
        for service in services:
            await _refuse_unsent_events(silo, service, f"silo database {database}")
    finally:
        await silo.close()


async def _refuse_unsent_events(conn: Connection, schema: str, where: str) -> None:
    """DatabaseSetupError while `schema`'s outbox holds an event the relay has not sent."""
    if not await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", f"{schema}.outbox"):
        return
    async with conn.transaction():
        # The migrator is subject to the outbox's row-level security; the administrator not.
        await conn.execute("SELECT set_config('app.tenant_id', '*', true)")
        unsent = await conn.fetchval(
            f"SELECT count(*) FROM {schema}.outbox WHERE published_at IS NULL"  # noqa: S608 - checked name
        )
    if unsent:
        raise DatabaseSetupError(
            f"{where} still holds {unsent} event(s) the outbox relay has not sent:"
            " the place is dropped on a later pass, once they are"
        )


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise DatabaseSetupError(f"invalid schema or service name {name!r}")
