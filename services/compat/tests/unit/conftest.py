"""Fixtures for the compat app-layer tests: in-memory adapters and a manual clock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from portico_common.clock import ManualClock
from portico_compat.adapters.memory import MemoryStore, memory_uow_factory
from portico_compat.app import handlers
from portico_compat.app.ports import UnitOfWorkFactory

TENANT = "acme"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))


@pytest.fixture
def store() -> MemoryStore:
    """The committed state and events of the in-memory unit of work."""
    return MemoryStore()


@pytest.fixture
def uow(store: MemoryStore, clock: ManualClock) -> UnitOfWorkFactory:
    return memory_uow_factory(store, clock)


@pytest.fixture
async def acme_host(uow: UnitOfWorkFactory) -> None:
    """Tenant acme runs Backstage 1.31.0 on Node 20.11.1 with two core packages."""
    await handlers.set_host_profile(
        uow,
        TENANT,
        "1.31.0",
        "20.11.1",
        {"@backstage/core-plugin-api": "1.10.0", "react": "18.3.1"},
    )
