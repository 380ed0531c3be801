"""Isolation chosen at creation: a bridge or silo tenant waits for the privileged placer,
which makes its place in every service; tenancy then activates it (tenant.activated)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import asyncpg
import grpc
import pytest

from portico.events.v1 import events_pb2
from portico.tenancy.v1 import tenancy_pb2 as pb
from portico_common.db import ALL_TENANTS, Place, Tier, open_database
from portico_common.placement import bridge_schema, place_tenant, silo_database
from portico_common.placer import place_pending
from portico_embedded.testing.databases import ServiceDatabaseUrl, migrator_url

if TYPE_CHECKING:
    from .conftest import RunningTenancy

pytestmark = pytest.mark.integration

# A service schema with the kernel's tables only, standing in for the services placed.
PLACED = "notes"


async def _state_becomes(tenancy: RunningTenancy, tenant: str, state: int) -> pb.Tenant:
    for _ in range(100):
        found = (await tenancy.stub.GetTenant(pb.GetTenantRequest(tenant_id=tenant))).tenant
        if found.state == state:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"{tenant} stayed {pb.TenantState.Name(found.state)}")


async def test_bridge_and_silo_tenants_are_active_only_once_the_placer_reported(
    tenancy: RunningTenancy, service_database_url: ServiceDatabaseUrl, database_url: str
) -> None:
    """Pool is active at once; bridge and silo wait (PENDING) until the placer made their
    places, then become active with tenant.activated carrying the isolation."""
    notes_url = await service_database_url(PLACED, None)
    created = {}
    for tenant, isolation in (
        ("pooled", pb.TENANT_ISOLATION_UNSPECIFIED),
        ("bridged", pb.TENANT_ISOLATION_BRIDGE),
        ("siloed", pb.TENANT_ISOLATION_SILO),
    ):
        reply = await tenancy.stub.CreateTenant(
            pb.CreateTenantRequest(tenant_id=tenant, isolation=isolation)
        )
        created[tenant] = reply.tenant
        envelope, _ = await tenancy.next_event()
        assert envelope.type == "tenant.created"
        assert isinstance(envelope.payload, events_pb2.TenantCreated)
        assert (envelope.payload.tenant_id, envelope.payload.isolation) == (
            tenant,
            {"pooled": "pool", "bridged": "bridge", "siloed": "silo"}[tenant],
        )
    assert [(t.state, t.isolation) for t in created.values()] == [
        (pb.TENANT_STATE_ACTIVE, pb.TENANT_ISOLATION_POOL),
        (pb.TENANT_STATE_PROVISIONING, pb.TENANT_ISOLATION_BRIDGE),
        (pb.TENANT_STATE_PROVISIONING, pb.TENANT_ISOLATION_SILO),
    ]
    pending = await tenancy.stub.GetPlacement(pb.GetPlacementRequest(tenant_id="bridged"))
    assert (pending.status, pending.location, pending.HasField("placed_at")) == (
        pb.PLACEMENT_STATUS_PENDING,
        "",
        False,
    )
    pooled = await tenancy.stub.GetPlacement(pb.GetPlacementRequest(tenant_id="pooled"))
    assert pooled.status == pb.PLACEMENT_STATUS_PLACED

    silo = silo_database(database_url.rpartition("/")[2], "siloed")
    try:
        placed = await place_pending(database_url, migrator_url(database_url), {PLACED: None})
        assert {(p.tenant_id, p.place, p.error) for p in placed} == {
            ("bridged", Place(Tier.BRIDGE, bridge_schema(PLACED, "bridged")), ""),
            ("siloed", Place(Tier.SILO, silo), ""),
        }
        assert await place_pending(database_url, migrator_url(database_url), {PLACED: None}) == []

        for tenant in ("bridged", "siloed"):
            await _state_becomes(tenancy, tenant, pb.TENANT_STATE_ACTIVE)
        activated = {}
        for _ in range(2):
            envelope, _ = await tenancy.next_event()
            assert envelope.type == "tenant.activated"
            assert isinstance(envelope.payload, events_pb2.TenantActivated)
            activated[envelope.payload.tenant_id] = envelope.payload.isolation
        assert activated == {"bridged": "bridge", "siloed": "silo"}
        placement = await tenancy.stub.GetPlacement(pb.GetPlacementRequest(tenant_id="siloed"))
        assert (placement.status, placement.location, placement.attempts) == (
            pb.PLACEMENT_STATUS_PLACED,
            silo,
            1,
        )
        assert placement.HasField("placed_at")
        bridged = await tenancy.stub.GetPlacement(pb.GetPlacementRequest(tenant_id="bridged"))
        assert (bridged.status, bridged.location) == (
            pb.PLACEMENT_STATUS_PLACED,
            bridge_schema(PLACED, "bridged"),
        )

        # The placed service now routes each tenant's transactions to its place.
        db = await open_database(notes_url, PLACED, max_size=2)
        try:
            async with db.transaction("bridged") as conn:
                assert await conn.fetchval("SELECT current_schema()") == bridge_schema(
                    PLACED, "bridged"
                )
            async with db.transaction("siloed") as conn:
                assert await conn.fetchval("SELECT current_database()") == silo
        finally:
            await db.close()
    finally:
        admin = await asyncpg.connect(database_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{silo}" WITH (FORCE)')
        finally:
            await admin.close()


async def test_a_tenant_that_wrote_before_its_placement_is_placed_with_its_rows(
    tenancy: RunningTenancy, service_database_url: ServiceDatabaseUrl, database_url: str
) -> None:
    """Something wrote for a bridge tenant while it was provisioning: the placer moves those
    rows into its schema with the placement; its transactions read them there."""
    notes_url = await service_database_url(PLACED, None)
    await tenancy.stub.CreateTenant(
        pb.CreateTenantRequest(tenant_id="early", isolation=pb.TENANT_ISOLATION_BRIDGE)
    )
    db = await open_database(notes_url, PLACED, max_size=2)
    try:
        async with db.transaction("early") as conn:
            assert await conn.fetchval("SELECT current_schema()") == PLACED
            await conn.execute(
                "INSERT INTO idempotency_keys (tenant_id, key, method, request_hash, state)"
                " VALUES ('early', 'k', 'm', 'h', 'done')"
            )
        placed = await place_pending(database_url, migrator_url(database_url), {PLACED: None})
        assert [(p.tenant_id, p.place, p.error) for p in placed] == [
            ("early", Place(Tier.BRIDGE, bridge_schema(PLACED, "early")), "")
        ]
        await _state_becomes(tenancy, "early", pb.TENANT_STATE_ACTIVE)
        async with db.transaction("early") as conn:
            assert await conn.fetchval("SELECT current_schema()") == bridge_schema(PLACED, "early")
            assert await conn.fetchval("SELECT key FROM idempotency_keys") == "k"
        async with db.transaction(ALL_TENANTS) as conn:  # the shared tables
            assert await conn.fetchval("SELECT count(*) FROM idempotency_keys") == 0
    finally:
        await db.close()


async def test_a_failed_placement_is_reported_and_an_unknown_isolation_refused(
    tenancy: RunningTenancy, service_database_url: ServiceDatabaseUrl, database_url: str
) -> None:
    """A tenant an operator placed in another tier cannot be placed: GetPlacement says why
    and it stays provisioning; an isolation value nobody defined creates nothing."""
    await service_database_url(PLACED, None)
    await tenancy.stub.CreateTenant(
        pb.CreateTenantRequest(tenant_id="elsewhere", isolation=pb.TENANT_ISOLATION_BRIDGE)
    )
    silo = silo_database(database_url.rpartition("/")[2], "elsewhere")
    try:
        await place_tenant(
            database_url, migrator_url(database_url), "elsewhere", Tier.SILO, {PLACED: None}
        )
        placed = await place_pending(database_url, migrator_url(database_url), {PLACED: None})
        assert [(p.tenant_id, p.place) for p in placed] == [("elsewhere", None)]
    finally:
        admin = await asyncpg.connect(database_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{silo}" WITH (FORCE)')
        finally:
            await admin.close()
    placement = await tenancy.stub.GetPlacement(pb.GetPlacementRequest(tenant_id="elsewhere"))
    assert placement.status == pb.PLACEMENT_STATUS_FAILED
    assert "is already in silo" in placement.error
    tenant = (await tenancy.stub.GetTenant(pb.GetTenantRequest(tenant_id="elsewhere"))).tenant
    assert tenant.state == pb.TENANT_STATE_PROVISIONING

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await tenancy.stub.CreateTenant(pb.CreateTenantRequest(tenant_id="odd", isolation=7))  # type: ignore[arg-type]
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await tenancy.stub.GetTenant(pb.GetTenantRequest(tenant_id="odd"))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
