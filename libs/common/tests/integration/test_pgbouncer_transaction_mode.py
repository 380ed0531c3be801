"""Tenants of every tier through a real PgBouncer in transaction pooling, on ONE server connection.

PgBouncer gives each transaction whichever server connection is free; with one
per role and database, the pool and bridge tenants' transactions all run on
the same PostgreSQL backend, one after another. The proof that nothing a
transaction sets (the tenant, a bridge schema's search_path) outlives it: each
transaction sees its own rows in its own place, and the statement right after
a tenant's transaction, on the same backend, finds neither its tenant nor its
search_path. A silo tenant's database is reached through the same PgBouncer
(`* =`), on a server connection of its own (another database).
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest

from portico_common.clock import ManualClock
from portico_common.db import (
    Connection,
    Database,
    Tier,
    open_database,
    platform_role,
    platform_url,
    service_role,
)
from portico_common.placement import bridge_schema, place_tenant, silo_database
from portico_common.runtime import Runtime
from portico_common.settings import ServiceSettings
from portico_embedded.pgbouncer import PgBouncer
from portico_embedded.testing.databases import ServiceDatabaseUrl, migrator_url, role_password

pytestmark = pytest.mark.integration

SCHEMA = "kerneltest"
TENANTS = {
    "pool-a": Tier.POOL,
    "pool-b": Tier.POOL,
    "bridge-a": Tier.BRIDGE,
    "bridge-b": Tier.BRIDGE,
    "silo-a": Tier.SILO,
}
# The role's own search_path: what a server connection has outside any transaction.
DEFAULT_SEARCH_PATH = '"$user", public'


@dataclass
class Bounced:
    db: Database
    bouncer: PgBouncer
    main: str
    silos: list[str]
    # The service's own URL straight to PostgreSQL, not through PgBouncer.
    direct: str


@dataclass
class Seen:
    tenant: str
    backend: int
    search_path: str
    schema: str
    app_tenant: str | None
    rows: list[tuple[str, str]]


@pytest.fixture
async def bounced(
    database_url: str, service_database_url: ServiceDatabaseUrl, service_migrations: str
) -> AsyncIterator[Bounced]:
    """The five tenants placed; the service's Database behind PgBouncer, one server connection."""
    dsn = await service_database_url(SCHEMA, service_migrations)
    migrator = migrator_url(database_url)
    for tenant, tier in TENANTS.items():
        if tier is not Tier.POOL:
            await place_tenant(database_url, migrator, tenant, tier, {SCHEMA: service_migrations})
    role = service_role(SCHEMA)
    password = role_password(database_url, role)
    assert urlsplit(dsn).password == password
    # The platform role has the request role's password (provision's default).
    users = {role: password, platform_role(SCHEMA): password}
    work = _work_dir()
    server = urlsplit(database_url)
    assert server.port is not None
    bouncer = PgBouncer(work, server_port=server.port, users=users, pool_size=1).start()
    main = server.path.lstrip("/")
    silos = [silo_database(main, t) for t, tier in TENANTS.items() if tier is Tier.SILO]
    db = await open_database(bouncer.url(role, main), SCHEMA, max_size=4, behind_pgbouncer=True)
    try:
        yield Bounced(db, bouncer, main, silos, dsn)
    finally:
        await db.close()
        bouncer.stop()
        shutil.rmtree(work, ignore_errors=True)
        admin = await asyncpg.connect(database_url)
        try:
            for silo in silos:
                await admin.execute(f'DROP DATABASE IF EXISTS "{silo}" WITH (FORCE)')
        finally:
            await admin.close()


def _work_dir() -> Path:
    # Not under pytest's basetemp (0700): PgBouncer started as root runs as
    # the embedded PostgreSQL's user, which must read its files.
    work = Path(tempfile.mkdtemp(prefix="portico-test-pgbouncer-"))
    work.chmod(0o755)
    return work


async def _look(conn: Connection) -> tuple[int, str, str, str | None]:
    row = await conn.fetchrow(
        "SELECT pg_backend_pid() AS pid, current_setting('search_path') AS path,"
        " current_schema() AS schema, current_setting('app.tenant_id', true) AS tenant"
    )
    assert row is not None
    return int(row["pid"]), str(row["path"]), str(row["schema"]), row["tenant"] or None


async def _tenant_transaction(db: Database, tenant: str, body: str) -> Seen:
    """Writes a row, lets the others run, then reads everything the table shows it."""
    async with db.transaction(tenant) as conn:
        await conn.execute("INSERT INTO notes (tenant_id, body) VALUES ($1, $2)", tenant, body)
        await asyncio.sleep(0)
        backend, path, schema, app_tenant = await _look(conn)
        await asyncio.sleep(0)
        rows = await conn.fetch("SELECT tenant_id, body FROM notes ORDER BY body")
    return Seen(tenant, backend, path, schema, app_tenant, [(r[0], r[1]) for r in rows])


def _home(tenant: str) -> str:
    return bridge_schema(SCHEMA, tenant) if TENANTS[tenant] is Tier.BRIDGE else SCHEMA


async def _bare(db: Database) -> tuple[int, str, str, str | None]:
    """What the server connection has outside any transaction (a statement on its own)."""
    async with db.pool.acquire() as conn:
        return await _look(conn)


async def test_interleaved_tenants_on_one_server_connection_see_only_their_own_rows(
    bounced: Bounced,
) -> None:
    db = bounced.db
    rounds = 4
    seen = await asyncio.gather(
        *(
            _tenant_transaction(db, tenant, f"{tenant}/{n}")
            for n in range(rounds)
            for tenant in TENANTS
        )
    )
    for s in seen:
        assert s.app_tenant == s.tenant, s
        assert s.schema == _home(s.tenant), s
        assert {t for t, _ in s.rows} == {s.tenant}, s
    # Pool and bridge tenants shared the one server connection of the main database.
    main = {s.backend for s in seen if TENANTS[s.tenant] is not Tier.SILO}
    assert len(main) == 1
    silo = {s.backend for s in seen if TENANTS[s.tenant] is Tier.SILO}
    assert len(silo) == 1
    assert silo != main
    for tenant in TENANTS:
        async with db.transaction(tenant) as conn:
            bodies = [r[0] for r in await conn.fetch("SELECT body FROM notes ORDER BY body")]
        assert bodies == [f"{tenant}/{n}" for n in range(rounds)], tenant


async def test_nothing_a_tenants_transaction_set_is_left_on_the_server_connection(
    bounced: Bounced,
) -> None:
    db = bounced.db
    before, path, _, tenant = await _bare(db)
    assert (path, tenant) == (DEFAULT_SEARCH_PATH, None)
    for first, then in (("bridge-a", "pool-a"), ("pool-b", "bridge-b"), ("bridge-b", "bridge-a")):
        one = await _tenant_transaction(db, first, f"{first}/x")
        assert one.backend == before
        assert one.schema == _home(first)
        # The very next statement on that backend: no tenant, the role's search_path.
        backend, path, schema, app_tenant = await _bare(db)
        assert backend == before
        assert (path, app_tenant) == (DEFAULT_SEARCH_PATH, None), first
        assert schema != bridge_schema(SCHEMA, first)
        two = await _tenant_transaction(db, then, f"{then}/y")
        assert two.backend == before
        assert (two.schema, two.app_tenant) == (_home(then), then)
        assert {t for t, _ in two.rows} == {then}


async def _fail(db: Database, tenant: str, failing_sql: str) -> None:
    """A transaction that writes a row, then fails in SQL (or, without it, in the caller)."""
    async with db.transaction(tenant) as conn:
        await conn.execute("INSERT INTO notes (tenant_id, body) VALUES ($1, 'gone')", tenant)
        if failing_sql:
            await conn.execute(failing_sql)
        raise RuntimeError("the caller's own failure")


async def test_a_failed_transaction_leaves_nothing_for_the_next(bounced: Bounced) -> None:
    db = bounced.db
    backend, _, _, _ = await _bare(db)
    with pytest.raises(asyncpg.DivisionByZeroError):
        await _fail(db, "bridge-a", "SELECT 1 / 0")
    with pytest.raises(RuntimeError):
        await _fail(db, "pool-a", "")
    assert await _bare(db) == (backend, DEFAULT_SEARCH_PATH, "public", None)
    for tenant in ("pool-b", "bridge-a", "pool-a"):
        seen = await _tenant_transaction(db, tenant, f"{tenant}/after")
        assert seen.backend == backend
        assert (seen.schema, seen.app_tenant) == (_home(tenant), tenant)
        assert seen.rows == [(tenant, f"{tenant}/after")]


async def test_silo_tenant_reached_through_the_same_pgbouncer(bounced: Bounced) -> None:
    """The silo's database is named by the client; PgBouncer's `* =` sends it to the server."""
    seen = await _tenant_transaction(bounced.db, "silo-a", "silo-a/1")
    assert seen.rows == [("silo-a", "silo-a/1")]
    assert bounced.db.silos is not None
    assert bounced.db.silos.open_databases() == bounced.silos


async def test_without_the_setting_a_pool_cannot_log_in_through_pgbouncer(
    bounced: Bounced,
) -> None:
    """The search_path sent at connect is refused: PORTICO_DATABASE_BEHIND_PGBOUNCER is needed."""
    url = bounced.bouncer.url(service_role(SCHEMA), bounced.main)
    with pytest.raises(asyncpg.ProtocolViolationError, match="search_path"):
        await open_database(url, SCHEMA, max_size=1)


async def test_a_service_started_with_the_setting_runs_its_tenants_through_pgbouncer(
    bounced: Bounced, nats_url: str, service_migrations: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PORTICO_DATABASE_BEHIND_PGBOUNCER reaches the runtime's pools, silo pools included."""
    monkeypatch.setenv(
        "PORTICO_DATABASE_URL", bounced.bouncer.url(service_role(SCHEMA), bounced.main)
    )
    monkeypatch.setenv("PORTICO_DATABASE_BEHIND_PGBOUNCER", "true")
    settings = ServiceSettings(nats_url=nats_url, grpc_port=0, metrics_port=-1, unsafe_no_auth=True)
    assert settings.database_behind_pgbouncer
    rt = await Runtime.start(SCHEMA, settings, service_migrations, clock=ManualClock())
    try:
        backend, _, _, _ = await _bare(bounced.db)
        for tenant, tier in TENANTS.items():
            seen = await _tenant_transaction(rt.db, tenant, f"{tenant}/rt")
            assert (seen.schema, seen.app_tenant) == (_home(tenant), tenant)
            assert seen.rows == [(tenant, f"{tenant}/rt")]
            if tier is not Tier.SILO:
                assert seen.backend == backend
    finally:
        await rt.close()


async def _published_at_once(
    bounced: Bounced,
    nats_url: str,
    service_migrations: str,
    monkeypatch: pytest.MonkeyPatch,
    *,
    poll_seconds: float,
) -> float:
    """How long an event another process commits waits for the relay of a service run
    behind PgBouncer (it is published, or the test fails after 20 s)."""
    monkeypatch.setenv(
        "PORTICO_DATABASE_URL", bounced.bouncer.url(service_role(SCHEMA), bounced.main)
    )
    monkeypatch.setenv("PORTICO_DATABASE_BEHIND_PGBOUNCER", "true")
    monkeypatch.setenv("PORTICO_OUTBOX_POLL_SECONDS", str(poll_seconds))
    settings = ServiceSettings(nats_url=nats_url, grpc_port=0, metrics_port=-1, unsafe_no_auth=True)
    rt = await Runtime.start(SCHEMA, settings, service_migrations, clock=ManualClock())
    stop = asyncio.Event()
    relaying = asyncio.create_task(rt.relay.run(stop))
    other = await asyncpg.connect(bounced.direct)
    try:
        # Let the relay settle into waiting for a wake-up or its poll.
        await asyncio.sleep(0.5)
        async with other.transaction():
            await other.execute("SELECT set_config('app.tenant_id', 'pool-a', true)")
            event = await other.fetchval(
                f"INSERT INTO {SCHEMA}.outbox"  # noqa: S608 - the test's own schema
                " (event_id, subject, event_type, tenant_id, headers, payload)"
                " VALUES (gen_random_uuid(), 'portico.tenant.updated', 'tenant.updated',"
                " 'pool-a', '{}', '') RETURNING event_id"
            )
        written = time.monotonic()
        while time.monotonic() - written < 20:
            sent = await other.fetchval(
                f"SELECT published_at IS NOT NULL FROM {SCHEMA}.outbox WHERE event_id = $1",  # noqa: S608 - the test's own schema
                event,
            )
            if sent:
                return time.monotonic() - written
            await asyncio.sleep(0.05)
        raise AssertionError("the event another process committed was never relayed")
    finally:
        stop.set()
        await relaying
        await other.close()
        await rt.close()


async def test_behind_pgbouncer_a_direct_listen_url_wakes_the_relay_at_once(
    bounced: Bounced, nats_url: str, service_migrations: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LISTEN cannot hold through transaction pooling; PORTICO_DATABASE_LISTEN_URL, straight
    to PostgreSQL, brings other processes' commits at once, not at the next poll (60 s)."""
    monkeypatch.setenv("PORTICO_DATABASE_LISTEN_URL", platform_url(bounced.direct, SCHEMA))
    waited = await _published_at_once(
        bounced, nats_url, service_migrations, monkeypatch, poll_seconds=60
    )
    assert waited < 10


async def test_behind_pgbouncer_without_a_listen_url_the_relay_polls(
    bounced: Bounced, nats_url: str, service_migrations: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No LISTEN through PgBouncer (it would land on a shared server connection): another
    process's event is relayed by the poll, and nothing fails meanwhile."""
    waited = await _published_at_once(
        bounced, nats_url, service_migrations, monkeypatch, poll_seconds=0.5
    )
    assert waited < 15
