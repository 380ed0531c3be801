"""One repository contract, two adapters: in memory (unit) and PostgreSQL (integration)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
import pytest

from portico_common.clock import ManualClock
from portico_common.db import ALL_TENANTS, Database, create_pool
from portico_common.events.catalog import type_of
from portico_common.migrate import migrate
from portico_common.uow import uow_factory
from portico_compat.adapters.memory import MemoryStore, memory_uow_factory
from portico_compat.adapters.postgres import CompatPgUnitOfWork
from portico_compat.app.ports import UnitOfWorkFactory

SCHEMA = "compat"


@dataclass
class Backend:
    """A unit-of-work factory and a probe of the event types it has committed."""

    uow: UnitOfWorkFactory
    committed_events: Callable[[], Awaitable[list[str]]]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))


@pytest.fixture
async def pg_backend(database_url: str, clock: ManualClock) -> AsyncIterator[Backend]:
    """The PostgreSQL adapters on a fresh database migrated like the service does it."""
    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn, SCHEMA, "portico_compat.migrations")
    finally:
        await conn.close()
    pool = await create_pool(database_url, SCHEMA, min_size=1, max_size=4)
    db = Database(pool, SCHEMA)

    async def committed_events() -> list[str]:
        async with db.transaction(ALL_TENANTS) as tx:
            rows = await tx.fetch("SELECT event_type FROM outbox ORDER BY seq")
        return [row["event_type"] for row in rows]

    yield Backend(
        uow_factory(db, lambda c, t: CompatPgUnitOfWork(c, tenant_id=t, clock=clock)),
        committed_events,
    )
    await pool.close()


@pytest.fixture(params=["memory", pytest.param("postgres", marks=pytest.mark.integration)])
def backend(request: pytest.FixtureRequest, clock: ManualClock) -> Backend:
    if request.param == "postgres":
        found: Backend = request.getfixturevalue("pg_backend")
        return found
    store = MemoryStore()

    async def committed_events() -> list[str]:
        return [type_of(event) for event, _ in store.sink.events]

    return Backend(memory_uow_factory(store, clock), committed_events)
