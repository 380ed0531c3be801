"""A tenant's isolation: active only once placed (bridge, silo) and provisioned, in any order;
the placement watcher turns the placer's report into the move."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from portico.events.v1 import events_pb2
from portico_common.timestamps import to_timestamp
from portico_tenancy.app import handlers
from portico_tenancy.bootstrap import Dependencies, build
from portico_tenancy.domain.tenant import Isolation, Tenant, TenantState
from portico_tenancy.errors import TenantStateError
from portico_tenancy.testing import TenancyWorld as World

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
LATER = T0 + timedelta(minutes=1)


def test_a_pool_tenant_without_provisioning_is_active_at_once() -> None:
    tenant = Tenant.create("acme", "", T0)
    assert (tenant.state, tenant.isolation, tenant.placement_status) == (
        TenantState.ACTIVE,
        Isolation.POOL,
        "placed",
    )


@pytest.mark.parametrize("isolation", [Isolation.BRIDGE, Isolation.SILO])
def test_a_bridge_or_silo_tenant_waits_for_its_placement(isolation: Isolation) -> None:
    tenant = Tenant.create("acme", "", T0, isolation=isolation)
    assert (tenant.state, tenant.placement_status) == (TenantState.PROVISIONING, "pending")
    with pytest.raises(TenantStateError, match="not placed yet"):
        tenant.placed(LATER)
    # The placer's report: only its columns change.
    reported = replace(tenant, placed_at=LATER, placement_location="db_t_x")
    active, event = reported.placed(LATER)
    assert active.state is TenantState.ACTIVE
    assert event is not None
    assert (event.state, event.isolation) == (TenantState.ACTIVE, isolation.value)


def test_placed_before_provisioned_waits_for_the_provisioning_and_the_other_way_round() -> None:
    tenant = Tenant.create("acme", "", T0, provisioned=False, isolation=Isolation.BRIDGE)
    placed, none = replace(tenant, placed_at=LATER).placed(LATER)
    assert (placed.state, none) == (TenantState.PROVISIONING, None)
    active, event = placed.activate(LATER)
    assert active.state is TenantState.ACTIVE
    assert event is not None

    provisioned, none = tenant.activate(LATER)
    assert (provisioned.state, provisioned.provisioned_at, none) == (
        TenantState.PROVISIONING,
        LATER,
        None,
    )
    active, event = replace(provisioned, placed_at=LATER).placed(LATER)
    assert active.state is TenantState.ACTIVE
    assert event is not None


def test_a_failed_placement_is_reported_as_failed_until_it_succeeds() -> None:
    tenant = Tenant.create("acme", "", T0, isolation=Isolation.SILO)
    failed = replace(tenant, placement_error="boom", placement_attempts=1)
    assert failed.placement_status == "failed"
    assert replace(failed, placed_at=LATER, placement_error="").placement_status == "placed"


async def test_the_watcher_activates_a_tenant_once_the_placer_reported() -> None:
    """Nothing happens before the placer's report; after it, one pass activates the tenant
    with tenant.activated carrying its isolation, and the next pass finds nothing."""
    world = World()
    await handlers.create_tenant(world.uow, "acme", "", isolation=Isolation.SILO)
    parts = build(Dependencies(uow=world.uow, clock=world.clock))
    assert parts.placements is not None
    assert await parts.placements.tick() == 0
    assert world.tables.tenants["acme"].state is TenantState.PROVISIONING
    # The placer writes its columns only.
    world.tables.tenants["acme"] = replace(
        world.tables.tenants["acme"], placed_at=world.clock.now(), placement_location="db_t_1"
    )
    assert await parts.placements.tick() == 1
    assert world.tables.tenants["acme"].state.value == "active"
    assert world.committed[-1] == events_pb2.TenantActivated(
        tenant_id="acme",
        state="active",
        at=to_timestamp(world.clock.now()),
        isolation="silo",
    )
    assert await parts.placements.tick() == 0
