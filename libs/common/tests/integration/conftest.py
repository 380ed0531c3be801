"""Real PostgreSQL and NATS JetStream for the kernel's integration tests.

Every test gets a fresh database (migrated into SCHEMA with the kernel's
tables plus two tenant tables under the same RLS pattern as services use) and
a fresh nats-server with the kernel's streams.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg
import pytest
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import RawStreamMsg

from portico_common.db import Database, create_pool
from portico_common.events.bus import connect, ensure_streams
from portico_common.events.catalog import STREAM
from portico_common.migrate import migrate

SCHEMA = "kerneltest"

_RLS = """
ALTER TABLE {t} ENABLE ROW LEVEL SECURITY;
ALTER TABLE {t} FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON {t}
    USING (tenant_id = current_setting('app.tenant_id', true)
           OR current_setting('app.tenant_id', true) = '*')
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true)
           OR current_setting('app.tenant_id', true) = '*');
"""

# Test-only tenant tables, protected exactly like a service's tables: one by the
# policy written out (as the first migrations did), one by the kernel's function.
TEST_TABLES = (
    """
CREATE TABLE notes (
    id         serial PRIMARY KEY,
    tenant_id  text NOT NULL,
    body       text NOT NULL
);
CREATE TABLE effects (
    tenant_id  text NOT NULL,
    event_id   text NOT NULL,
    note       text NOT NULL DEFAULT ''
);
"""
    + _RLS.format(t="notes")
    + "SELECT enable_tenant_isolation('effects');"
)

T = TypeVar("T")


@pytest.fixture
def service_migrations(make_package: Callable[[dict[str, str]], str]) -> str:
    """A migrations package with the test tables, as a service would ship it."""
    return make_package({"0001_test_tables.sql": TEST_TABLES})


@pytest.fixture
async def dsn(database_url: str, service_migrations: str) -> str:
    """The fresh database, migrated into SCHEMA."""
    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn, SCHEMA, service_migrations)
    finally:
        await conn.close()
    return database_url


@pytest.fixture
async def pool(dsn: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(dsn, SCHEMA, min_size=1, max_size=5)
    yield pool
    await pool.close()


@pytest.fixture
def db(pool: asyncpg.Pool) -> Database:
    return Database(pool, SCHEMA)


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[NatsClient]:
    nc = await connect(nats_url, "kernel-tests")
    yield nc
    await nc.close()


@pytest.fixture
async def js(nc: NatsClient) -> JetStreamContext:
    js = nc.jetstream()
    await ensure_streams(js)
    return js


class Background:
    """Long-running loops (relay, consumers) that stop and are awaited at teardown."""

    def __init__(self) -> None:
        self.stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self, run: Callable[[asyncio.Event], Coroutine[Any, Any, None]]) -> None:
        self._tasks.append(asyncio.create_task(run(self.stop)))

    def check(self) -> None:
        """Raises the error of a loop that died, instead of letting a test wait it out."""
        for task in self._tasks:
            if task.done() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]

    async def close(self) -> None:
        self.stop.set()
        if self._tasks:
            # Loops notice `stop` within their poll or fetch timeout.
            await asyncio.wait_for(asyncio.gather(*self._tasks), timeout=15)


@dataclass
class Infra:
    """One test's migrated database and JetStream, plus helpers to watch them."""

    dsn: str
    pool: asyncpg.Pool
    db: Database
    nc: NatsClient
    js: JetStreamContext
    background: Background

    async def until(
        self,
        probe: Callable[[], Awaitable[T]],
        accept: Callable[[T], bool] = bool,
        *,
        within: float = 10.0,
        what: str = "condition",
    ) -> T:
        """Polls `probe` until `accept` holds, failing after `within` seconds."""
        deadline = time.monotonic() + within
        while True:
            self.background.check()
            value = await probe()
            if accept(value):
                return value
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{what}: not met within {within}s; last value: {value!r:.600}"
                )
            await asyncio.sleep(0.02)

    async def stream(self, name: str = STREAM) -> list[RawStreamMsg]:
        """Every message stored in a stream, in order."""
        info = await self.js.stream_info(name)
        if info.state.messages == 0:
            return []
        first, last = info.state.first_seq, info.state.last_seq
        return [await self.js.get_msg(name, seq) for seq in range(first, last + 1)]

    async def stream_count(self, name: str = STREAM, at_least: int = 1) -> list[RawStreamMsg]:
        """Waits until a stream holds `at_least` messages; returns them all."""
        return await self.until(
            lambda: self.stream(name),
            lambda ms: len(ms) >= at_least,
            what=f"{at_least} message(s) in {name}",
        )


@pytest.fixture
async def infra(
    dsn: str, pool: asyncpg.Pool, db: Database, nc: NatsClient, js: JetStreamContext
) -> AsyncIterator[Infra]:
    """Background loops are stopped before the pool and connection they use are closed."""
    loops = Background()
    yield Infra(dsn, pool, db, nc, js, loops)
    await loops.close()
