"""One repository contract, two adapters: in memory (unit) and PostgreSQL (integration)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from portico_common.clock import ManualClock
from portico_common.db import ALL_TENANTS, Database
from portico_common.events.catalog import type_of
from portico_common.uow import uow_factory
from portico_compat.adapters.memory import memory_store
from portico_compat.adapters.postgres import CompatPgUnitOfWork
from portico_compat.app.ports import UnitOfWorkFactory
from portico_compat.bootstrap import MIGRATIONS, SERVICE
from portico_embedded.testing.databases import (
    CONTRACT_BACKENDS,
    contract_backend,
    migrated_database,
)

compat_db = migrated_database(SERVICE, MIGRATIONS, name="compat_db", max_size=4)


@dataclass
class Backend:
    """A unit-of-work factory and a probe of the event types it has committed."""

    uow: UnitOfWorkFactory
    committed_events: Callable[[], Awaitable[list[str]]]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))


@pytest.fixture
def pg_backend(compat_db: Database, clock: ManualClock) -> Backend:
    """The PostgreSQL adapters on a fresh database migrated like the service does it."""

    async def committed_events() -> list[str]:
        async with compat_db.transaction(ALL_TENANTS) as tx:
            rows = await tx.fetch("SELECT event_type FROM outbox ORDER BY seq")
        return [row["event_type"] for row in rows]

    return Backend(
        uow_factory(compat_db, lambda c, t: CompatPgUnitOfWork(c, tenant_id=t, clock=clock)),
        committed_events,
    )


def memory_backend(clock: ManualClock) -> Backend:
    """The in-memory adapters on an empty store."""
    store = memory_store(clock)

    async def committed_events() -> list[str]:
        return [type_of(event) for event in store.events]

    return Backend(store.open, committed_events)


@pytest.fixture(params=CONTRACT_BACKENDS)
def backend(request: pytest.FixtureRequest, clock: ManualClock) -> Backend:
    return contract_backend(request, memory=lambda: memory_backend(clock), postgres="pg_backend")
