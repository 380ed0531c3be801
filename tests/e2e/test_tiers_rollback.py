"""Rollout and slo as processes with tenants in three tiers: pool, bridge schema, silo database.

The tenants are placed as `dbsetup place` places them (before they have
rows); slo and rollout then run as their own processes on real PostgreSQL and
NATS JetStream. For each tenant a rollout is requested over gRPC, started by
verdicts published as their owners, violated by outcomes reported to slo,
and rolled back by the slo.violated event. Each tenant's rows are then read
where its placement says (and nowhere else), and a repository without its
tenant filter sees only its own tenant's rows in every tier.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import grpc
import nats
import pytest

from portico.events.v1 import events_pb2 as ev
from portico.rollout.v1 import rollout_pb2 as rollout_pb
from portico.rollout.v1 import rollout_pb2_grpc as rollout_grpc
from portico.slo.v1 import slo_pb2, slo_pb2_grpc
from portico_common.db import Place, Tier, database_url, open_database
from portico_common.events.bus import publish
from portico_common.events.catalog import type_of
from portico_common.events.envelope import Envelope
from portico_common.events.topology import owner_source
from portico_common.placement import bridge_schema
from portico_embedded.testing.databases import ServiceDatabaseUrl, placed_tenants
from portico_embedded.testing.fixtures import unique
from portico_embedded.testing.services import ServiceProcess, infra_env, running_process

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

PLUGIN = "@acme/plugin-cost-insights"
VERSION = "2.3.0"
SERVICES = {"rollout": "portico_rollout.migrations", "slo": "portico_slo.migrations"}


@dataclass
class Suite:
    slo: ServiceProcess
    rollout: ServiceProcess
    urls: dict[str, str]
    tiers: dict[str, Tier]
    places: dict[str, Place]


@pytest.fixture
async def suite(
    service_database_url: ServiceDatabaseUrl, database_url: str, nats_url: str, tmp_path: Path
) -> AsyncIterator[Suite]:
    urls = {service: await service_database_url(service) for service in SERVICES}
    tiers = {unique("t").replace("_", "-"): tier for tier in Tier}
    async with placed_tenants(database_url, SERVICES, tiers) as places:
        slo_env = infra_env(urls["slo"], nats_url, slo_gauge_refresh_seconds="0.2")
        async with running_process(
            "portico_slo", slo_env, tmp_path / "slo", health_service="portico.slo.v1.SloService"
        ) as slo:
            rollout_env = infra_env(
                urls["rollout"],
                nats_url,
                rollout_tick_seconds="0.05",
                rollout_slo_target=slo.target,
            )
            async with running_process(
                "portico_rollout",
                rollout_env,
                tmp_path / "rollout",
                health_service="portico.rollout.v1.RolloutService",
            ) as rollout:
                yield Suite(slo, rollout, urls, tiers, places)


async def eventually(probe: Callable[[], Awaitable[bool]], within: float = 30.0) -> None:
    async with asyncio.timeout(within):
        while not await probe():  # noqa: ASYNC110 - polling over gRPC
            await asyncio.sleep(0.05)


async def _roll_back(suite: Suite, tenant: str, js: nats.js.JetStreamContext) -> str:
    rollout_channel = grpc.aio.insecure_channel(suite.rollout.target)
    slo_channel = grpc.aio.insecure_channel(suite.slo.target)
    try:
        rollouts = rollout_grpc.RolloutServiceStub(rollout_channel)
        requested = await rollouts.RequestRollout(
            rollout_pb.RequestRolloutRequest(
                tenant_id=tenant, plugin=PLUGIN, version=VERSION, bake_seconds=600
            ),
            timeout=10,
        )
        rollout_id = requested.rollout.rollout_id
        for verdict in (
            ev.ArtifactVerified(tenant_id=tenant, plugin=PLUGIN, version=VERSION),
            ev.CompatChecked(tenant_id=tenant, plugin=PLUGIN, version=VERSION, compatible=True),
        ):
            await publish(
                js, Envelope.of(verdict, source=owner_source(type_of(verdict)), tenant_id=tenant)
            )

        async def state() -> int:
            got = await rollouts.GetRollout(
                rollout_pb.GetRolloutRequest(tenant_id=tenant, rollout_id=rollout_id), timeout=10
            )
            return got.rollout.state

        async def in_progress() -> bool:
            return await state() == rollout_pb.ROLLOUT_STATE_IN_PROGRESS

        await eventually(in_progress)
        reported = await slo_pb2_grpc.SloServiceStub(slo_channel).ReportOutcomes(
            slo_pb2.ReportOutcomesRequest(
                tenant_id=tenant,
                plugin=PLUGIN,
                version=VERSION,
                outcomes=[slo_pb2.Outcome(success=False, latency_ms=30)] * 20,
            ),
            timeout=10,
        )
        assert reported.violated, tenant

        async def rolled_back() -> bool:
            return await state() == rollout_pb.ROLLOUT_STATE_ROLLED_BACK

        await eventually(rolled_back)
        return rollout_id
    finally:
        await rollout_channel.close(grace=None)
        await slo_channel.close(grace=None)


async def _physical(admin_url: str, place: tuple[str, str], sql: str) -> list[tuple[object, ...]]:
    database, schema = place
    conn = await asyncpg.connect(database_url(admin_url, database))
    try:
        await conn.execute(f"SET search_path TO {schema}")
        return [tuple(r) for r in await conn.fetch(sql)]
    finally:
        await conn.close()


async def test_rollouts_of_bridge_and_silo_tenants_roll_back_in_their_own_places(
    suite: Suite, database_url: str, nats_url: str
) -> None:
    nc = await nats.connect(nats_url)
    try:
        rollout_ids = dict(
            zip(
                suite.tiers,
                await asyncio.gather(*(_roll_back(suite, t, nc.jetstream()) for t in suite.tiers)),
                strict=True,
            )
        )
    finally:
        await nc.close()

    main = database_url.rpartition("/")[2]
    pool, bridge, silo = suite.tiers

    def where(service: str, tenant: str) -> tuple[str, str]:
        place = suite.places.get(tenant)
        if place is None:
            return main, service
        if place.tier is Tier.SILO:
            return place.location, service
        return main, bridge_schema(service, tenant)

    # Each tenant's rollout, rolled back, and its violation: in its place and nowhere else.
    for tenant in suite.tiers:
        assert await _physical(
            database_url,
            where("rollout", tenant),
            "SELECT tenant_id, rollout_id, state FROM rollouts",
        ) == [(tenant, rollout_ids[tenant], "ROLLED_BACK")], tenant
        violations = await _physical(
            database_url, where("slo", tenant), "SELECT DISTINCT tenant_id FROM slo_violations"
        )
        assert violations == [(tenant,)], tenant
    # The saga runner (a platform job) finished every rollback saga, in every place.
    for tenant in suite.tiers:

        async def saga_done(tenant: str = tenant) -> bool:
            steps = await _physical(
                database_url, where("rollout", tenant), "SELECT state FROM rollback_steps"
            )
            return bool(steps) and {s for (s,) in steps} == {"done"}

        await eventually(saga_done)
    assert where("rollout", bridge)[1] != "rollout"
    assert where("slo", silo)[0] != main
    assert pool not in suite.places

    # A repository without its tenant filter, as each service's own role, sees its tenant only.
    for service, tables in (
        ("rollout", ("rollouts", "rollout_decisions", "rollback_steps", "outbox", "inbox")),
        ("slo", ("slos", "outcome_buckets", "slo_violations", "outbox")),
    ):
        db = await open_database(suite.urls[service], service, max_size=2)
        try:
            for tenant in suite.tiers:
                async with db.transaction(tenant) as conn:
                    for table in tables:
                        seen = await conn.fetch(f"SELECT DISTINCT tenant_id FROM {table}")  # noqa: S608 - constant names
                        assert [r["tenant_id"] for r in seen] in ([tenant], []), (
                            service,
                            table,
                            tenant,
                        )
                    rows = await conn.fetchval(f"SELECT count(*) FROM {tables[0]}")  # noqa: S608 - constant names
                    assert rows >= 1, (service, tenant)
        finally:
            await db.close()
