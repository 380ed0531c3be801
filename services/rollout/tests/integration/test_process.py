"""`python -m portico_rollout` as its own process: configured by env, stopped by SIGTERM."""

from __future__ import annotations

from pathlib import Path

import grpc
import nats
import pytest
from nats.js.api import ConsumerConfig, DeliverPolicy

from portico.events.v1 import events_pb2 as ev
from portico.rollout.v1 import rollout_pb2 as pb
from portico.rollout.v1 import rollout_pb2_grpc as pb_grpc
from portico.slo.v1 import slo_pb2, slo_pb2_grpc
from portico_common.events.bus import publish
from portico_common.events.catalog import STREAM, subject_for, type_of
from portico_common.events.envelope import Envelope
from portico_common.events.topology import owner_source
from portico_embedded.testing.databases import ServiceDatabaseUrl
from portico_embedded.testing.fixtures import unique, unique_tenant
from portico_embedded.testing.services import infra_env, running_process

pytestmark = pytest.mark.integration

PLUGIN = "@acme/plugin-cost-insights"


async def test_process_serves_events_and_rpcs_then_stops_cleanly(
    service_database_url: ServiceDatabaseUrl, nats_url: str, tmp_path: Path
) -> None:
    """The process serves gRPC, turns verdicts into rollout.started, and exits 0 on SIGTERM.

    Token checks are off (no PORTICO_AUTH_TARGET); the port is the one the
    process bound itself and reported in its ready file. slo runs as a process
    too: the request ensures the version's SLO there before the rollout exists.
    """
    slo_env = infra_env(await service_database_url("slo"), nats_url)
    (tmp_path / "slo").mkdir()
    async with running_process("portico_slo", slo_env, tmp_path / "slo") as slo:
        env = infra_env(
            await service_database_url("rollout"),
            nats_url,
            rollout_tick_seconds="0.05",
            rollout_slo_target=slo.target,
        )
        async with (
            running_process("portico_rollout", env, tmp_path) as process,
            grpc.aio.insecure_channel(process.target) as channel,
            grpc.aio.insecure_channel(slo.target) as slo_channel,
        ):
            await serve_a_rollout(
                nats_url,
                pb_grpc.RolloutServiceStub(channel),
                slo_pb2_grpc.SloServiceStub(slo_channel),
            )


async def serve_a_rollout(
    nats_url: str, stub: pb_grpc.RolloutServiceAsyncStub, slo: slo_pb2_grpc.SloServiceAsyncStub
) -> None:
    """A rollout requested, its SLO at slo, its checks passed: it starts."""
    tenant = unique_tenant()
    rollout = (
        await stub.RequestRollout(
            pb.RequestRolloutRequest(tenant_id=tenant, plugin=PLUGIN, version="2.3.0"),
            timeout=10,
        )
    ).rollout
    assert rollout.bake_seconds == 300
    assert rollout.slo_id
    ensured = await slo.GetSlo(
        slo_pb2.GetSloRequest(tenant_id=tenant, slo_id=rollout.slo_id), timeout=10
    )
    assert (ensured.slo.plugin, ensured.slo.version) == (PLUGIN, "2.3.0")
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        watch = await js.pull_subscribe(
            subject_for("rollout.started"),
            durable=unique("watch"),
            stream=STREAM,
            config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL),
        )
        for payload in (
            ev.ArtifactVerified(tenant_id=tenant, plugin=PLUGIN, version="2.3.0"),
            ev.CompatChecked(tenant_id=tenant, plugin=PLUGIN, version="2.3.0", compatible=True),
        ):
            await publish(
                js,
                Envelope.of(payload, source=owner_source(type_of(payload)), tenant_id=tenant),
            )
        [msg] = await watch.fetch(1, timeout=15)
        started = Envelope.decode(msg.headers, msg.data)
    finally:
        await nc.close()
    assert started.payload.rollout_id == rollout.rollout_id  # type: ignore[attr-defined]
    got = await stub.GetRollout(
        pb.GetRolloutRequest(tenant_id=tenant, rollout_id=rollout.rollout_id), timeout=10
    )
    assert got.rollout.state == pb.ROLLOUT_STATE_IN_PROGRESS
