"""A plugin version's circuit breaker opens and rolls its canary back, across real processes.

slo and rollout run as their own processes on real PostgreSQL and NATS
JetStream; the security and compat verdicts that start the canary are real
CloudEvents published as their owners; the gateway app answers HTTP in this
process, in front of slo, as a portal calls it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import grpc
import httpx
import nats
import pytest
from nats.js.api import ConsumerConfig, DeliverPolicy
from prometheus_client import CollectorRegistry

from portico.events.v1 import events_pb2 as ev
from portico.rollout.v1 import rollout_pb2 as rollout_pb
from portico.rollout.v1 import rollout_pb2_grpc as rollout_grpc
from portico.slo.v1 import breakers_pb2 as pb
from portico.slo.v1 import breakers_pb2_grpc as pb_grpc
from portico.slo.v1 import slo_pb2, slo_pb2_grpc
from portico_common.events.bus import publish
from portico_common.events.catalog import STREAM, subject_for, type_of
from portico_common.events.envelope import Envelope
from portico_common.events.topology import owner_source
from portico_embedded.testing.databases import ServiceDatabaseUrl
from portico_embedded.testing.fixtures import unique
from portico_embedded.testing.services import ServiceProcess, infra_env, running_process
from portico_gateway.app import create_app

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

PLUGIN = "@acme/plugin-cost-insights"
VERSION = "2.3.0"


@pytest.fixture
async def slo(
    service_database_url: ServiceDatabaseUrl, nats_url: str, tmp_path: Path
) -> AsyncIterator[ServiceProcess]:
    env = infra_env(await service_database_url("slo"), nats_url)
    async with running_process(
        "portico_slo", env, tmp_path / "slo", health_service="portico.slo.v1.BreakerService"
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
        # The state is read over gRPC, which has no change notification to wait on.
        while not await probe():  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def test_an_opening_breaker_rolls_the_canary_back(
    slo: ServiceProcess, rollout: ServiceProcess, nats_url: str
) -> None:
    """Ten failed calls open 2.3.0's breaker; rollout rolls the canary back naming the breaker.

    GetBreaker through the gateway then shows the breaker open with its window.
    """
    tenant = unique("t").replace("_", "-")
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    watch = await js.pull_subscribe(
        subject_for("slo.breaker.opened"),
        durable=unique("watch"),
        stream=STREAM,
        config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL),
    )
    rollout_channel = grpc.aio.insecure_channel(rollout.target)
    slo_channel = grpc.aio.insecure_channel(slo.target)
    try:
        rollouts = rollout_grpc.RolloutServiceStub(rollout_channel)
        # RequestRollout ensures the version's SLO from this template: it needs more
        # outcomes than the ten sent below, so the breaker alone reacts to them.
        await slo_pb2_grpc.SloServiceStub(slo_channel).CreateSloTemplate(
            slo_pb2.CreateSloTemplateRequest(
                tenant_id=tenant,
                template=slo_pb2.SloTemplate(
                    name="patient",
                    spec=slo_pb2.SloSpec(objective=0.99, min_events=1000),
                    canary_min_events=1000,
                    is_default=True,
                ),
            ),
            timeout=10,
        )
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

        async def state() -> rollout_pb.RolloutState.ValueType:
            got = await rollouts.GetRollout(
                rollout_pb.GetRolloutRequest(tenant_id=tenant, rollout_id=rollout_id), timeout=10
            )
            return got.rollout.state

        async def in_progress() -> bool:
            return await state() == rollout_pb.ROLLOUT_STATE_IN_PROGRESS

        await eventually(in_progress)

        breakers = pb_grpc.BreakerServiceStub(slo_channel)
        configured = await breakers.ConfigureBreaker(
            pb.ConfigureBreakerRequest(
                tenant_id=tenant,
                plugin=PLUGIN,
                version=VERSION,
                config=pb.BreakerConfig(sliding_window_size=10, minimum_number_of_calls=10),
            ),
            timeout=10,
        )
        breaker_id = configured.breaker.breaker_id
        reported = await slo_pb2_grpc.SloServiceStub(slo_channel).ReportOutcomes(
            slo_pb2.ReportOutcomesRequest(
                tenant_id=tenant,
                plugin=PLUGIN,
                version=VERSION,
                outcomes=[slo_pb2.Outcome(success=False, latency_ms=30)] * 10,
            ),
            timeout=10,
        )
        assert reported.accepted == 10

        async def rolled_back() -> bool:
            return await state() == rollout_pb.ROLLOUT_STATE_ROLLED_BACK

        await eventually(rolled_back)
        got = await rollouts.GetRollout(
            rollout_pb.GetRolloutRequest(tenant_id=tenant, rollout_id=rollout_id), timeout=10
        )
        [message] = await watch.fetch(1, timeout=10)
        opened = Envelope.decode(message.headers, message.data)
    finally:
        await rollout_channel.close(grace=None)
        await slo_channel.close(grace=None)
        await nc.close()

    assert got.rollout.reason == (
        f"circuit breaker {breaker_id} opened: "
        "CLOSED -> OPEN: failure rate 100% >= 50% over 10 calls"
    )
    assert opened.tenant_id == tenant
    assert isinstance(opened.payload, ev.BreakerOpened)
    assert opened.payload.change.breaker_id == breaker_id

    app = create_app({"slo": slo.target}, registry=CollectorRegistry())
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as http,
    ):
        response = await http.get(f"/v1/tenants/{tenant}/breakers/{breaker_id}")
        missing = await http.get(f"/v1/tenants/{tenant}/breakers/no-such-breaker")
    assert response.status_code == 200, response.text
    breaker = response.json()["breaker"]
    assert breaker["state"] == "BREAKER_STATE_OPEN"
    assert breaker["metrics"]["failureRate"] == 100
    assert breaker["metrics"]["bufferedCalls"] == 10
    assert breaker["plugin"] == PLUGIN
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
