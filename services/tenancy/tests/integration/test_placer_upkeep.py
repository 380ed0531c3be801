"""The placer's upkeep on real PostgreSQL: a failed placement backs off before it is tried
again, and a deleted bridge or silo tenant's place (schemas, database, placements rows) is
dropped, while a tenant that is only deleting or suspended keeps its place."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, timedelta
from functools import partial

import asyncpg
import grpc
import pytest
from pydantic import SecretStr

from portico.events.v1 import events_pb2 as ev
from portico.tenancy.v1 import lifecycle_pb2 as lpb
from portico.tenancy.v1 import lifecycle_pb2_grpc as lpb_grpc
from portico.tenancy.v1 import tenancy_pb2 as pb
from portico.tenancy.v1 import tenancy_pb2_grpc as pb_grpc
from portico_common.db import Tier, open_database
from portico_common.dbsetup import role_url
from portico_common.errors import DatabaseSetupError
from portico_common.events.topology import tenant_data_services
from portico_common.placement import bridge_schema, move_tenant, silo_database
from portico_common.placement_drop import drop_place
from portico_common.placer import Backoff, drop_deleted, place_pending, record_move
from portico_embedded.testing.databases import ServiceDatabaseUrl, migrator_url
from portico_embedded.testing.services import serving_in_process
from portico_tenancy.bootstrap import SERVICE, run
from portico_tenancy.settings import TenancySettings

pytestmark = pytest.mark.integration

# A service schema with the kernel's tables only, standing in for the services placed.
PLACED = "notes"


@dataclass
class Tenancy:
    tenants: pb_grpc.TenancyServiceAsyncStub
    lifecycle: lpb_grpc.TenantLifecycleServiceAsyncStub


@pytest.fixture
async def tenancy(
    service_database_url: ServiceDatabaseUrl, nats_url: str
) -> AsyncIterator[Tenancy]:
    """Tenancy in this process, with a one-second grace period before a deletion runs."""
    settings = TenancySettings.model_validate(
        {
            "database_url": SecretStr(await service_database_url(SERVICE)),
            "nats_url": nats_url,
            "grpc_port": 0,
            "metrics_port": -1,
            "auth_target": "",
            "deletion_grace_seconds": 1,
            "deletion_poll_seconds": 0.2,
            "placement_poll_seconds": 0.2,
        }
    )
    async with (
        serving_in_process(run, settings) as port,
        grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel,
    ):
        yield Tenancy(
            pb_grpc.TenancyServiceStub(channel), lpb_grpc.TenantLifecycleServiceStub(channel)
        )


async def _admin(database_url: str, sql: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


async def _retry_in(database_url: str, tenant: str) -> timedelta:
    (row,) = await _admin(
        database_url,
        "SELECT placement_retry_at - now() AS wait FROM tenancy.tenants WHERE tenant_id = $1",
        tenant,
    )
    wait: timedelta = row["wait"]
    return wait


async def test_a_failed_placement_is_tried_again_only_once_its_backoff_ran_out(
    tenancy: Tenancy, service_database_url: ServiceDatabaseUrl, database_url: str
) -> None:
    """The first failure waits 1 s, the second 2 s (jitter pinned to its low end); passes in
    between leave the tenant alone; once placeable, it is placed and the backoff cleared.

    It cannot be placed at first because the service it is placed in is not set up yet."""
    await tenancy.tenants.CreateTenant(
        pb.CreateTenantRequest(tenant_id="early", isolation=pb.TENANT_ISOLATION_BRIDGE)
    )
    migrator = migrator_url(database_url)
    # Equal jitter at its low end: half of 2 s doubling.
    backoff = Backoff(base=2.0, unit=lambda: 0.0)

    async def a_pass() -> list[tuple[str, bool]]:
        placed = await place_pending(database_url, migrator, {PLACED: None}, backoff=backoff)
        return [(p.tenant_id, p.place is not None) for p in placed]

    assert await a_pass() == [("early", False)]
    failed_at = time.monotonic()
    assert timedelta(0) < await _retry_in(database_url, "early") <= timedelta(seconds=1)
    # Before its time: every pass leaves it alone.
    while time.monotonic() - failed_at < 0.7:
        assert await a_pass() == []
        await asyncio.sleep(0.1)
    placement = await tenancy.tenants.GetPlacement(pb.GetPlacementRequest(tenant_id="early"))
    assert (placement.status, placement.attempts) == (pb.PLACEMENT_STATUS_FAILED, 1)
    # GetPlacement says when the next attempt is due: the placer's own stamp.
    (due,) = await _admin(
        database_url, "SELECT placement_retry_at FROM tenancy.tenants WHERE tenant_id = 'early'"
    )
    assert placement.next_attempt_at.ToDatetime(tzinfo=UTC) == due["placement_retry_at"]

    # After it: tried again, failed again, and now waits twice as long.
    await asyncio.sleep(max(0.0, 1.05 - (time.monotonic() - failed_at)))
    assert await a_pass() == [("early", False)]
    assert timedelta(seconds=1.5) < await _retry_in(database_url, "early") <= timedelta(seconds=2)
    assert await a_pass() == []
    placement = await tenancy.tenants.GetPlacement(pb.GetPlacementRequest(tenant_id="early"))
    assert (placement.status, placement.attempts) == (pb.PLACEMENT_STATUS_FAILED, 2)

    # The service set up, the next due attempt places it and clears the backoff.
    await service_database_url(PLACED, None)
    await asyncio.sleep(2.05)
    assert await a_pass() == [("early", True)]
    (row,) = await _admin(
        database_url,
        "SELECT placement_retry_at, placement_error, placement_attempts FROM tenancy.tenants"
        " WHERE tenant_id = 'early'",
    )
    assert tuple(row) == (None, "", 3)
    placement = await tenancy.tenants.GetPlacement(pb.GetPlacementRequest(tenant_id="early"))
    assert placement.status == pb.PLACEMENT_STATUS_PLACED
    assert not placement.HasField("next_attempt_at")


async def _wait_for(what: str, check: Callable[[], Awaitable[bool]]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"waited in vain for {what}")


async def test_a_deleted_tenants_bridge_schemas_and_silo_database_are_dropped(
    tenancy: Tenancy, service_database_url: ServiceDatabaseUrl, database_url: str
) -> None:
    """Deleted bridge and silo tenants lose their schema, database and placements rows; a
    deleting and a suspended tenant keep theirs; a service's silo pool copes with its database
    vanishing; dropping again (a placer that crashed half way) changes nothing."""
    notes_url = await service_database_url(PLACED, None)
    migrator = migrator_url(database_url)
    main = database_url.rpartition("/")[2]
    tiers = {
        "gone-bridge": pb.TENANT_ISOLATION_BRIDGE,
        "gone-silo": pb.TENANT_ISOLATION_SILO,
        "deleting-bridge": pb.TENANT_ISOLATION_BRIDGE,
        "suspended-silo": pb.TENANT_ISOLATION_SILO,
    }
    silos = {t: silo_database(main, t) for t in ("gone-silo", "suspended-silo")}
    for tenant, isolation in tiers.items():
        await tenancy.tenants.CreateTenant(
            pb.CreateTenantRequest(tenant_id=tenant, isolation=isolation)
        )
    db = await open_database(notes_url, PLACED, max_size=2)
    try:
        placed = await place_pending(database_url, migrator, {PLACED: None})
        assert sorted((p.tenant_id, p.error) for p in placed) == sorted((t, "") for t in tiers)

        async def all_active() -> bool:
            for tenant in tiers:
                got = await tenancy.tenants.GetTenant(pb.GetTenantRequest(tenant_id=tenant))
                if got.tenant.state != pb.TENANT_STATE_ACTIVE:
                    return False
            return True

        await _wait_for("every tenant active", all_active)
        # The service's silo pool is open on the silo about to be dropped.
        async with db.transaction("gone-silo") as conn:
            assert await conn.fetchval("SELECT current_database()") == silos["gone-silo"]
        assert silos["gone-silo"] in db.silos.open_databases()  # type: ignore[union-attr]

        await tenancy.lifecycle.SuspendTenant(
            lpb.SuspendTenantRequest(tenant_id="suspended-silo", reason="unpaid")
        )
        for tenant in ("gone-bridge", "gone-silo", "deleting-bridge"):
            await tenancy.lifecycle.DeleteTenant(lpb.DeleteTenantRequest(tenant_id=tenant))

        async def requested() -> bool:
            rows = await _admin(
                database_url,
                "SELECT count(*) AS n FROM tenancy.tenants"
                " WHERE deletion_requested_at IS NOT NULL AND state = 'deleting'",
            )
            return bool(rows[0]["n"] == 3)

        await _wait_for("the deletions requested", requested)
        # Deleting (the services are deleting its rows) is not deleted: nothing is dropped.
        assert await drop_deleted(database_url, migrator, {PLACED: None}) == []
        for tenant in ("gone-bridge", "gone-silo"):
            for service in tenant_data_services():
                reply = await tenancy.lifecycle.ReportTenantDataDeleted(
                    lpb.ReportTenantDataDeletedRequest(tenant_id=tenant, service=service)
                )
            assert reply.tenant.state == pb.TENANT_STATE_DELETED

        # The administrator's login refused: it looks for a silo (and its unsent events)
        # for every tenant before anything goes, so both drops fail, change nothing and
        # back off.
        refused = role_url(database_url, "portico_nobody", "wrong")
        backoff = Backoff(base=2.0, unit=lambda: 0.0)
        dropped = await drop_deleted(refused, migrator, {PLACED: None}, backoff=backoff)
        failed_at = time.monotonic()
        assert sorted((d.tenant_id, d.dropped, bool(d.error)) for d in dropped) == [
            ("gone-bridge", (), True),
            ("gone-silo", (), True),
        ]
        (row,) = await _admin(
            database_url,
            "SELECT placement_drop_failures, placement_drop_error, placement_dropped_at"
            " FROM tenancy.tenants WHERE tenant_id = 'gone-silo'",
        )
        assert (row["placement_drop_failures"], row["placement_dropped_at"]) == (1, None)
        assert row["placement_drop_error"]
        assert timedelta(0) < await _retry_in(database_url, "gone-silo") <= timedelta(seconds=1)
        assert await drop_deleted(database_url, migrator, {PLACED: None}, backoff=backoff) == []
        await asyncio.sleep(max(0.0, 1.05 - (time.monotonic() - failed_at)))
        dropped = await drop_deleted(database_url, migrator, {PLACED: None}, backoff=backoff)
        assert sorted((d.tenant_id, d.dropped, d.error) for d in dropped) == [
            ("gone-bridge", (bridge_schema(PLACED, "gone-bridge"),), ""),
            ("gone-silo", (silos["gone-silo"],), ""),
        ]
        assert await drop_deleted(database_url, migrator, {PLACED: None}) == []

        schemas = {
            r["nspname"]
            for r in await _admin(
                database_url, "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'notes_t_%'"
            )
        }
        assert schemas == {bridge_schema(PLACED, "deleting-bridge")}
        databases = {
            r["datname"]
            for r in await _admin(
                database_url,
                "SELECT datname FROM pg_database WHERE datname = ANY($1)",
                list(silos.values()),
            )
        }
        assert databases == {silos["suspended-silo"]}
        placements = await _admin(
            database_url, "SELECT tenant_id, tier FROM notes.placements ORDER BY tenant_id"
        )
        assert [tuple(r) for r in placements] == [
            ("deleting-bridge", "bridge"),
            ("suspended-silo", "silo"),
        ]
        stamped = await _admin(
            database_url,
            "SELECT tenant_id, placement_dropped_at IS NOT NULL AND placement_drop_error = ''"
            " AND placement_retry_at IS NULL AS dropped FROM tenancy.tenants ORDER BY tenant_id",
        )
        assert {r["tenant_id"]: r["dropped"] for r in stamped} == {
            "deleting-bridge": False,
            "gone-bridge": True,
            "gone-silo": True,
            "suspended-silo": False,
        }

        # A placer that crashed after dropping, before stamping, does it all again unharmed.
        for tenant in ("gone-bridge", "gone-silo"):
            assert await drop_place(database_url, migrator, tenant, [PLACED]) == []

        # The service still remembered the dropped silo: its transaction goes to the
        # main database (the tenant has no place of its own any more), the pool is gone.
        async with db.transaction("gone-silo") as conn:
            assert await conn.fetchval("SELECT current_database()") == main
            assert await conn.fetchval("SELECT current_schema()") == PLACED
        assert silos["gone-silo"] not in db.silos.open_databases()  # type: ignore[union-attr]
        async with db.transaction("suspended-silo") as conn:
            assert await conn.fetchval("SELECT current_database()") == silos["suspended-silo"]
    finally:
        await db.close()
        await _admin(
            database_url, f'DROP DATABASE IF EXISTS "{silos["suspended-silo"]}" WITH (FORCE)'
        )
        await _admin(database_url, f'DROP DATABASE IF EXISTS "{silos["gone-silo"]}" WITH (FORCE)')


async def _moves_announced(database_url: str, tenant: str) -> list[tuple[str, str, str, str]]:
    rows = await _admin(
        database_url,
        "SELECT subject, payload, published_at FROM tenancy.outbox"
        " WHERE event_type = 'tenant.moved' AND tenant_id = $1 ORDER BY seq",
        tenant,
    )
    moves = []
    for row in rows:
        moved = ev.TenantMoved.FromString(row["payload"])
        assert row["subject"] == "portico.tenant.moved"
        assert moved.tenant_id == tenant
        assert moved.at.seconds > 0
        moves.append(
            (
                moved.previous_isolation,
                moved.isolation,
                moved.location,
                "sent" if row["published_at"] else "held",
            )
        )
    return moves


async def test_a_recorded_move_is_announced_once_by_tenancy(
    tenancy: Tenancy, service_database_url: ServiceDatabaseUrl, database_url: str
) -> None:
    """Each move recorded in tenancy is a tenant.moved event from tenancy's outbox, relayed
    to the bus; recording the same move again (a rerun of `dbsetup move`) announces nothing."""
    await service_database_url(PLACED, None)
    migrator = migrator_url(database_url)
    tenant = "announced"
    silo = silo_database(database_url.rpartition("/")[2], tenant)
    await tenancy.tenants.CreateTenant(pb.CreateTenantRequest(tenant_id=tenant))
    try:
        to_bridge, _ = await move_tenant(database_url, migrator, tenant, PLACED, None, Tier.BRIDGE)
        assert await record_move(migrator, tenant, to_bridge, [PLACED])
        assert await record_move(migrator, tenant, to_bridge, [PLACED])
        to_silo, _ = await move_tenant(database_url, migrator, tenant, PLACED, None, Tier.SILO)
        assert await record_move(migrator, tenant, to_silo, [PLACED])

        async def relayed() -> bool:
            moves = await _moves_announced(database_url, tenant)
            return bool(moves) and all(sent == "sent" for *_, sent in moves)

        await _wait_for("the moves relayed", relayed)
        assert await _moves_announced(database_url, tenant) == [
            ("pool", "bridge", bridge_schema(PLACED, tenant), "sent"),
            ("bridge", "silo", silo, "sent"),
        ]
    finally:
        await _admin(database_url, f'DROP DATABASE IF EXISTS "{silo}" WITH (FORCE)')


async def test_a_deleted_tenant_moved_between_tiers_loses_every_place_it_had(
    tenancy: Tenancy, service_database_url: ServiceDatabaseUrl, database_url: str
) -> None:
    """Tenancy records the tier a tenant was created in; a move changes the place without it.
    A pool tenant moved to a bridge, and a bridge tenant moved on to a silo (whose bridge
    schema stays, empty), still lose all of it once deleted."""
    await service_database_url(PLACED, None)
    migrator = migrator_url(database_url)
    silo = silo_database(database_url.rpartition("/")[2], "moved-silo")
    await tenancy.tenants.CreateTenant(pb.CreateTenantRequest(tenant_id="moved-bridge"))
    await tenancy.tenants.CreateTenant(
        pb.CreateTenantRequest(tenant_id="moved-silo", isolation=pb.TENANT_ISOLATION_BRIDGE)
    )
    try:
        assert [p.error for p in await place_pending(database_url, migrator, {PLACED: None})] == [
            ""
        ]
        to_bridge, _ = await move_tenant(
            database_url, migrator, "moved-bridge", PLACED, None, Tier.BRIDGE
        )
        to_silo, _ = await move_tenant(
            database_url, migrator, "moved-silo", PLACED, None, Tier.SILO
        )
        # Recorded in tenancy, the moves show where GetPlacement looks.
        for tenant, place in (("moved-bridge", to_bridge), ("moved-silo", to_silo)):
            assert await record_move(migrator, tenant, place, [PLACED])
        shown = {
            t: await tenancy.tenants.GetPlacement(pb.GetPlacementRequest(tenant_id=t))
            for t in ("moved-bridge", "moved-silo")
        }
        assert {t: (p.isolation, p.status, p.location) for t, p in shown.items()} == {
            "moved-bridge": (
                pb.TENANT_ISOLATION_BRIDGE,
                pb.PLACEMENT_STATUS_PLACED,
                bridge_schema(PLACED, "moved-bridge"),
            ),
            "moved-silo": (pb.TENANT_ISOLATION_SILO, pb.PLACEMENT_STATUS_PLACED, silo),
        }
        for tenant in ("moved-bridge", "moved-silo"):
            await _wait_for(f"{tenant} active", partial(_active, tenancy, tenant))
            await tenancy.lifecycle.DeleteTenant(lpb.DeleteTenantRequest(tenant_id=tenant))
        for tenant in ("moved-bridge", "moved-silo"):
            await _wait_for(
                f"{tenant}'s deletion requested", partial(_requested, database_url, tenant)
            )
            for service in tenant_data_services():
                await tenancy.lifecycle.ReportTenantDataDeleted(
                    lpb.ReportTenantDataDeletedRequest(tenant_id=tenant, service=service)
                )
        dropped = await drop_deleted(database_url, migrator, {PLACED: None})
        assert sorted((d.tenant_id, d.dropped, d.error) for d in dropped) == [
            ("moved-bridge", (bridge_schema(PLACED, "moved-bridge"),), ""),
            ("moved-silo", (bridge_schema(PLACED, "moved-silo"), silo), ""),
        ]
        left = await _admin(
            database_url,
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'notes_t_%'"
            " UNION ALL SELECT datname FROM pg_database WHERE datname = $1"
            " UNION ALL SELECT tenant_id FROM notes.placements",
            silo,
        )
        assert left == []
    finally:
        await _admin(database_url, f'DROP DATABASE IF EXISTS "{silo}" WITH (FORCE)')


async def _active(tenancy: Tenancy, tenant: str) -> bool:
    got = await tenancy.tenants.GetTenant(pb.GetTenantRequest(tenant_id=tenant))
    return bool(got.tenant.state == pb.TENANT_STATE_ACTIVE)


async def _requested(database_url: str, tenant: str) -> bool:
    rows = await _admin(
        database_url,
        "SELECT 1 FROM tenancy.tenants WHERE tenant_id = $1"
        " AND deletion_requested_at IS NOT NULL AND state = 'deleting'",
        tenant,
    )
    return bool(rows)


@pytest.mark.parametrize("tier", [Tier.BRIDGE, Tier.SILO])
async def test_a_place_holding_unsent_events_is_kept_until_the_relay_sent_them(
    service_database_url: ServiceDatabaseUrl, database_url: str, tier: Tier
) -> None:
    """Dropping the place would drop the events with it: the drop waits, changing nothing."""
    await service_database_url(PLACED, None)
    migrator = migrator_url(database_url)
    tenant = f"unsent-{tier}"
    place, _ = await move_tenant(database_url, migrator, tenant, PLACED, None, tier)
    where = (
        database_url
        if tier is Tier.BRIDGE
        else f"{database_url.rpartition('/')[0]}/{place.location}"
    )
    outbox = f"{place.location if tier is Tier.BRIDGE else PLACED}.outbox"
    try:
        await _admin(
            where,
            f"INSERT INTO {outbox} (event_id, subject, event_type, tenant_id, headers, payload)"  # noqa: S608 - the test's own names
            " VALUES (gen_random_uuid(), 's', 't', $1, '{}', '')",
            tenant,
        )
        with pytest.raises(DatabaseSetupError, match=r"1 event\(s\) the outbox relay has not sent"):
            await drop_place(database_url, migrator, tenant, [PLACED])
        # Nothing went: the relay still finds the place through its placements row.
        rows = await _admin(
            database_url, "SELECT tier FROM notes.placements WHERE tenant_id = $1", tenant
        )
        assert [r["tier"] for r in rows] == [str(tier)]
        await _admin(where, f"UPDATE {outbox} SET published_at = now()")  # noqa: S608 - the test's own names
        assert await drop_place(database_url, migrator, tenant, [PLACED]) == [place.location]
        assert not await _admin(
            database_url, "SELECT 1 FROM notes.placements WHERE tenant_id = $1", tenant
        )
    finally:
        if tier is Tier.SILO:
            await _admin(database_url, f'DROP DATABASE IF EXISTS "{place.location}" WITH (FORCE)')
