"""A broken plugin version takes the plugin that needs it back with it, across real processes.

compat (with a package catalog saying B 2 needs A 2 as a peer), slo and
rollout run as their own processes on real PostgreSQL and NATS JetStream.
A and B are installed at 1.0.0 by completed rollouts, then both go 2.0.0 in
canary; slo.violated for A 2.0.0 rolls A back with its decision, and
rollout's saga runner asks compat which installed plugins need A 2.0.0 and
rolls B back after it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import grpc
import nats
import pytest
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy

from portico.events.v1 import events_pb2 as ev
from portico.rollout.v1 import rollout_pb2 as pb
from portico.rollout.v1 import rollout_pb2_grpc as pb_grpc
from portico_common.events.bus import publish
from portico_common.events.catalog import STREAM, subject_for, type_of
from portico_common.events.envelope import Envelope
from portico_common.events.topology import owner_source
from portico_embedded.testing.databases import ServiceDatabaseUrl
from portico_embedded.testing.fixtures import unique
from portico_embedded.testing.services import ServiceProcess, infra_env, running_process

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

A, B = "@acme/plugin-a", "@acme/plugin-b"

CATALOG = {
    A: {"versions": {"1.0.0": {}, "2.0.0": {}}},
    B: {
        "versions": {
            "1.0.0": {"peerDependencies": {A: "^1.0.0"}},
            "2.0.0": {"peerDependencies": {A: "^2.0.0"}},
        }
    },
}


@pytest.fixture
async def compat(
    service_database_url: ServiceDatabaseUrl, nats_url: str, tmp_path: Path
) -> AsyncIterator[ServiceProcess]:
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(CATALOG))
    env = infra_env(await service_database_url("compat"), nats_url, catalog_file=str(catalog))
    async with running_process(
        "portico_compat", env, tmp_path / "compat", health_service="portico.compat.v1.CompatService"
    ) as service:
        yield service


@pytest.fixture
async def slo(
    service_database_url: ServiceDatabaseUrl, nats_url: str, tmp_path: Path
) -> AsyncIterator[ServiceProcess]:
    env = infra_env(await service_database_url("slo"), nats_url)
    async with running_process(
        "portico_slo", env, tmp_path / "slo", health_service="portico.slo.v1.SloService"
    ) as service:
        yield service


@pytest.fixture
async def rollout(
    compat: ServiceProcess,
    slo: ServiceProcess,
    service_database_url: ServiceDatabaseUrl,
    nats_url: str,
    tmp_path: Path,
) -> AsyncIterator[ServiceProcess]:
    env = infra_env(
        await service_database_url("rollout"),
        nats_url,
        rollout_tick_seconds="0.05",
        rollout_slo_target=slo.target,
        rollout_compat_target=compat.target,
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


class Tenant:
    """One tenant's rollouts over gRPC, with its verdicts published as their owners."""

    def __init__(
        self, stub: pb_grpc.RolloutServiceAsyncStub, js: JetStreamContext, tenant: str
    ) -> None:
        self.stub, self.js, self.tenant = stub, js, tenant

    async def get(self, rollout_id: str) -> pb.Rollout:
        reply = await self.stub.GetRollout(
            pb.GetRolloutRequest(tenant_id=self.tenant, rollout_id=rollout_id), timeout=10
        )
        return reply.rollout

    async def canary(self, plugin: str, version: str, phases: list[int]) -> str:
        """Requests the rollout and passes both checks: its first phase is live."""
        requested = await self.stub.RequestRollout(
            pb.RequestRolloutRequest(
                tenant_id=self.tenant,
                plugin=plugin,
                version=version,
                bake_seconds=600,
                phases=phases,
            ),
            timeout=10,
        )
        rollout_id = requested.rollout.rollout_id
        for verdict in (
            ev.ArtifactVerified(tenant_id=self.tenant, plugin=plugin, version=version),
            ev.CompatChecked(
                tenant_id=self.tenant, plugin=plugin, version=version, compatible=True
            ),
        ):
            envelope = Envelope.of(
                verdict, source=owner_source(type_of(verdict)), tenant_id=self.tenant
            )
            await publish(self.js, envelope)

        async def live() -> bool:
            return (await self.get(rollout_id)).state == pb.ROLLOUT_STATE_IN_PROGRESS

        await eventually(live)
        return rollout_id

    async def install(self, plugin: str, version: str) -> None:
        """A one-phase rollout promoted by an operator: the version is the stable one."""
        rollout_id = await self.canary(plugin, version, [100])
        promoted = await self.stub.PromoteRollout(
            pb.PromoteRolloutRequest(tenant_id=self.tenant, rollout_id=rollout_id, reason="seed"),
            timeout=10,
        )
        assert promoted.rollout.state == pb.ROLLOUT_STATE_COMPLETED

    async def resolved(self, plugin: str, user: str) -> str:
        reply = await self.stub.ResolveVersion(
            pb.ResolveVersionRequest(tenant_id=self.tenant, user_id=user, plugin=plugin),
            timeout=10,
        )
        return reply.version


async def test_breaking_a_rolls_back_b_that_needs_it(
    rollout: ServiceProcess, nats_url: str
) -> None:
    """slo.violated for A 2.0.0: A goes back to 1.0.0, then B (B 2 needs A 2) goes back too."""
    tenant_id = unique("t").replace("_", "-")
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    channel = grpc.aio.insecure_channel(rollout.target)
    try:
        stub = pb_grpc.RolloutServiceStub(channel)
        tenant = Tenant(stub, js, tenant_id)
        await tenant.install(A, "1.0.0")
        await tenant.install(B, "1.0.0")
        a = await tenant.canary(A, "2.0.0", [50, 100])
        b = await tenant.canary(B, "2.0.0", [50, 100])
        watch = await js.pull_subscribe(
            subject_for("rollout.rolled_back"),
            durable=unique("watch"),
            stream=STREAM,
            config=ConsumerConfig(deliver_policy=DeliverPolicy.NEW),
        )
        violation = ev.SloViolated(
            tenant_id=tenant_id, slo_id="slo-a", plugin=A, version="2.0.0", rule="fast burn"
        )
        await publish(
            js, Envelope.of(violation, source=owner_source(type_of(violation)), tenant_id=tenant_id)
        )

        seen: list[ev.RolloutRolledBack] = []

        async def both_back() -> bool:
            try:
                for message in await watch.fetch(10, timeout=0.2):
                    await message.ack()
                    envelope = Envelope.decode(message.headers, message.data)
                    if envelope.tenant_id == tenant_id:
                        assert isinstance(envelope.payload, ev.RolloutRolledBack)
                        seen.append(envelope.payload)
            except nats.errors.TimeoutError:
                pass
            return len(seen) >= 2

        await eventually(both_back)
        got_a, got_b = await tenant.get(a), await tenant.get(b)
        answers = [await tenant.resolved(p, f"user-{i}") for p in (A, B) for i in range(20)]
    finally:
        await channel.close(grace=None)
        await nc.close()

    # A first (traffic back with the decision), then B, which needs A 2.
    assert [(e.rollout_id, e.plugin, e.cause_rollout_id) for e in seen] == [
        (a, A, ""),
        (b, B, a),
    ]
    assert [e.stable_version for e in seen] == ["1.0.0", "1.0.0"]
    assert (got_a.state, got_b.state) == (pb.ROLLOUT_STATE_ROLLED_BACK,) * 2
    assert got_b.reason == f"needs {A}@2.0.0, rolled back by rollout {a}"
    # Every user is on the stable versions again.
    assert answers == ["1.0.0"] * 40
