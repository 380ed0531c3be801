"""Tenancy use cases against in-memory fakes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from portico.events.v1 import events_pb2
from portico_common.clock import ManualClock
from portico_common.uow import RecordingEventSink
from portico_tenancy.app import handlers
from portico_tenancy.app.ports import TenancyUnitOfWork, UnitOfWorkFactory
from portico_tenancy.domain.tenant import Tenant
from portico_tenancy.errors import InvalidTenantError, TenantExistsError, TenantNotFoundError


class FakeTenants:
    def __init__(self) -> None:
        self.rows: dict[str, Tenant] = {}

    async def add(self, tenant: Tenant) -> bool:
        if tenant.tenant_id in self.rows:
            return False
        self.rows[tenant.tenant_id] = tenant
        return True

    async def get(self, tenant_id: str) -> Tenant | None:
        return self.rows.get(tenant_id)


class FakeUnitOfWork(RecordingEventSink):
    def __init__(self, tenants: FakeTenants, clock: ManualClock) -> None:
        super().__init__()
        self._tenants = tenants
        self._clock = clock

    @property
    def tenants(self) -> FakeTenants:
        return self._tenants

    @property
    def clock(self) -> ManualClock:
        return self._clock


class World:
    """Committed state and events; a failing use case commits nothing."""

    def __init__(self) -> None:
        self.tenants = FakeTenants()
        self.clock = ManualClock()
        self.committed: list[object] = []

    def factory(self) -> UnitOfWorkFactory:
        @asynccontextmanager
        async def open_uow(_tenant: str) -> AsyncIterator[TenancyUnitOfWork]:
            uow = FakeUnitOfWork(self.tenants, self.clock)
            yield uow
            self.committed.extend(event for event, _ in uow.events)

        return open_uow


async def test_create_tenant_persists_and_emits_tenant_created() -> None:
    """Creating a tenant stores it and emits tenant.created once."""
    world = World()
    tenant = await handlers.create_tenant(world.factory(), "acme", "Acme Corp")
    assert world.tenants.rows["acme"] == tenant
    assert tenant.created_at == world.clock.now()
    assert world.committed == [events_pb2.TenantCreated(tenant_id="acme", display_name="Acme Corp")]


async def test_duplicate_tenant_is_refused_and_emits_nothing() -> None:
    """A second tenant with the same id raises and adds no event."""
    world = World()
    await handlers.create_tenant(world.factory(), "acme", "Acme")
    with pytest.raises(TenantExistsError, match="already exists"):
        await handlers.create_tenant(world.factory(), "acme", "Other")
    assert len(world.committed) == 1
    assert world.tenants.rows["acme"].display_name == "Acme"


async def test_invalid_id_changes_nothing() -> None:
    """A malformed id is rejected before any state is touched."""
    world = World()
    with pytest.raises(InvalidTenantError):
        await handlers.create_tenant(world.factory(), "Not Valid", "x")
    assert world.tenants.rows == {}
    assert world.committed == []


async def test_get_unknown_tenant_is_not_found() -> None:
    """Asking for a tenant that does not exist is NOT_FOUND."""
    with pytest.raises(TenantNotFoundError):
        await handlers.get_tenant(World().factory(), "ghost")
