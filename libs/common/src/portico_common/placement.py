"""Placing a tenant in a bridge schema or a silo database, and moving it there from the pool.

Privileged steps, never a service's: the administrator makes the schema or
the database (as `provision` makes the services' schemas), the migrator
migrates it with the service's files and writes the tenant's row in the
service's `placements` table, which is what every transaction of the tenant
reads (`enter_tenant`). Until that row commits the tenant is in the pool;
from the commit on, every new transaction of the tenant goes to its place.

- bridge: schema `<service>_t_<hash>` in the service's database, migrated
  like the service's own schema (the same policies too: defence in depth).
- silo: database `<database>_t_<hash>` holding every placed service's
  schema under its usual name, CONNECT for the Portico roles only; its own
  `placements` row names itself, so a silo pool checks it is the tenant's home.
- move from the pool to a bridge: one migrator transaction takes the
  tenant's placement lock exclusively (running transactions of the tenant
  finish first, new ones wait), copies every tenant table's rows and the
  unpublished outbox rows into the bridge schema, deletes them from the
  shared tables, and writes the placement: all of it commits, or none.

`python -m portico_common.dbsetup place` and `... move` run these.
"""

from __future__ import annotations

import hashlib
import re
import ssl
from collections.abc import Mapping

import asyncpg

from portico_common.db import MIGRATOR_ROLE, Connection, Place, Tier, database_url
from portico_common.errors import DatabaseSetupError
from portico_common.migrate import migrate
from portico_common.provision import grant_connect
from portico_common.tenants import require_tenant_id

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
# Kernel tables that never move with a tenant.
_STAY = frozenset({"schema_migrations", "placements"})


def _suffix(tenant_id: str) -> str:
    # A hash, not the id: fixed length, and no tenant name in the catalog.
    return hashlib.sha256(tenant_id.encode()).hexdigest()[:12]


def bridge_schema(service: str, tenant_id: str) -> str:
    """The tenant's schema in `service`'s database."""
    return f"{service}_t_{_suffix(tenant_id)}"


def silo_database(database: str, tenant_id: str) -> str:
    """The tenant's database beside `database`."""
    name = f"{database}_t_{_suffix(tenant_id)}"
    if not _NAME.match(name):
        raise DatabaseSetupError(f"cannot name a silo database after {database!r}: {name!r}")
    return name


async def place_tenant(
    admin_url: str,
    migrator_url: str,
    tenant_id: str,
    tier: Tier,
    services: Mapping[str, str | None],
    *,
    ssl_context: ssl.SSLContext | None = None,
) -> Place:
    """Gives a tenant with no rows yet its own schema (bridge) or database (silo) in each service.

    `services` maps each service to its migrations package. Idempotent: a
    tenant already placed there is left as it is; one placed elsewhere, or
    with rows in the shared tables (move it instead), is refused.
    """
    require_tenant_id(tenant_id)
    if tier is Tier.POOL:
        raise DatabaseSetupError("a tenant is in the pool until it is placed: nothing to do")
    for service in services:
        _check_name(service)
    if tier is Tier.BRIDGE:
        for service, package in services.items():
            schema = bridge_schema(service, tenant_id)
            await _make_schemas(admin_url, [schema], ssl_context)
            await _migrate(migrator_url, schema, package, service, ssl_context)
            await _settle(migrator_url, service, tenant_id, Place(Tier.BRIDGE, schema), ssl_context)
        return Place(Tier.BRIDGE, bridge_schema(next(iter(services)), tenant_id))
    main = await _database_name(admin_url, ssl_context)
    silo = silo_database(main, tenant_id)
    place = Place(Tier.SILO, silo)
    await _make_database(admin_url, silo, list(services), ssl_context)
    silo_migrator = database_url(migrator_url, silo)
    for service, package in services.items():
        await _migrate(silo_migrator, service, package, service, ssl_context)
        # The silo's own row first: its pool then knows it is the tenant's home.
        await _settle(silo_migrator, service, tenant_id, place, ssl_context, check_pool=False)
        await _settle(migrator_url, service, tenant_id, place, ssl_context)
    return place


async def placed(conn: Connection, service: str) -> list[Place]:
    """Every bridge schema and silo database `service`'s placements name (as the migrator)."""
    _check_name(service)
    async with conn.transaction():
        await conn.execute("SELECT set_config('app.tenant_id', '*', true)")
        if not await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", f"{service}.placements"):
            return []
        rows = await conn.fetch(
            f"SELECT DISTINCT tier, location FROM {service}.placements"  # noqa: S608 - checked name
            " WHERE tier <> 'pool' ORDER BY tier, location"
        )
    return [Place(Tier(r["tier"]), r["location"]) for r in rows]


async def migrate_places(
    conn: Connection,
    migrator_url: str,
    service: str,
    package: str | None,
    *,
    ssl_context: ssl.SSLContext | None = None,
) -> dict[Place, list[str]]:
    """Applies `service`'s pending migrations to each of its bridge schemas and silo databases.

    `conn` is the migrator's on the main database; a silo is reached with the
    migrator's URL on that database. Returns what was applied, per place.
    """
    applied: dict[Place, list[str]] = {}
    for place in await placed(conn, service):
        if place.tier is Tier.BRIDGE:
            _check_name(place.location)
            applied[place] = await migrate(conn, place.location, package, service=service)
        else:
            url = database_url(migrator_url, place.location)
            silo = await asyncpg.connect(url, ssl=ssl_context)
            try:
                applied[place] = await migrate(silo, service, package, service=service)
            finally:
                await silo.close()
    return applied


async def move_to_bridge(
    admin_url: str,
    migrator_url: str,
    tenant_id: str,
    service: str,
    package: str | None,
    *,
    ssl_context: ssl.SSLContext | None = None,
) -> tuple[Place, dict[str, int]]:
    """Moves a pool tenant's rows of `service` into its bridge schema; returns rows per table."""
    require_tenant_id(tenant_id)
    _check_name(service)
    schema = bridge_schema(service, tenant_id)
    await _make_schemas(admin_url, [schema], ssl_context)
    await _migrate(migrator_url, schema, package, service, ssl_context)
    conn = await asyncpg.connect(migrator_url, ssl=ssl_context)
    try:
        async with conn.transaction():
            await conn.execute("SELECT set_config('app.tenant_id', '*', true)")
            await _lock(conn, service, tenant_id)
            current = await _placement(conn, service, tenant_id)
            if current.tier is Tier.BRIDGE and current.location == schema:
                return current, {}
            if current.tier is not Tier.POOL:
                raise DatabaseSetupError(
                    f"{service}: tenant {tenant_id!r} is in {current.tier} {current.location!r},"
                    " not the pool: only a pool tenant moves to a bridge"
                )
            moved = await _copy_rows(conn, service, schema, tenant_id)
            await _write_placement(conn, service, tenant_id, Place(Tier.BRIDGE, schema))
    finally:
        await conn.close()
    return Place(Tier.BRIDGE, schema), moved


async def _copy_rows(conn: Connection, source: str, target: str, tenant_id: str) -> dict[str, int]:
    tables = await _tenant_tables(conn, source, target)
    moved: dict[str, int] = {}
    # The relay may hold some of the tenant's outbox rows: wait for it, then
    # carry over only what it has not published, in the order it was written.
    await conn.execute(
        f"SELECT 1 FROM {source}.outbox WHERE tenant_id = $1 FOR UPDATE",  # noqa: S608 - checked names
        tenant_id,
    )
    for table in tables:
        columns = await _columns(conn, target, table)
        if table == "outbox":
            columns = [c for c in columns if c != "seq"]
        listed = ", ".join(f'"{c}"' for c in columns)
        only = " AND published_at IS NULL ORDER BY seq" if table == "outbox" else ""
        status = await conn.execute(
            f"INSERT INTO {target}.{table} ({listed}) OVERRIDING SYSTEM VALUE"  # noqa: S608 - catalog names
            f" SELECT {listed} FROM {source}.{table} WHERE tenant_id = $1{only}",
            tenant_id,
        )
        moved[table] = int(status.rsplit(" ", 1)[1])
        await _sync_sequences(conn, target, table)
    for table in reversed(tables):
        await conn.execute(
            f"DELETE FROM {source}.{table} WHERE tenant_id = $1",  # noqa: S608 - catalog names
            tenant_id,
        )
    return moved


async def _tenant_tables(conn: Connection, source: str, target: str) -> list[str]:
    """The tables with a tenant_id in both schemas, each after the tables it references."""
    rows = await conn.fetch(
        """SELECT c.relname FROM pg_class c
             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id'
            WHERE c.relnamespace = $1::text::regnamespace AND c.relkind IN ('r', 'p')
              AND EXISTS (SELECT 1 FROM pg_class s
                            JOIN pg_attribute b ON b.attrelid = s.oid AND b.attname = 'tenant_id'
                           WHERE s.relnamespace = $2::text::regnamespace
                             AND s.relname = c.relname)""",
        target,
        source,
    )
    names = sorted(r["relname"] for r in rows if r["relname"] not in _STAY)
    edges = await conn.fetch(
        """SELECT c.relname AS child, p.relname AS parent FROM pg_constraint k
             JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class p ON p.oid = k.confrelid
            WHERE k.contype = 'f' AND c.relnamespace = $1::text::regnamespace""",
        target,
    )
    parents: dict[str, set[str]] = {name: set() for name in names}
    for edge in edges:
        if (
            edge["child"] in parents
            and edge["parent"] in parents
            and edge["child"] != edge["parent"]
        ):
            parents[edge["child"]].add(edge["parent"])
    ordered: list[str] = []
    while parents:
        ready = sorted(n for n, ps in parents.items() if not ps - set(ordered))
        if not ready:
            raise DatabaseSetupError(f"{target}: tables reference each other in a cycle")
        ordered += ready
        for name in ready:
            del parents[name]
    return ordered


async def _columns(conn: Connection, schema: str, table: str) -> list[str]:
    rows = await conn.fetch(
        """SELECT a.attname FROM pg_attribute a
            WHERE a.attrelid = format('%I.%I', $1::text, $2::text)::regclass
              AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
            ORDER BY a.attnum""",
        schema,
        table,
    )
    return [r["attname"] for r in rows]


async def _sync_sequences(conn: Connection, schema: str, table: str) -> None:
    """Serial and identity columns go on after the highest value copied in."""
    rows = await conn.fetch(
        """SELECT a.attname, pg_get_serial_sequence(format('%I.%I', $1::text, $2::text),
                                                     a.attname) AS seq
             FROM pg_attribute a
            WHERE a.attrelid = format('%I.%I', $1::text, $2::text)::regclass
              AND a.attnum > 0 AND NOT a.attisdropped""",
        schema,
        table,
    )
    for row in rows:
        if row["seq"] is None:
            continue
        await conn.execute(
            f'SELECT setval($1::regclass, greatest(max("{row["attname"]}"), 1))'  # noqa: S608 - catalog names
            f" FROM {schema}.{table}",
            row["seq"],
        )


async def _make_schemas(admin_url: str, schemas: list[str], tls: ssl.SSLContext | None) -> None:
    admin = await asyncpg.connect(admin_url, ssl=tls)
    try:
        for schema in schemas:
            _check_name(schema)
            await admin.execute(
                f"CREATE SCHEMA IF NOT EXISTS {schema} AUTHORIZATION {MIGRATOR_ROLE}"
            )
    finally:
        await admin.close()


async def _make_database(
    admin_url: str, database: str, services: list[str], tls: ssl.SSLContext | None
) -> None:
    admin = await asyncpg.connect(admin_url, ssl=tls)
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database):
            await admin.execute(f"CREATE DATABASE {database}")
    finally:
        await admin.close()
    admin = await asyncpg.connect(database_url(admin_url, database), ssl=tls)
    try:
        await grant_connect(admin, services)
        for service in services:
            await admin.execute(
                f"CREATE SCHEMA IF NOT EXISTS {service} AUTHORIZATION {MIGRATOR_ROLE}"
            )
    finally:
        await admin.close()


async def _migrate(
    migrator_url: str,
    schema: str,
    package: str | None,
    service: str,
    tls: ssl.SSLContext | None,
) -> None:
    conn = await asyncpg.connect(migrator_url, ssl=tls)
    try:
        await migrate(conn, schema, package, service=service)
    finally:
        await conn.close()


async def _settle(
    migrator_url: str,
    service: str,
    tenant_id: str,
    place: Place,
    tls: ssl.SSLContext | None,
    *,
    check_pool: bool = True,
) -> None:
    """Writes the tenant's placement in `service`'s schema, refusing to strand rows."""
    conn = await asyncpg.connect(migrator_url, ssl=tls)
    try:
        async with conn.transaction():
            await conn.execute("SELECT set_config('app.tenant_id', '*', true)")
            await _lock(conn, service, tenant_id)
            current = await _placement(conn, service, tenant_id)
            if current == place:
                return
            if current.tier is not Tier.POOL:
                raise DatabaseSetupError(
                    f"{service}: tenant {tenant_id!r} is already in {current.tier}"
                    f" {current.location!r}"
                )
            if check_pool:
                await _refuse_pool_rows(conn, service, tenant_id)
            await _write_placement(conn, service, tenant_id, place)
    finally:
        await conn.close()


async def _refuse_pool_rows(conn: Connection, service: str, tenant_id: str) -> None:
    tables = await conn.fetch(
        """SELECT c.relname FROM pg_class c
             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id'
            WHERE c.relnamespace = $1::text::regnamespace AND c.relkind IN ('r', 'p')""",
        service,
    )
    for row in tables:
        table = row["relname"]
        if table in _STAY:
            continue
        if await conn.fetchval(
            f"SELECT 1 FROM {service}.{table} WHERE tenant_id = $1 LIMIT 1",  # noqa: S608 - catalog names
            tenant_id,
        ):
            raise DatabaseSetupError(
                f"{service}: tenant {tenant_id!r} already has rows in the shared table {table}:"
                " move it (`dbsetup move`) instead of placing it"
            )


async def _lock(conn: Connection, service: str, tenant_id: str) -> None:
    # The key enter_tenant() takes shared: the tenant's transactions in this schema.
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtext($1))",
        f"portico:placement:{service}:{tenant_id}",
    )


async def _placement(conn: Connection, service: str, tenant_id: str) -> Place:
    row = await conn.fetchrow(
        f"SELECT tier, location FROM {service}.placements WHERE tenant_id = $1",  # noqa: S608 - checked name
        tenant_id,
    )
    return Place() if row is None else Place(Tier(row["tier"]), row["location"])


async def _write_placement(conn: Connection, service: str, tenant_id: str, place: Place) -> None:
    await conn.execute(
        f"""INSERT INTO {service}.placements (tenant_id, tier, location) VALUES ($1, $2, $3)
            ON CONFLICT (tenant_id) DO UPDATE
               SET tier = EXCLUDED.tier, location = EXCLUDED.location, placed_at = now()""",  # noqa: S608 - checked name
        tenant_id,
        str(place.tier),
        place.location,
    )


async def _database_name(admin_url: str, tls: ssl.SSLContext | None) -> str:
    admin = await asyncpg.connect(admin_url, ssl=tls)
    try:
        name: str = await admin.fetchval("SELECT current_database()")
    finally:
        await admin.close()
    return name


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise DatabaseSetupError(f"invalid schema or service name {name!r}")
