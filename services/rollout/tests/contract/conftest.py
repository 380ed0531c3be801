"""One contract for rollout's ports, two adapters: in memory (unit) and PostgreSQL (integration)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from portico_common.clock import ManualClock
from portico_common.db import ALL_TENANTS, Database, create_pool
from portico_common.events.catalog import type_of
from portico_common.migrate import migrate
from portico_common.uow import uow_factory
from portico_rollout.adapters.memory import MemoryStore
from portico_rollout.adapters.postgres import RolloutPgUnitOfWork
from portico_rollout.bootstrap import MIGRATIONS, SERVICE
from portico_rollout.testing.world import T0, Backend


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
async def pg_backend(database_url: str, clock: ManualClock) -> AsyncIterator[Backend]:
    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn, SERVICE, MIGRATIONS)
    finally:
        await conn.close()
    pool = await create_pool(database_url, SERVICE, max_size=6)
    db = Database(pool, SERVICE)

    async def committed_events() -> list[str]:
        async with db.transaction(ALL_TENANTS) as conn:
            rows = await conn.fetch("SELECT event_type FROM outbox ORDER BY seq")
        return [row["event_type"] for row in rows]

    yield Backend(
        uow_factory(db, lambda c, t: RolloutPgUnitOfWork(c, tenant_id=t, clock=clock)),
        committed_events,
    )
    await pool.close()


@pytest.fixture(params=["memory", pytest.param("postgres", marks=pytest.mark.integration)])
def backend(request: pytest.FixtureRequest, clock: ManualClock) -> Backend:
    if request.param == "postgres":
        found: Backend = request.getfixturevalue("pg_backend")
        return found
    store = MemoryStore(clock)

    async def committed_events() -> list[str]:
        return [type_of(event) for event, _ in store.sink.events]

    return Backend(store.uow_factory(), committed_events)
