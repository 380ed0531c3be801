"""One backend fixture, two adapters: the in-memory fakes and the real PostgreSQL ones."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
import pytest

from portico_common.clock import ManualClock
from portico_common.db import Database, create_pool
from portico_common.migrate import migrate
from portico_common.uow import uow_factory
from portico_slo.adapters.memory import MemoryStore
from portico_slo.adapters.postgres import SloPgUnitOfWork
from portico_slo.app.ports import UnitOfWorkFactory


@dataclass
class Backend:
    """A unit-of-work factory and a way to read the events it committed."""

    name: str
    uow: UnitOfWorkFactory
    clock: ManualClock
    # (event type, tenant) of every committed event, in order.
    committed_events: Callable[[], Awaitable[list[tuple[str, str]]]]


@pytest.fixture
def clock() -> ManualClock:
    """A bucket-aligned moment, moved by hand."""
    return ManualClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))


@pytest.fixture
def memory_backend(clock: ManualClock) -> Backend:
    store = MemoryStore(clock)

    async def committed() -> list[tuple[str, str]]:
        return [(p.DESCRIPTOR.name, getattr(p, "tenant_id", "")) for p, _ in store.events.events]

    return Backend("memory", store.uow_factory(), clock, committed)


@pytest.fixture
async def postgres_backend(database_url: str, clock: ManualClock) -> AsyncIterator[Backend]:
    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn, "slo", "portico_slo.migrations")
    finally:
        await conn.close()
    pool = await create_pool(database_url, "slo")
    db = Database(pool, "slo")

    async def committed() -> list[tuple[str, str]]:
        rows = await pool.fetch("SELECT event_type, tenant_id FROM outbox ORDER BY seq")
        names = {"slo.violated": "SloViolated"}
        return [(names.get(r["event_type"], r["event_type"]), r["tenant_id"]) for r in rows]

    uow = uow_factory(db, lambda c, tenant: SloPgUnitOfWork(c, tenant_id=tenant, clock=clock))
    yield Backend("postgres", uow, clock, committed)
    await pool.close()


@pytest.fixture(params=["memory", pytest.param("postgres", marks=pytest.mark.integration)])
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each contract test runs once per adapter."""
    found: Backend = request.getfixturevalue(f"{request.param}_backend")
    return found
