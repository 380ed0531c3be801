"""Placing a tenant in a bridge schema or a silo database, and moving it between tiers.

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
- a move, per service, between any two tiers (`move_tenant`; placing is a
  move out of the pool): the tenant's placement lock is held exclusively
  wherever its transactions take it (running ones finish first, new ones
  wait), its rows, unpublished outbox rows and idempotency keys are copied,
  the source rows deleted and the placement written. Between the pool and a
  bridge that is one transaction. With a silo on either side it commits in
  steps, ordered so that no two places serve the tenant after any of them,
  and running the move again after a crash finishes it (`_move`).

`python -m portico_common.dbsetup place` and `... move` run these.
"""

from __future__ import annotations

import hashlib
import re
import ssl
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass

import asyncpg

from portico_common.db import MIGRATOR_ROLE, POOL, Connection, Place, Tier, database_url
from portico_common.errors import DatabaseSetupError
from portico_common.migrate import migrate
from portico_common.provision import grant_connect
from portico_common.tenants import require_tenant_id

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
# Kernel tables that never move with a tenant.
_STAY = frozenset({"schema_migrations", "placements"})
# Rows per round trip when a move copies from one database to another.
_BATCH = 500


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
    """Gives a pool tenant its own schema (bridge) or database (silo) in each service.

    `services` maps each service to its migrations package. A tenant may have
    written to the shared tables between its creation and its placement: its
    rows move with it (`move_tenant`), nothing is left behind. Idempotent: a
    tenant already placed there is left as it is (a placement a crash cut
    short is finished); one placed elsewhere is refused (move it instead).
    """
    require_tenant_id(tenant_id)
    if tier is Tier.POOL:
        raise DatabaseSetupError("a tenant is in the pool until it is placed: nothing to do")
    if not services:
        raise DatabaseSetupError("no service to place the tenant in")
    for service in services:
        _check_name(service)
    await _refuse_placed_elsewhere(migrator_url, tenant_id, tier, services, ssl_context)
    places: list[Place] = []
    for service, package in services.items():
        goal = await _prepare(
            admin_url,
            migrator_url,
            tenant_id,
            service=service,
            package=package,
            tier=tier,
            tls=ssl_context,
        )
        place, _ = await _move(migrator_url, tenant_id, service, goal, ssl_context, placing=True)
        places.append(place)
    # A bridge is a schema per service: the first names it.
    return places[0]


async def _refuse_placed_elsewhere(
    migrator_url: str,
    tenant_id: str,
    tier: Tier,
    services: Mapping[str, str | None],
    tls: ssl.SSLContext | None,
) -> None:
    """Refuses before making anything; `_move` checks again under the tenant's lock."""
    conn = await asyncpg.connect(migrator_url, ssl=tls)
    try:
        main = await conn.fetchval("SELECT current_database()")
        for service in services:
            async with conn.transaction():
                await conn.execute("SELECT set_config('app.tenant_id', '*', true)")
                current = await _placement(conn, service, tenant_id)
            goal = (
                Place(Tier.BRIDGE, bridge_schema(service, tenant_id))
                if tier is Tier.BRIDGE
                else Place(Tier.SILO, silo_database(main, tenant_id))
            )
            if current.tier is not Tier.POOL and current != goal:
                raise DatabaseSetupError(
                    f"{service}: tenant {tenant_id!r} is already in {current.tier}"
                    f" {current.location!r}"
                )
    finally:
        await conn.close()


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


# Told the phase a move across databases has just committed, before its next:
# "source" (a silo left no longer names itself), "target" (a silo entered
# holds the copy), "main" (the placement). Raising there leaves the move as a
# crash would, for the next run to finish.
MoveHook = Callable[[str], Awaitable[None]]


async def move_tenant(  # noqa: PLR0917 - what moves, from where to where: all needed
    admin_url: str,
    migrator_url: str,
    tenant_id: str,
    service: str,
    package: str | None,
    target: Tier,
    *,
    ssl_context: ssl.SSLContext | None = None,
    on_commit: MoveHook | None = None,
) -> tuple[Place, dict[str, int]]:
    """Moves a tenant's rows of `service` to `target`, from whichever tier it is in.

    Returns its place and the rows moved per table (empty: it was there
    already). Every tenant table's rows, the unpublished outbox rows (in
    order) and the idempotency keys move; sequences go on after the copied
    ids; the source keeps nothing. Within the main database (pool, bridge)
    it is one transaction. Across databases (a silo either side) it commits
    in steps, each safe to stop after: running it again finishes the move.
    """
    require_tenant_id(tenant_id)
    _check_name(service)
    goal = await _prepare(
        admin_url,
        migrator_url,
        tenant_id,
        service=service,
        package=package,
        tier=target,
        tls=ssl_context,
    )
    return await _move(migrator_url, tenant_id, service, goal, ssl_context, hook=on_commit)


async def move_to_bridge(
    admin_url: str,
    migrator_url: str,
    tenant_id: str,
    service: str,
    package: str | None,
    *,
    ssl_context: ssl.SSLContext | None = None,
) -> tuple[Place, dict[str, int]]:
    """Moves a tenant's rows of `service` into its bridge schema; returns rows per table."""
    return await move_tenant(
        admin_url, migrator_url, tenant_id, service, package, Tier.BRIDGE, ssl_context=ssl_context
    )


async def _prepare(
    admin_url: str,
    migrator_url: str,
    tenant_id: str,
    *,
    service: str,
    package: str | None,
    tier: Tier,
    tls: ssl.SSLContext | None,
) -> Place:
    """Makes and migrates the tenant's schema or database for `service` (idempotent)."""
    if tier is Tier.POOL:
        return POOL
    if tier is Tier.BRIDGE:
        schema = bridge_schema(service, tenant_id)
        await _make_schemas(admin_url, [schema], tls)
        await _migrate(migrator_url, schema, package, service, tls)
        return Place(Tier.BRIDGE, schema)
    silo = silo_database(await _database_name(admin_url, tls), tenant_id)
    await _make_database(admin_url, silo, [service], tls)
    await _migrate(database_url(migrator_url, silo), service, package, service, tls)
    return Place(Tier.SILO, silo)


async def _move(
    migrator_url: str,
    tenant_id: str,
    service: str,
    goal: Place,
    tls: ssl.SSLContext | None,
    *,
    placing: bool = False,
    hook: MoveHook | None = None,
) -> tuple[Place, dict[str, int]]:
    """The move itself, under the tenant's placement lock held exclusively in the main database.

    The main database's placement row is the tenant's home: a tenant's
    transaction reads it first, unless its process remembers a silo, where
    the silo's own row must name the silo. So the main row changes in the
    transaction that deletes the rows the tenant leaves in the main database;
    a silo it goes to names itself only after that commit, and a silo it
    leaves stops naming itself before it: no stale silo pool serves the
    tenant, whatever step a crash stops at.
    """
    async with AsyncExitStack() as stack:
        main = await asyncpg.connect(migrator_url, ssl=tls)
        stack.push_async_callback(main.close)
        then: Callable[[], Awaitable[None]] | None = None
        undo: Callable[[], Awaitable[None]] | None = None
        tx = main.transaction()
        await tx.start()
        try:
            await _enter(main, service, tenant_id)
            current = await _placement(main, service, tenant_id)
            _check_goal(current, goal, placing=placing, service=service, tenant_id=tenant_id)
            link = _Link(stack, main, migrator_url, service, tenant_id, tls)
            if current == goal:
                await _finish(link, goal)
                moved: dict[str, int] = {}
            elif goal.tier is Tier.SILO:
                moved, then = await _into_silo(link, current, goal, hook)
            elif current.tier is Tier.SILO:
                moved, then, undo = await _out_of_silo(link, current, goal, hook)
            else:
                source, target = _schema(service, current), _schema(service, goal)
                await _hold_outbox(main, source, tenant_id)
                tables = await _tenant_tables(main, source, target)
                await _refuse_stranding(main, source, tables, tenant_id)
                moved = await _copy_rows(main, source, target, tables, tenant_id)
                await _delete_rows(main, source, tables, tenant_id)
            if current != goal:
                await _write_placement(main, service, tenant_id, goal)
        except BaseException:
            await tx.rollback()
            if undo is not None:
                await undo()
            raise
        # Not undone if the commit fails: it may have committed all the same.
        await tx.commit()
        if then is not None:
            if hook is not None:
                await hook("main")
            await then()
    return goal, moved


def _check_goal(
    current: Place, goal: Place, *, placing: bool, service: str, tenant_id: str
) -> None:
    """Placing takes a tenant out of the pool only; a silo is left for the pool or a bridge."""
    if current != goal and (
        (placing and current.tier is not Tier.POOL)
        or (current.tier is Tier.SILO and goal.tier is Tier.SILO)
    ):
        raise DatabaseSetupError(
            f"{service}: tenant {tenant_id!r} is already in {current.tier} {current.location!r}"
        )


@dataclass(frozen=True)
class _Link:
    """What a move across databases works with: the main database's open transaction."""

    stack: AsyncExitStack
    main: Connection
    migrator_url: str
    service: str
    tenant_id: str
    tls: ssl.SSLContext | None

    async def connect(self, database: str) -> Connection:
        conn = await asyncpg.connect(database_url(self.migrator_url, database), ssl=self.tls)
        self.stack.push_async_callback(conn.close)
        return conn


async def _into_silo(
    link: _Link, current: Place, goal: Place, hook: MoveHook | None
) -> tuple[dict[str, int], Callable[[], Awaitable[None]]]:
    """Copies the tenant into its silo and commits; the silo names itself after the main commit.

    Until the main database's placement commits, the silo is not the
    tenant's home: rows there are what an attempt cut short left, wiped first.
    """
    service, tenant_id = link.service, link.tenant_id
    source = _schema(service, current)
    silo = await link.connect(goal.location)
    await _hold_outbox(link.main, source, tenant_id)
    async with silo.transaction():
        await _enter(silo, service, tenant_id)
        await _delete_placement(silo, service, tenant_id)
        tables = await _tenant_tables(silo, service, service)
        await _delete_rows(silo, service, tables, tenant_id)
        moved = await _copy_across(link.main, source, silo, service, tenant_id)
    if hook is not None:
        await hook("target")
    await _delete_rows(
        link.main, source, await _tenant_tables(link.main, source, source), tenant_id
    )
    # Taken now, committed right after the main database: the tenant's
    # transactions that reach the silo meanwhile wait, then find it home.
    named = silo.transaction()
    await named.start()
    await _enter(silo, service, tenant_id)
    await _write_placement(silo, service, tenant_id, goal)
    return moved, named.commit


async def _out_of_silo(
    link: _Link, current: Place, goal: Place, hook: MoveHook | None
) -> tuple[dict[str, int], Callable[[], Awaitable[None]], Callable[[], Awaitable[None]]]:
    """Copies the tenant out of its silo into the main database's open transaction.

    The silo stops naming itself first (its own commit): a process that
    remembers the silo goes back to the main database, which waits on the
    move. Its rows there are deleted after the main commit, under the silo's
    lock and the outbox rows held since the copy (the relay of the silo
    cannot publish them twice meanwhile). Returns the rows moved, what to
    run after the main commit, and what to run if the main database does not
    commit (the silo names itself again: it is still the tenant's home).
    """
    service, tenant_id = link.service, link.tenant_id
    target = _schema(service, goal)
    silo = await link.connect(current.location)
    async with silo.transaction():
        await _enter(silo, service, tenant_id)
        await _delete_placement(silo, service, tenant_id)
    if hook is not None:
        await hook("source")
    held = silo.transaction()
    await held.start()

    async def undo() -> None:
        # A crash instead leaves the tenant unavailable, not split, until
        # the move runs again.
        await held.rollback()
        async with silo.transaction():
            await _enter(silo, service, tenant_id)
            await _write_placement(silo, service, tenant_id, current)

    async def clean() -> None:
        await _delete_rows(silo, service, await _tenant_tables(silo, service, service), tenant_id)
        await held.commit()

    try:
        await _enter(silo, service, tenant_id)
        await _hold_outbox(silo, service, tenant_id)
        moved = await _copy_across(silo, service, link.main, target, tenant_id)
    except BaseException:
        await undo()
        raise
    return moved, clean, undo


async def _finish(link: _Link, goal: Place) -> None:
    """The tenant is at `goal` already: finishes what a move cut short after its main commit.

    A silo goal must name itself; a silo the tenant left must hold none of
    its rows (it is not the tenant's home: the main database says so).
    """
    service, tenant_id = link.service, link.tenant_id
    if goal.tier is Tier.SILO:
        silo = await link.connect(goal.location)
        async with silo.transaction():
            await _enter(silo, service, tenant_id)
            if await _placement(silo, service, tenant_id) != goal:
                await _write_placement(silo, service, tenant_id, goal)
        return
    left = silo_database(await link.main.fetchval("SELECT current_database()"), tenant_id)
    if not await link.main.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", left):
        return
    silo = await link.connect(left)
    async with silo.transaction():
        await _enter(silo, service, tenant_id)
        if not await silo.fetchval("SELECT to_regclass($1) IS NOT NULL", f"{service}.placements"):
            return
        await _delete_placement(silo, service, tenant_id)
        await _delete_rows(silo, service, await _tenant_tables(silo, service, service), tenant_id)


def _schema(service: str, place: Place) -> str:
    """The schema holding the tenant's rows of `service` in its place's database."""
    return place.location if place.tier is Tier.BRIDGE else service


async def _enter(conn: Connection, service: str, tenant_id: str) -> None:
    await conn.execute("SELECT set_config('app.tenant_id', '*', true)")
    await _lock(conn, service, tenant_id)


async def _hold_outbox(conn: Connection, schema: str, tenant_id: str) -> None:
    # The relay may hold some of the tenant's outbox rows: wait for it, and
    # keep it off them until the move commits (it skips locked rows).
    await conn.execute(
        f"SELECT 1 FROM {schema}.outbox WHERE tenant_id = $1 FOR UPDATE",  # noqa: S608 - checked names
        tenant_id,
    )


async def _copy_rows(
    conn: Connection, source: str, target: str, tables: list[str], tenant_id: str
) -> dict[str, int]:
    """Copies the tenant's rows between two schemas of one database."""
    moved: dict[str, int] = {}
    for table in tables:
        columns = await _columns(conn, target, table)
        if table == "outbox":
            columns = [c for c in columns if c != "seq"]
        listed = ", ".join(f'"{c}"' for c in columns)
        try:
            status = await conn.execute(
                f"INSERT INTO {target}.{table} ({listed}) OVERRIDING SYSTEM VALUE"  # noqa: S608 - catalog names
                f" SELECT {listed} FROM {source}.{table} WHERE tenant_id = $1{_only(table)}",
                tenant_id,
            )
        except asyncpg.UniqueViolationError as exc:
            raise _collision(target, table, exc) from exc
        moved[table] = int(status.rsplit(" ", 1)[1])
        await _sync_sequences(conn, target, table)
    return moved


async def _copy_across(
    source: Connection, source_schema: str, target: Connection, target_schema: str, tenant_id: str
) -> dict[str, int]:
    """Copies the tenant's rows from one database to another, in batches.

    Inserts, not COPY: PostgreSQL refuses COPY FROM into a table under
    row-level security, which every tenant table is (FORCE'd, for the owner too).
    """
    names = set(await _tenant_tables(source, source_schema, source_schema))
    tables = [t for t in await _tenant_tables(target, target_schema, target_schema) if t in names]
    await _refuse_stranding(source, source_schema, tables, tenant_id)
    moved: dict[str, int] = {}
    for table in tables:
        have = set(await _columns(source, source_schema, table))
        columns = [c for c in await _columns(target, target_schema, table) if c in have]
        if table == "outbox":
            columns = [c for c in columns if c != "seq"]
        listed = ", ".join(f'"{c}"' for c in columns)
        values = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
        insert = (
            f"INSERT INTO {target_schema}.{table} ({listed}) OVERRIDING SYSTEM VALUE"  # noqa: S608 - catalog names
            f" VALUES ({values})"
        )
        batch: list[tuple[object, ...]] = []
        count = 0
        async for row in source.cursor(
            f"SELECT {listed} FROM {source_schema}.{table} WHERE tenant_id = $1{_only(table)}",  # noqa: S608 - catalog names
            tenant_id,
            prefetch=_BATCH,
        ):
            batch.append(tuple(row))
            if len(batch) == _BATCH:
                await _insert(target, insert, batch, target_schema, table)
                count, batch = count + len(batch), []
        if batch:
            await _insert(target, insert, batch, target_schema, table)
            count += len(batch)
        moved[table] = count
        await _sync_sequences(target, target_schema, table)
    return moved


async def _insert(
    conn: Connection, insert: str, batch: list[tuple[object, ...]], schema: str, table: str
) -> None:
    try:
        await conn.executemany(insert, batch)
    except asyncpg.UniqueViolationError as exc:
        raise _collision(schema, table, exc) from exc


def _collision(schema: str, table: str, exc: asyncpg.UniqueViolationError) -> DatabaseSetupError:
    # Keys a sequence handed out in one place (a bridge's, a silo's) can be
    # taken in another (the shared tables'): the move stops, nothing changed.
    return DatabaseSetupError(
        f"{schema}.{table} already holds a row with the same key as one of the tenant's"
        f" ({exc.constraint_name}): nothing was moved"
    )


async def _refuse_stranding(
    conn: Connection, schema: str, tables: list[str], tenant_id: str
) -> None:
    """Refuses a move that would leave the tenant rows in a table its new place lacks."""
    for table in await _tenant_tables(conn, schema, schema):
        if table not in tables and await conn.fetchval(
            f"SELECT 1 FROM {schema}.{table} WHERE tenant_id = $1 LIMIT 1",  # noqa: S608 - catalog names
            tenant_id,
        ):
            raise DatabaseSetupError(
                f"the tenant has rows in {schema}.{table}, a table its new place lacks:"
                " migrate the service there first"
            )


def _only(table: str) -> str:
    # Published events stay behind (deleted with the rest); the others keep their order.
    return " AND published_at IS NULL ORDER BY seq" if table == "outbox" else ""


async def _delete_rows(conn: Connection, schema: str, tables: list[str], tenant_id: str) -> None:
    for table in reversed(tables):
        await conn.execute(
            f"DELETE FROM {schema}.{table} WHERE tenant_id = $1",  # noqa: S608 - catalog names
            tenant_id,
        )


async def _tenant_tables(conn: Connection, source: str, target: str) -> list[str]:
    """The tables with a tenant_id in both schemas, each after the tables it references.

    A partition is reached through its parent: listed too, its rows would move twice.
    """
    rows = await conn.fetch(
        """SELECT c.relname FROM pg_class c
             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id'
            WHERE c.relnamespace = $1::text::regnamespace AND c.relkind IN ('r', 'p')
              AND NOT c.relispartition
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
    """Serial and identity columns go on after the highest value copied in, never back."""
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
            "SELECT setval($1::regclass, greatest(max(x.v),"  # noqa: S608 - catalog names
            " pg_sequence_last_value($1::regclass), 1))"
            f' FROM (SELECT "{row["attname"]}" AS v FROM {schema}.{table}) x',
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


async def _delete_placement(conn: Connection, service: str, tenant_id: str) -> None:
    await conn.execute(
        f"DELETE FROM {service}.placements WHERE tenant_id = $1",  # noqa: S608 - checked name
        tenant_id,
    )


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
