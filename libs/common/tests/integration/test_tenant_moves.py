"""Moving a tenant between any two tiers: nothing lost, nothing twice, whatever step stops it.

Each move carries the tenant's rows, its unpublished events in their order
and its idempotency keys; the tenant's next transaction, through the
service's own `Database`, reads them in the new place; no other place keeps
any. A move across databases interrupted after a commit, then run again,
ends with exactly one copy; a process that remembers the silo the tenant
left follows it instead of serving from the silo.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import pytest
from nats.js import JetStreamContext

from portico.events.v1 import events_pb2 as ev
from portico_common.clock import ManualClock
from portico_common.db import (
    Connection,
    Database,
    Place,
    PlacementError,
    Tier,
    database_url,
    open_database,
)
from portico_common.errors import DatabaseSetupError
from portico_common.events.catalog import STREAM
from portico_common.events.outbox import OutboxRelay
from portico_common.placement import (
    MoveHook,
    bridge_schema,
    move_tenant,
    place_tenant,
    silo_database,
)
from portico_common.uow import PgUnitOfWork
from portico_embedded.testing.databases import ServiceDatabaseUrl, migrator_url

pytestmark = pytest.mark.integration

SCHEMA = "kerneltest"
NEIGHBOUR = "neighbour"


@dataclass
class Moves:
    """The test's database, ready for SCHEMA's role, and a way to move its tenants."""

    dsn: str
    admin_url: str
    migrator_url: str
    package: str
    db: Database
    main: str

    async def move(
        self, tenant: str, target: Tier, on_commit: MoveHook | None = None
    ) -> tuple[Place, dict[str, int]]:
        return await move_tenant(
            self.admin_url,
            self.migrator_url,
            tenant,
            SCHEMA,
            self.package,
            target,
            on_commit=on_commit,
        )

    def place(self, tenant: str, tier: Tier) -> Place:
        if tier is Tier.POOL:
            return Place()
        if tier is Tier.BRIDGE:
            return Place(Tier.BRIDGE, bridge_schema(SCHEMA, tenant))
        return Place(Tier.SILO, silo_database(self.main, tenant))


@pytest.fixture
async def moves(
    database_url: str, service_database_url: ServiceDatabaseUrl, service_migrations: str
) -> AsyncIterator[Moves]:
    dsn = await service_database_url(SCHEMA, service_migrations)
    db = await open_database(dsn, SCHEMA, max_size=4)
    main = database_url.rpartition("/")[2]
    try:
        yield Moves(dsn, database_url, migrator_url(database_url), service_migrations, db, main)
    finally:
        await db.close()
        admin = await asyncpg.connect(database_url)
        try:
            silos = await admin.fetch(
                "SELECT datname FROM pg_database WHERE datname LIKE $1", f"{main}_t_%"
            )
            for row in silos:
                await admin.execute(f'DROP DATABASE IF EXISTS "{row["datname"]}" WITH (FORCE)')
        finally:
            await admin.close()


@dataclass(frozen=True)
class Seen:
    """What a tenant's own transaction reads: where it is and what it holds."""

    where: tuple[str, str]  # current_database(), current_schema()
    notes: list[tuple[int, str, str]]
    pending: list[uuid.UUID]  # unpublished events, in outbox order
    published: int
    keys: list[str]
    effects: list[str]


async def _seen(db: Database, tenant: str) -> Seen:
    async with db.transaction(tenant) as conn:
        where = await conn.fetchrow("SELECT current_database() AS d, current_schema() AS s")
        assert where is not None
        # No tenant filter: row-level security and the place alone keep neighbours out.
        notes = await conn.fetch("SELECT id, tenant_id, body FROM notes ORDER BY id")
        # The outbox is the relay's, not under row-level security: filtered here.
        pending = await conn.fetch(
            "SELECT event_id FROM outbox WHERE tenant_id = $1 AND published_at IS NULL"
            " ORDER BY seq",
            tenant,
        )
        published = await conn.fetchval(
            "SELECT count(*) FROM outbox WHERE tenant_id = $1 AND published_at IS NOT NULL",
            tenant,
        )
        keys = await conn.fetch("SELECT tenant_id, key FROM idempotency_keys ORDER BY key")
        effects = await conn.fetch("SELECT tenant_id, note FROM effects ORDER BY note")
    assert {r["tenant_id"] for r in [*notes, *keys, *effects]} <= {tenant}
    return Seen(
        (where["d"], where["s"]),
        [(r["id"], r["tenant_id"], r["body"]) for r in notes],
        [r["event_id"] for r in pending],
        published,
        [r["key"] for r in keys],
        [r["note"] for r in effects],
    )


async def _write(db: Database, tenant: str, label: str, *, events: int = 3) -> None:
    clock = ManualClock()
    async with db.transaction(tenant) as conn:
        for n in (1, 2):
            await conn.execute(
                "INSERT INTO notes (tenant_id, body) VALUES ($1, $2)", tenant, f"{label}/{n}"
            )
        uow = PgUnitOfWork(conn, source="portico/kerneltest", tenant_id=tenant, clock=clock)
        for n in range(events):
            await uow.emit(ev.TenantCreated(tenant_id=tenant, display_name=f"{label}/{n}"))
        await conn.execute(
            """INSERT INTO idempotency_keys (tenant_id, key, method, request_hash, state)
               VALUES ($1, $2, '/m', '\\x00', 'done')""",
            tenant,
            f"{label}-key",
        )
        await conn.execute(
            "INSERT INTO effects (tenant_id, event_id, note) VALUES ($1, $2, $3)",
            tenant,
            str(uuid.uuid4()),
            f"{label}-effect",
        )


async def _publish_first(db: Database, place: Place, tenant: str) -> None:
    """Marks the tenant's oldest event sent, as the relay would."""
    async with db.platform_transaction(place) as conn:
        await conn.execute(
            """UPDATE outbox SET published_at = now() WHERE seq = (
                 SELECT min(seq) FROM outbox WHERE tenant_id = $1)""",
            tenant,
        )


async def _copies(moves: Moves, tenant: str) -> dict[str, int]:
    """The tenant's rows (notes, outbox, keys, effects) in every place that could hold them."""
    tables = ("notes", "outbox", "idempotency_keys", "effects")
    found: dict[str, int] = {}

    async def count(conn: Connection, schema: str, key: str) -> None:
        if not await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", f"{schema}.notes"):
            return
        total = 0
        for table in tables:
            total += await conn.fetchval(
                f"SELECT count(*) FROM {schema}.{table} WHERE tenant_id = $1",  # noqa: S608 - test names
                tenant,
            )
        if total:
            found[key] = total

    admin = await asyncpg.connect(moves.admin_url)
    try:
        await count(admin, SCHEMA, "pool")
        await count(admin, bridge_schema(SCHEMA, tenant), "bridge")
        silo = silo_database(moves.main, tenant)
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", silo)
    finally:
        await admin.close()
    if exists:
        conn = await asyncpg.connect(database_url(moves.admin_url, silo))
        try:
            await count(conn, SCHEMA, "silo")
        finally:
            await conn.close()
    return found


def _where(moves: Moves, tenant: str, tier: Tier) -> tuple[str, str]:
    if tier is Tier.POOL:
        return (moves.main, SCHEMA)
    if tier is Tier.BRIDGE:
        return (moves.main, bridge_schema(SCHEMA, tenant))
    return (silo_database(moves.main, tenant), SCHEMA)


MOVES = [
    (Tier.POOL, Tier.BRIDGE),
    (Tier.POOL, Tier.SILO),
    (Tier.BRIDGE, Tier.SILO),
    (Tier.SILO, Tier.BRIDGE),
    (Tier.BRIDGE, Tier.POOL),
    (Tier.SILO, Tier.POOL),
]


@pytest.mark.parametrize(("start", "goal"), MOVES, ids=[f"{a}-{b}" for a, b in MOVES])
async def test_a_move_carries_rows_pending_events_and_keys_and_leaves_no_copy(
    moves: Moves, start: Tier, goal: Tier
) -> None:
    """Rows keep their ids, unpublished events their order (published ones stay behind),
    keys move; the next transaction reads them in the new place, alone there with a
    neighbour's rows about; sequences go on; the source keeps nothing."""
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    await _write(moves.db, tenant, "pool")
    if start is not Tier.POOL:
        await moves.move(tenant, start)
    await _write(moves.db, NEIGHBOUR, "neighbour")
    await _publish_first(moves.db, moves.place(tenant, start), tenant)
    before = await _seen(moves.db, tenant)
    assert before.where == _where(moves, tenant, start)
    assert (len(before.notes), len(before.pending), before.published) == (2, 2, 1)

    place, moved = await moves.move(tenant, goal)

    assert place == moves.place(tenant, goal)
    assert (moved["notes"], moved["outbox"], moved["idempotency_keys"]) == (2, 2, 1)
    after = await _seen(moves.db, tenant)
    assert after.where == _where(moves, tenant, goal)
    assert (after.notes, after.pending, after.keys, after.effects) == (
        before.notes,
        before.pending,
        before.keys,
        before.effects,
    )
    assert after.published == 0
    assert await _copies(moves, tenant) == {str(goal): 2 + 2 + 1 + 1}
    neighbour = await _seen(moves.db, NEIGHBOUR)
    assert [b for _, _, b in neighbour.notes] == ["neighbour/1", "neighbour/2"]
    assert len(neighbour.pending) == 3
    # Ids go on after the copied ones, in the new place; a statement with no tenant
    # filter there changes the tenant's rows only, whoever else is in that place.
    async with moves.db.transaction(tenant) as conn:
        new = await conn.fetchval(
            "INSERT INTO notes (tenant_id, body) VALUES ($1, 'next') RETURNING id", tenant
        )
        assert await conn.execute("UPDATE notes SET body = body || '!'") == "UPDATE 3"
    assert new > max(i for i, _, _ in before.notes)
    assert [b for _, _, b in (await _seen(moves.db, NEIGHBOUR)).notes] == [
        "neighbour/1",
        "neighbour/2",
    ]
    again = await moves.move(tenant, goal)
    assert again == (place, {})


async def test_placing_a_tenant_that_wrote_to_the_shared_tables_moves_its_rows(
    moves: Moves,
) -> None:
    """A tenant's writes between its creation and its placement go with it, bridge or silo."""
    for tier in (Tier.BRIDGE, Tier.SILO):
        tenant = f"t-{uuid.uuid4().hex[:10]}"
        await _write(moves.db, tenant, "early")
        before = await _seen(moves.db, tenant)
        place = await place_tenant(
            moves.admin_url, moves.migrator_url, tenant, tier, {SCHEMA: moves.package}
        )
        assert place == moves.place(tenant, tier)
        after = await _seen(moves.db, tenant)
        assert after.where == _where(moves, tenant, tier)
        assert (after.notes, after.pending, after.keys) == (
            before.notes,
            before.pending,
            before.keys,
        )
        # Nothing left in the shared tables: every row is in the tenant's place.
        assert await _copies(moves, tenant) == {str(tier): 2 + 3 + 1 + 1}
        # Placing again changes nothing; a placed tenant is moved, not placed elsewhere.
        again = await place_tenant(
            moves.admin_url, moves.migrator_url, tenant, tier, {SCHEMA: moves.package}
        )
        assert again == place
        other = Tier.SILO if tier is Tier.BRIDGE else Tier.BRIDGE
        with pytest.raises(DatabaseSetupError, match=f"already in {tier}"):
            await place_tenant(
                moves.admin_url, moves.migrator_url, tenant, other, {SCHEMA: moves.package}
            )


class CrashError(Exception):
    """Stands for the mover's process dying at a given step."""


def _crash_at(phase: str) -> MoveHook:
    async def hook(now: str) -> None:
        if now == phase:
            raise CrashError(now)

    return hook


@pytest.mark.parametrize(
    ("start", "goal", "phase"),
    [
        (Tier.POOL, Tier.SILO, "target"),
        (Tier.SILO, Tier.POOL, "source"),
        (Tier.BRIDGE, Tier.SILO, "main"),
        (Tier.SILO, Tier.POOL, "main"),
        (Tier.SILO, Tier.BRIDGE, "main"),
    ],
    ids=[
        "pool-silo-after-silo-commit",
        "silo-pool-after-silo-commit",
        "bridge-silo-after-main-commit",
        "silo-pool-after-main-commit",
        "silo-bridge-after-main-commit",
    ],
)
async def test_a_move_cut_short_after_a_commit_is_finished_by_running_it_again(
    moves: Moves, start: Tier, goal: Tier, phase: str
) -> None:
    """Stopped after any commit but the last, the tenant is served from exactly one place,
    or refused while its silo does not name itself, never served from two; running the
    move again ends with exactly one copy, in the goal."""
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    await _write(moves.db, tenant, "pool")
    if start is not Tier.POOL:
        await moves.move(tenant, start)
    before = await _seen(moves.db, tenant)
    with pytest.raises(CrashError):
        await moves.move(tenant, goal, on_commit=_crash_at(phase))
    if phase == "target":
        # The silo holds a copy, but the main database never named it: still at the start.
        assert await _seen(moves.db, tenant) == before
        assert set(await _copies(moves, tenant)) == {str(start), str(goal)}
    elif phase == "source" or goal is Tier.SILO:
        # Placed in a silo that does not name itself: refused, not served from two places.
        with pytest.raises(PlacementError):
            await _seen(moves.db, tenant)
    else:
        # Home in the main database already; the silo's leftovers are not served.
        seen = await _seen(moves.db, tenant)
        assert seen.where == _where(moves, tenant, goal)
        assert seen.notes == before.notes
    await moves.move(tenant, goal)
    after = await _seen(moves.db, tenant)
    assert after.where == _where(moves, tenant, goal)
    assert (after.notes, after.pending, after.keys, after.effects) == (
        before.notes,
        before.pending,
        before.keys,
        before.effects,
    )
    assert await _copies(moves, tenant) == {str(goal): 2 + 3 + 1 + 1}


async def test_a_process_that_remembers_the_silo_follows_the_tenant_out_of_it(
    moves: Moves,
) -> None:
    """A stale silo pool refuses the tenant once it left: the transaction goes where it is."""
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    await moves.move(tenant, Tier.SILO)
    await _write(moves.db, tenant, "silo")
    other = await open_database(moves.dsn, SCHEMA, max_size=2)
    try:
        assert (await _seen(other, tenant)).where == _where(moves, tenant, Tier.SILO)
        await moves.move(tenant, Tier.BRIDGE)
        # Both processes remembered the silo; each finds the bridge.
        for db in (other, moves.db):
            seen = await _seen(db, tenant)
            assert seen.where == _where(moves, tenant, Tier.BRIDGE)
            assert [b for _, _, b in seen.notes] == ["silo/1", "silo/2"]
    finally:
        await other.close()
    silo = await asyncpg.connect(database_url(moves.admin_url, silo_database(moves.main, tenant)))
    try:
        # The silo no longer names itself: its own check sends a stale pool away.
        tier = await silo.fetchval(f"SELECT tier FROM {SCHEMA}.enter_tenant($1)", tenant)  # noqa: S608 - test names
        assert tier == "pool"
    finally:
        await silo.close()


async def test_a_move_into_the_pool_that_would_clash_on_a_key_changes_nothing(
    moves: Moves,
) -> None:
    """Ids a bridge handed out may be taken in the shared tables: the move stops whole."""
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    await moves.move(tenant, Tier.SILO)
    await _write(moves.db, tenant, "silo")
    await _write(moves.db, NEIGHBOUR, "neighbour")  # ids 1 and 2 in the shared notes too
    before = await _seen(moves.db, tenant)
    with pytest.raises(DatabaseSetupError, match="same key"):
        await moves.move(tenant, Tier.POOL)
    assert await _seen(moves.db, tenant) == before
    assert await _copies(moves, tenant) == {"silo": 2 + 3 + 1 + 1}


async def test_a_move_out_of_a_silo_waits_for_the_tenants_transaction_there(
    moves: Moves,
) -> None:
    """A transaction open in the silo when the move starts commits there first; the move
    then carries its write, and the tenant's next transaction is in the new place."""
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    await moves.move(tenant, Tier.SILO)
    inside, release = asyncio.Event(), asyncio.Event()

    async def slow_writer() -> None:
        async with moves.db.transaction(tenant) as conn:
            assert await conn.fetchval("SELECT current_database()") != moves.main
            await conn.execute("INSERT INTO notes (tenant_id, body) VALUES ($1, 'late')", tenant)
            inside.set()
            await release.wait()

    writer = asyncio.create_task(slow_writer())
    try:
        await inside.wait()
        move = asyncio.create_task(moves.move(tenant, Tier.BRIDGE))
        silo = await asyncpg.connect(
            database_url(moves.admin_url, silo_database(moves.main, tenant))
        )
        try:
            # The move holds the main database's lock and waits for the silo's.
            while not await silo.fetchval(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            ):
                assert not move.done(), move
                await asyncio.sleep(0.02)
        finally:
            await silo.close()
    finally:
        # A failing check must not leave the writer holding its connection forever.
        release.set()
        await writer
    _, moved = await move
    assert moved["notes"] == 1
    seen = await _seen(moves.db, tenant)
    assert seen.where == _where(moves, tenant, Tier.BRIDGE)
    assert [b for _, _, b in seen.notes] == ["late"]


async def test_the_relay_publishes_moved_events_once_in_order_from_the_new_place(
    moves: Moves, js: JetStreamContext
) -> None:
    """Events written in the pool, moved to a silo unpublished, reach the stream from the
    silo in their order; moved back, the published ones stay behind and nothing goes twice."""
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    await _write(moves.db, tenant, "pool")
    await moves.move(tenant, Tier.SILO)
    platform = moves.db.platform
    assert platform is not None
    relay = OutboxRelay(platform, "", SCHEMA, js, db=moves.db)
    assert await relay.relay_places() == 3
    await moves.move(tenant, Tier.POOL)
    assert await relay.relay_places() == 0
    info = await js.stream_info(STREAM)
    published = [
        ev.TenantCreated.FromString((await js.get_msg(STREAM, seq)).data or b"").display_name
        for seq in range(info.state.first_seq, info.state.last_seq + 1)
    ]
    assert published == ["pool/0", "pool/1", "pool/2"]
    assert (await _seen(moves.db, tenant)).pending == []
