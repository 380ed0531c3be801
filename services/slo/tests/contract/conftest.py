"""One backend fixture, two adapters: the in-memory fakes and the real PostgreSQL ones."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from portico_common.clock import ManualClock
from portico_common.db import Database
from portico_common.events.catalog import type_of
from portico_embedded.testing.databases import (
    CONTRACT_BACKENDS,
    contract_backend,
    migrated_database,
)
from portico_slo.adapters.memory import MemoryStore
from portico_slo.adapters.postgres import pg_uow_factory
from portico_slo.app.ports import UnitOfWorkFactory
from portico_slo.bootstrap import MIGRATIONS, SERVICE


@dataclass
class Backend:
    """A unit-of-work factory and a way to read the events it committed."""

    name: str
    uow: UnitOfWorkFactory
    clock: ManualClock
    # (event type, tenant) of every committed event, in order.
    committed_events: Callable[[], Awaitable[list[tuple[str, str]]]]


slo_db = migrated_database(SERVICE, MIGRATIONS, name="slo_db")


@pytest.fixture
def clock() -> ManualClock:
    """A bucket-aligned moment, moved by hand."""
    return ManualClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))


def memory_backend(clock: ManualClock) -> Backend:
    store = MemoryStore(clock)

    async def committed() -> list[tuple[str, str]]:
        return [(type_of(p), getattr(p, "tenant_id", "")) for p in store.events]

    return Backend("memory", store.uow_factory(), clock, committed)


@pytest.fixture
def postgres_backend(slo_db: Database, clock: ManualClock) -> Backend:
    async def committed() -> list[tuple[str, str]]:
        rows = await slo_db.pool.fetch("SELECT event_type, tenant_id FROM outbox ORDER BY seq")
        return [(r["event_type"], r["tenant_id"]) for r in rows]

    return Backend("postgres", pg_uow_factory(slo_db, clock), clock, committed)


@pytest.fixture(params=CONTRACT_BACKENDS)
def backend(request: pytest.FixtureRequest, clock: ManualClock) -> Backend:
    """Each contract test runs once per adapter."""
    return contract_backend(
        request, memory=lambda: memory_backend(clock), postgres="postgres_backend"
    )
