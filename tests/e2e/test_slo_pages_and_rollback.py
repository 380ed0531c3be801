"""An SLO violation pages a PagerDuty-format receiver and rolls the canary back, as processes.

slo and rollout run as their own processes on real PostgreSQL and NATS
JetStream; the verdicts that start the canary are real CloudEvents published
as their owners; the page goes over HTTP to a local receiver that checks the
Events API v2 format; the dashboard is read through the gateway app.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import nats
import pytest
from google.protobuf.duration_pb2 import Duration
from prometheus_client import CollectorRegistry

from portico.events.v1 import events_pb2 as ev
from portico.rollout.v1 import rollout_pb2 as rollout_pb
from portico.rollout.v1 import rollout_pb2_grpc as rollout_grpc
from portico.slo.v1 import alerting_pb2 as apb
from portico.slo.v1 import alerting_pb2_grpc, slo_pb2, slo_pb2_grpc
from portico_common.events.bus import publish
from portico_common.events.catalog import type_of
from portico_common.events.envelope import Envelope
from portico_common.events.topology import owner_source
from portico_embedded.receivers import HttpReceiver, pagerduty_receiver
from portico_embedded.testing.data_keys import DataKeysServer
from portico_embedded.testing.databases import ServiceDatabaseUrl
from portico_embedded.testing.fixtures import unique
from portico_embedded.testing.services import ServiceProcess, infra_env, running_process
from portico_gateway.app import create_app

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

PLUGIN = "@acme/plugin-cost-insights"
VERSION = "2.3.0"
ROUTING_KEY = "R0UT1NGKEY0123456789abcdefABCDEF"


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    """PagerDuty's Events API v2, local."""
    started = pagerduty_receiver()
    yield started
    started.stop()


@pytest.fixture
async def slo(
    service_database_url: ServiceDatabaseUrl,
    nats_url: str,
    tmp_path: Path,
    data_keys_server: DataKeysServer,
) -> AsyncIterator[ServiceProcess]:
    """slo sealing channel secrets with tenants' keys, ticking fast so a page and a
    recovery take no time."""
    env = infra_env(
        await service_database_url("slo"),
        nats_url,
        tenancy_target=data_keys_server.target,
        slo_alerting_tick_seconds="0.05",
        slo_gauge_refresh_seconds="0.2",
    )
    async with running_process(
        "portico_slo", env, tmp_path / "slo", health_service="portico.slo.v1.AlertingService"
    ) as service:
        yield service


@pytest.fixture
async def rollout(
    slo: ServiceProcess, service_database_url: ServiceDatabaseUrl, nats_url: str, tmp_path: Path
) -> AsyncIterator[ServiceProcess]:
    # A rollout is only requested once slo holds an SLO for its version.
    env = infra_env(
        await service_database_url("rollout"),
        nats_url,
        rollout_tick_seconds="0.05",
        rollout_slo_target=slo.target,
    )
    async with running_process(
        "portico_rollout",
        env,
        tmp_path / "rollout",
        health_service="portico.rollout.v1.RolloutService",
    ) as service:
        yield service


async def eventually(probe: Callable[[], Awaitable[bool]], within: float = 20.0) -> None:
    async with asyncio.timeout(within):
        # Read over gRPC or from the receiver's thread: nothing to wait on but time.
        while not await probe():  # noqa: ASYNC110
            await asyncio.sleep(0.05)


def seconds(value: int) -> Duration:
    duration = Duration()
    duration.FromSeconds(value)
    return duration


def events(receiver: HttpReceiver, action: str) -> list[dict[str, Any]]:
    return [r.json() for r in list(receiver.requests) if r.json()["event_action"] == action]


async def test_a_violation_pages_and_rolls_the_canary_back_and_the_recovery_resolves(
    slo: ServiceProcess, rollout: ServiceProcess, receiver: HttpReceiver, nats_url: str
) -> None:
    """Twenty failures of 2.3.0 violate its SLO: rollout rolls the canary back and PagerDuty
    gets a trigger keyed by SLO and tier; good traffic ends the burn and the same key is
    resolved; the dashboard shows the breaker and the delivered page."""
    tenant = unique("t").replace("_", "-")
    nc = await nats.connect(nats_url)
    rollout_channel = grpc.aio.insecure_channel(rollout.target)
    slo_channel = grpc.aio.insecure_channel(slo.target)
    try:
        alerting = alerting_pb2_grpc.AlertingServiceStub(slo_channel)
        await alerting.CreateChannel(
            apb.CreateChannelRequest(
                tenant_id=tenant,
                name="oncall",
                pagerduty=apb.PagerDutyConfig(
                    url=receiver.url + "/v2/enqueue", routing_key=ROUTING_KEY
                ),
            ),
            timeout=10,
        )
        await alerting.SetRoutingTree(
            apb.SetRoutingTreeRequest(
                tenant_id=tenant,
                route=apb.Route(
                    receiver="oncall",
                    group_by=apb.GroupBy(labels=["slo", "tier"]),
                    group_wait=seconds(0),
                    group_interval=seconds(1),
                ),
            ),
            timeout=10,
        )
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
                nc.jetstream(),
                Envelope.of(verdict, source=owner_source(type_of(verdict)), tenant_id=tenant),
            )

        async def state() -> rollout_pb.RolloutState.ValueType:
            got = await rollouts.GetRollout(
                rollout_pb.GetRolloutRequest(tenant_id=tenant, rollout_id=rollout_id), timeout=10
            )
            return got.rollout.state

        async def in_progress() -> bool:
            return await state() == rollout_pb.ROLLOUT_STATE_IN_PROGRESS

        await eventually(in_progress)

        # RequestRollout made the version's SLO from the built-in template (99%, 30 days).
        slos = slo_pb2_grpc.SloServiceStub(slo_channel)
        listed = await slos.ListSlos(
            slo_pb2.ListSlosRequest(tenant_id=tenant, plugin=PLUGIN, version=VERSION),
            timeout=10,
        )
        slo_ids = {s.slo_id for s in listed.slos}
        [slo_id] = [s.slo_id for s in listed.slos if s.scope == slo_pb2.SCOPE_KIND_VERSION]

        async def report(success: bool, count: int) -> slo_pb2.ReportOutcomesResponse:
            return await slos.ReportOutcomes(
                slo_pb2.ReportOutcomesRequest(
                    tenant_id=tenant,
                    plugin=PLUGIN,
                    version=VERSION,
                    outcomes=[slo_pb2.Outcome(success=success, latency_ms=30)] * count,
                ),
                timeout=10,
            )

        assert (await report(success=False, count=20)).violated

        async def rolled_back() -> bool:
            return await state() == rollout_pb.ROLLOUT_STATE_ROLLED_BACK

        async def paged() -> bool:
            return any(t["payload"]["class"] == "page-1h" for t in events(receiver, "trigger"))

        await eventually(rolled_back)
        await eventually(paged)
        triggers = events(receiver, "trigger")

        # 0.1% errors: every tier's burn drops below its factor, the SLO recovers.
        for _ in range(4):
            await report(success=True, count=5000)

        async def resolved() -> bool:
            return bool(events(receiver, "resolve"))

        await eventually(resolved)
        resolves = events(receiver, "resolve")
    finally:
        await rollout_channel.close(grace=None)
        await slo_channel.close(grace=None)
        await nc.close()

    # Every request met the Events API v2 format (the receiver answers 400 otherwise).
    assert {t["routing_key"] for t in triggers + resolves} == {ROUTING_KEY}
    for trigger in triggers:
        tier = trigger["payload"]["class"]
        slo_of = trigger["payload"]["custom_details"]["labels"]["slo"]
        assert slo_of in slo_ids
        assert trigger["dedup_key"] == f"portico/{tenant}/{slo_of}/{tier}"
        assert trigger["payload"]["component"] == PLUGIN
    keys = [t["dedup_key"] for t in triggers]
    assert len(keys) == len(set(keys)), "one incident per SLO and tier"
    assert f"portico/{tenant}/{slo_id}/page-1h" in keys
    assert {r["dedup_key"] for r in resolves} <= set(keys)

    app = create_app({"slo": slo.target}, registry=CollectorRegistry())
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as http,
    ):
        response = await http.get("/api/monitoring/slo", params={"tenant_id": tenant})
    assert response.status_code == 200, response.text
    board = response.json()
    [breaker] = board["breakers"]
    assert (breaker["plugin"], breaker["version"]) == (PLUGIN, VERSION)
    history = board["alertHistory"]
    assert {a["delivery"] for a in history} == {"delivered"}
    mine = [a for a in history if a["sloId"] == slo_id]
    assert {a["state"] for a in mine} == {"firing", "resolved"}
    assert mine[0]["state"] == "resolved"
    [panel] = [p for p in board["slos"] if p["slo"]["sloId"] == slo_id]
    assert [b["breakerId"] for b in panel["breakers"]] == [breaker["breakerId"]]
    assert panel["alerts"] == mine
