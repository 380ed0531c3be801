"""The three tiers (pool, bridge, silo): routing, the isolation proof, the relay, the move.

The proof: a repository that forgets its tenant filter (no WHERE tenant_id
anywhere) reads, changes and deletes only the tenant's own rows, and cannot
write another tenant's, whichever tier the tenant and its neighbours are in.
"""

from __future__ import annotations

import asyncio
import importlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
from nats.js import JetStreamContext

from portico.events.v1 import events_pb2 as ev
from portico_common.clock import ManualClock
from portico_common.db import (
    ALL_TENANTS,
    POOL,
    Connection,
    Database,
    Place,
    Tier,
    database_url,
    open_database,
)
from portico_common.dbsetup import migrate_services
from portico_common.errors import DatabaseSetupError
from portico_common.events.catalog import STREAM
from portico_common.events.envelope import TENANT_HEADER
from portico_common.events.outbox import OutboxRelay
from portico_common.placement import (
    bridge_schema,
    move_to_bridge,
    place_tenant,
    silo_database,
)
from portico_common.retention import Retention, RetentionRule
from portico_common.uow import PgUnitOfWork
from portico_embedded.testing.databases import ServiceDatabaseUrl, migrator_url

pytestmark = pytest.mark.integration

SCHEMA = "kerneltest"
TENANTS = {
    "pool-a": Tier.POOL,
    "pool-b": Tier.POOL,
    "bridge-a": Tier.BRIDGE,
    "bridge-b": Tier.BRIDGE,
    "silo-a": Tier.SILO,
}


class UnfilteredNotes:
    """A repository with its tenant filter removed: every statement touches the whole table."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def bodies(self) -> list[tuple[str, str]]:
        rows = await self.conn.fetch("SELECT tenant_id, body FROM notes ORDER BY body")
        return [(r["tenant_id"], r["body"]) for r in rows]

    async def add(self, tenant_id: str, body: str) -> None:
        await self.conn.execute(
            "INSERT INTO notes (tenant_id, body) VALUES ($1, $2)", tenant_id, body
        )

    async def touch_all(self) -> str:
        return str(await self.conn.execute("UPDATE notes SET body = body || '!'"))

    async def delete_all(self) -> str:
        return str(await self.conn.execute("DELETE FROM notes"))


@dataclass
class Tiers:
    dsn: str
    admin_url: str
    migrator_url: str
    db: Database
    silos: list[str]


@pytest.fixture
async def tiers(
    database_url: str, service_database_url: ServiceDatabaseUrl, service_migrations: str
) -> AsyncIterator[Tiers]:
    """Five tenants: two in the pool, two in bridge schemas, one in a silo database."""
    dsn = await service_database_url(SCHEMA, service_migrations)
    migrator = migrator_url(database_url)
    for tenant, tier in TENANTS.items():
        if tier is not Tier.POOL:
            await place_tenant(database_url, migrator, tenant, tier, {SCHEMA: service_migrations})
    db = await open_database(dsn, SCHEMA, max_size=4)
    main = database_url.rpartition("/")[2]
    silos = [silo_database(main, t) for t, tier in TENANTS.items() if tier is Tier.SILO]
    try:
        yield Tiers(dsn, database_url, migrator, db, silos)
    finally:
        await db.close()
        admin = await asyncpg.connect(database_url)
        try:
            for silo in silos:
                await admin.execute(f'DROP DATABASE IF EXISTS "{silo}" WITH (FORCE)')
        finally:
            await admin.close()


async def _write_two_each(db: Database) -> None:
    for tenant in TENANTS:
        async with db.transaction(tenant) as conn:
            notes = UnfilteredNotes(conn)
            await notes.add(tenant, f"{tenant}/1")
            await notes.add(tenant, f"{tenant}/2")


async def test_a_repository_without_its_tenant_filter_stays_in_its_tenant_in_every_tier(
    tiers: Tiers,
) -> None:
    """Reads, updates and deletes with no WHERE at all see only the tenant's rows, in any tier;
    writing another tenant's row is refused; the neighbours' rows are untouched."""
    db = tiers.db
    await _write_two_each(db)
    for tenant in TENANTS:
        async with db.transaction(tenant) as conn:
            assert await UnfilteredNotes(conn).bodies() == [
                (tenant, f"{tenant}/1"),
                (tenant, f"{tenant}/2"),
            ], tenant
    for tenant in TENANTS:
        for other in TENANTS:
            if other == tenant:
                continue
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
                async with db.transaction(tenant) as conn:
                    await UnfilteredNotes(conn).add(other, "planted")
    async with db.transaction("bridge-a") as conn:
        assert await UnfilteredNotes(conn).touch_all() == "UPDATE 2"
    async with db.transaction("silo-a") as conn:
        assert await UnfilteredNotes(conn).delete_all() == "DELETE 2"
    async with db.transaction("pool-a") as conn:
        assert await UnfilteredNotes(conn).delete_all() == "DELETE 2"
    expected = {
        "pool-a": [],
        "pool-b": ["pool-b/1", "pool-b/2"],
        "bridge-a": ["bridge-a/1!", "bridge-a/2!"],
        "bridge-b": ["bridge-b/1", "bridge-b/2"],
        "silo-a": [],
    }
    for tenant, bodies in expected.items():
        async with db.transaction(tenant) as conn:
            assert [b for _, b in await UnfilteredNotes(conn).bodies()] == bodies, tenant


async def test_each_tier_keeps_its_rows_where_it_says(tiers: Tiers) -> None:
    """Pool rows in the shared table, a bridge tenant's in its schema, a silo's in its database."""
    await _write_two_each(tiers.db)
    admin = await asyncpg.connect(tiers.admin_url)
    try:
        shared = await admin.fetch(f"SELECT DISTINCT tenant_id FROM {SCHEMA}.notes")  # noqa: S608 - test names
        assert sorted(r["tenant_id"] for r in shared) == ["pool-a", "pool-b"]
        for tenant in ("bridge-a", "bridge-b"):
            schema = bridge_schema(SCHEMA, tenant)
            rows = await admin.fetch(f"SELECT DISTINCT tenant_id FROM {schema}.notes")  # noqa: S608 - test names
            assert [r["tenant_id"] for r in rows] == [tenant]
    finally:
        await admin.close()
    silo = await asyncpg.connect(database_url(tiers.admin_url, tiers.silos[0]))
    try:
        rows = await silo.fetch(f"SELECT DISTINCT tenant_id FROM {SCHEMA}.notes")  # noqa: S608 - test names
        assert [r["tenant_id"] for r in rows] == ["silo-a"]
    finally:
        await silo.close()


async def test_a_bridge_tenants_search_path_does_not_outlive_its_transaction(
    tiers: Tiers,
) -> None:
    """The next user of the same pooled connection is back on the service's schema."""
    single = await open_database(tiers.dsn, SCHEMA, max_size=1)
    try:
        async with single.transaction("bridge-a") as conn:
            assert await conn.fetchval("SELECT current_schema()") == bridge_schema(
                SCHEMA, "bridge-a"
            )
            backend = await conn.fetchval("SELECT pg_backend_pid()")
        async with single.pool.acquire() as conn:
            assert await conn.fetchval("SELECT pg_backend_pid()") == backend
            assert await conn.fetchval("SELECT current_schema()") == SCHEMA
            assert not await conn.fetchval("SELECT current_setting('app.tenant_id', true)")
        async with single.transaction("pool-a") as conn:
            assert await conn.fetchval("SELECT current_schema()") == SCHEMA
    finally:
        await single.close()


async def test_the_platform_sees_every_place(tiers: Tiers) -> None:
    """ALL_TENANTS covers the shared tables; `places` lists each bridge and silo besides."""
    await _write_two_each(tiers.db)
    places = await tiers.db.places()
    assert places[0] == POOL
    assert set(places[1:]) == {
        Place(Tier.BRIDGE, bridge_schema(SCHEMA, "bridge-a")),
        Place(Tier.BRIDGE, bridge_schema(SCHEMA, "bridge-b")),
        Place(Tier.SILO, tiers.silos[0]),
    }
    seen: list[str] = []
    for place in places:
        async with tiers.db.platform_transaction(place) as conn:
            seen += [r["tenant_id"] for r in await conn.fetch("SELECT tenant_id FROM notes")]
    assert sorted(set(seen)) == sorted(TENANTS)
    async with tiers.db.transaction(ALL_TENANTS) as conn:
        shared = {r["tenant_id"] for r in await conn.fetch("SELECT tenant_id FROM notes")}
    assert shared == {"pool-a", "pool-b"}


async def test_the_relay_publishes_events_written_in_every_tier(
    tiers: Tiers, js: JetStreamContext
) -> None:
    """An event committed by a pool, a bridge and a silo tenant each reaches the stream."""
    clock = ManualClock()
    for tenant in TENANTS:
        async with tiers.db.transaction(tenant) as conn:
            uow = PgUnitOfWork(conn, source="portico/kerneltest", tenant_id=tenant, clock=clock)
            await uow.emit(ev.TenantCreated(tenant_id=tenant, display_name=tenant))
    platform = tiers.db.platform
    assert platform is not None
    relay = OutboxRelay(platform, "", SCHEMA, js, db=tiers.db)
    assert await relay.relay_places() == len(TENANTS)
    assert await relay.relay_places() == 0
    info = await js.stream_info(STREAM)
    published = [
        await js.get_msg(STREAM, seq)
        for seq in range(info.state.first_seq, info.state.last_seq + 1)
    ]
    tenants = sorted(ev.TenantCreated.FromString(m.data or b"").tenant_id for m in published)
    assert tenants == sorted(TENANTS)


async def test_placing_is_idempotent_and_refuses_a_tenant_placed_elsewhere(tiers: Tiers) -> None:
    """Placing again changes nothing; a tenant placed in one tier is moved, not placed in another.

    (A pool tenant's rows move with it when placed: test_tenant_moves.)"""
    await _write_two_each(tiers.db)
    package = {SCHEMA: None}
    again = await place_tenant(
        tiers.admin_url, tiers.migrator_url, "bridge-a", Tier.BRIDGE, package
    )
    assert again == Place(Tier.BRIDGE, bridge_schema(SCHEMA, "bridge-a"))
    with pytest.raises(DatabaseSetupError, match="already in bridge"):
        await place_tenant(tiers.admin_url, tiers.migrator_url, "bridge-b", Tier.SILO, package)
    admin = await asyncpg.connect(tiers.admin_url)
    try:
        silo = silo_database(tiers.silos[0].partition("_t_")[0], "bridge-b")
        assert not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", silo)
    finally:
        await admin.close()
    with pytest.raises(DatabaseSetupError, match="already in silo"):
        await place_tenant(tiers.admin_url, tiers.migrator_url, "silo-a", Tier.BRIDGE, package)
    async with tiers.db.transaction("pool-a") as conn:
        assert await conn.fetchval("SELECT current_schema()") == SCHEMA


async def test_migrate_upgrades_every_bridge_schema_and_silo_database(
    tiers: Tiers, service_migrations: str
) -> None:
    """A service's new migration reaches its shared schema, each bridge and the silo in one run;
    a second run applies nothing; the tenants' transactions use the new column in their place."""
    # The service's next release: one more file in the package the places were migrated from.
    upgraded = service_migrations
    folder = Path(importlib.import_module(upgraded).__file__ or "").parent
    (folder / "0002_tags.sql").write_text(
        "ALTER TABLE notes ADD COLUMN tag text NOT NULL DEFAULT 'new';"
    )
    applied = await migrate_services(tiers.migrator_url, [SCHEMA], {SCHEMA: upgraded})
    places = {
        SCHEMA,
        *(f"{SCHEMA} in bridge {bridge_schema(SCHEMA, t)}" for t in ("bridge-a", "bridge-b")),
        f"{SCHEMA} in silo {tiers.silos[0]}",
    }
    assert applied == {key: ["service/0002_tags.sql"] for key in places}
    again = await migrate_services(tiers.migrator_url, [SCHEMA], {SCHEMA: upgraded})
    assert again == {key: [] for key in places}
    for tenant in TENANTS:
        async with tiers.db.transaction(tenant) as conn:
            await UnfilteredNotes(conn).add(tenant, "tagged")
            assert await conn.fetchval("SELECT tag FROM notes") == "new"


async def test_moving_a_pool_tenant_to_a_bridge_carries_its_rows_and_pending_events(
    tiers: Tiers, service_migrations: str
) -> None:
    """Rows, unpublished events and idempotency keys move; ids go on; the pool keeps nothing."""
    clock = ManualClock()
    async with tiers.db.transaction("pool-a") as conn:
        await UnfilteredNotes(conn).add("pool-a", "kept")
        await PgUnitOfWork(conn, source="s", tenant_id="pool-a", clock=clock).emit(
            ev.TenantCreated(tenant_id="pool-a", display_name="pending")
        )
        await conn.execute(
            """INSERT INTO idempotency_keys (tenant_id, key, method, request_hash, state)
               VALUES ('pool-a', 'k1', '/m', '\\x00', 'done')"""
        )
        before = await conn.fetchval("SELECT max(id) FROM notes")
    place, moved = await move_to_bridge(
        tiers.admin_url, tiers.migrator_url, "pool-a", SCHEMA, service_migrations
    )
    assert place == Place(Tier.BRIDGE, bridge_schema(SCHEMA, "pool-a"))
    assert (moved["notes"], moved["outbox"], moved["idempotency_keys"]) == (1, 1, 1)
    async with tiers.db.transaction("pool-a") as conn:
        assert await conn.fetchval("SELECT current_schema()") == place.location
        notes = UnfilteredNotes(conn)
        await notes.add("pool-a", "after")
        assert [b for _, b in await notes.bodies()] == ["after", "kept"]
        assert await conn.fetchval("SELECT max(id) FROM notes") > before
        headers = await conn.fetchval("SELECT headers FROM outbox WHERE published_at IS NULL")
        assert json.loads(headers)[TENANT_HEADER] == "pool-a"
        assert await conn.fetchval("SELECT key FROM idempotency_keys") == "k1"
    async with tiers.db.transaction(ALL_TENANTS) as conn:
        assert await conn.fetchval("SELECT count(*) FROM notes WHERE tenant_id = 'pool-a'") == 0
        assert await conn.fetchval("SELECT count(*) FROM outbox WHERE tenant_id = 'pool-a'") == 0
    again, nothing = await move_to_bridge(
        tiers.admin_url, tiers.migrator_url, "pool-a", SCHEMA, service_migrations
    )
    assert (again, nothing) == (place, {})


async def test_a_move_waits_for_the_tenants_running_transaction_and_carries_its_write(
    tiers: Tiers, service_migrations: str
) -> None:
    """A transaction open when the move starts commits into the pool first; the move then
    carries that row over, so nothing is written behind the move's back."""
    inside, release = asyncio.Event(), asyncio.Event()

    async def slow_writer() -> None:
        async with tiers.db.transaction("pool-b") as conn:
            await UnfilteredNotes(conn).add("pool-b", "late")
            inside.set()
            await release.wait()

    writer = asyncio.create_task(slow_writer())
    await inside.wait()
    move = asyncio.create_task(
        move_to_bridge(tiers.admin_url, tiers.migrator_url, "pool-b", SCHEMA, service_migrations)
    )
    # The bridge schema is made and migrated first; the move then waits on the writer's lock.
    admin = await asyncpg.connect(tiers.admin_url)
    try:
        while not await admin.fetchval(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        ):
            assert not move.done(), move
            await asyncio.sleep(0.02)
    finally:
        await admin.close()
    assert not move.done()
    release.set()
    await writer
    _, moved = await move
    assert moved["notes"] == 1
    async with tiers.db.transaction("pool-b") as conn:
        assert [b for _, b in await UnfilteredNotes(conn).bodies()] == ["late"]
        assert await conn.fetchval("SELECT current_schema()") == bridge_schema(SCHEMA, "pool-b")


async def test_retention_purges_in_every_place(tiers: Tiers) -> None:
    """The purge goes through the shared tables, each bridge schema and each silo database."""
    clock = ManualClock()
    for tenant in ("pool-a", "bridge-a", "silo-a"):
        async with tiers.db.transaction(tenant) as conn:
            uow = PgUnitOfWork(conn, source="portico/kerneltest", tenant_id=tenant, clock=clock)
            await uow.emit(ev.TenantCreated(tenant_id=tenant))
    for place in await tiers.db.places():
        async with tiers.db.platform_transaction(place) as conn:
            await conn.execute("UPDATE outbox SET published_at = now() - interval '2 days'")
    rule = RetentionRule("outbox", "published_at", 3600, only="published_at IS NOT NULL")
    assert await Retention(tiers.db, [rule]).purge_all() == {"outbox": 3}
    for place in await tiers.db.places():
        async with tiers.db.platform_transaction(place) as conn:
            assert await conn.fetchval("SELECT count(*) FROM outbox") == 0, place
