"""One contract for tenancy's ports, two adapters: in memory (unit) and PostgreSQL (integration)."""

from __future__ import annotations

import json
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
from portico_tenancy.adapters.memory import MemoryStore
from portico_tenancy.adapters.postgres import pg_uow_factory
from portico_tenancy.app.ports import UnitOfWorkFactory
from portico_tenancy.bootstrap import MIGRATIONS, SERVICE

# (event type, tenant, CloudEvent subject) of a committed event.
Committed = tuple[str, str, str]


@dataclass
class Backend:
    """A unit-of-work factory, its clock, and a way to read the events it committed."""

    uow: UnitOfWorkFactory
    clock: ManualClock
    committed_events: Callable[[], Awaitable[list[Committed]]]


tenancy_db = migrated_database(SERVICE, MIGRATIONS, name="tenancy_db")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))


def memory_backend(clock: ManualClock) -> Backend:
    store = MemoryStore(clock)

    async def committed() -> list[Committed]:
        return [
            (type_of(payload), getattr(payload, "tenant_id", ""), subject)
            for payload, subject in store.sink.events
        ]

    return Backend(store.uow_factory(), clock, committed)


@pytest.fixture
def pg_backend(tenancy_db: Database, clock: ManualClock) -> Backend:
    async def committed() -> list[Committed]:
        rows = await tenancy_db.pool.fetch(
            "SELECT event_type, tenant_id, headers FROM outbox ORDER BY seq"
        )
        return [
            (r["event_type"], r["tenant_id"], json.loads(r["headers"]).get("ce-subject", ""))
            for r in rows
        ]

    return Backend(pg_uow_factory(tenancy_db, clock), clock, committed)


@pytest.fixture(params=CONTRACT_BACKENDS)
def backend(request: pytest.FixtureRequest, clock: ManualClock) -> Backend:
    """Each contract test runs once per adapter."""
    return contract_backend(request, memory=lambda: memory_backend(clock), postgres="pg_backend")
