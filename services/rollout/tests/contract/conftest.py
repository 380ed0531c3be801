"""One contract for rollout's ports, two adapters: in memory (unit) and PostgreSQL (integration)."""

from __future__ import annotations

import pytest

from portico_common.clock import ManualClock
from portico_common.db import Database
from portico_common.events.catalog import type_of
from portico_common.tenants import ALL_TENANTS
from portico_embedded.testing.databases import (
    CONTRACT_BACKENDS,
    contract_backend,
    migrated_database,
)
from portico_rollout.adapters.memory import MemoryStore
from portico_rollout.adapters.postgres import pg_uow_factory
from portico_rollout.bootstrap import MIGRATIONS, SERVICE
from portico_rollout.testing.world import T0, Backend

rollout_db = migrated_database(SERVICE, MIGRATIONS, name="rollout_db", max_size=6)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def pg_backend(rollout_db: Database, clock: ManualClock) -> Backend:
    async def committed_events() -> list[str]:
        async with rollout_db.transaction(ALL_TENANTS) as conn:
            rows = await conn.fetch("SELECT event_type FROM outbox ORDER BY seq")
        return [row["event_type"] for row in rows]

    return Backend(pg_uow_factory(rollout_db, clock), committed_events)


def memory_backend(clock: ManualClock) -> Backend:
    store = MemoryStore(clock)

    async def committed_events() -> list[str]:
        return [type_of(event) for event in store.events]

    return Backend(store.uow_factory(), committed_events)


@pytest.fixture(params=CONTRACT_BACKENDS)
def backend(request: pytest.FixtureRequest, clock: ManualClock) -> Backend:
    """Each contract test runs once per adapter."""
    return contract_backend(request, memory=lambda: memory_backend(clock), postgres="pg_backend")
