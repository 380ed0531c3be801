"""`python -m portico_rollout` as its own process: configured by env, stopped by SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import nats
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from nats.js.api import ConsumerConfig, DeliverPolicy

from portico.events.v1 import events_pb2 as ev
from portico.rollout.v1 import rollout_pb2 as pb
from portico.rollout.v1 import rollout_pb2_grpc as pb_grpc
from portico_common.events.bus import publish
from portico_common.events.catalog import STREAM, subject_for
from portico_common.events.envelope import Envelope
from portico_embedded.processes import free_port
from portico_embedded.testing.fixtures import unique

pytestmark = pytest.mark.integration

PLUGIN = "@acme/plugin-cost-insights"


@dataclass
class Process:
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@pytest.fixture
def rollout_process(database_url: str, nats_url: str, tmp_path: Path) -> Iterator[Process]:
    """The service as a subprocess on a free port, token checks off (no PORTICO_AUTH_TARGET)."""
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PORTICO_") or key.startswith("PORTICO_TEST_")
    }
    env |= {
        "PORTICO_DATABASE_URL": database_url,
        "PORTICO_NATS_URL": nats_url,
        "PORTICO_GRPC_PORT": str(port),
        "PORTICO_METRICS_PORT": "0",
        "PORTICO_ROLLOUT_TICK_SECONDS": "0.05",
    }
    log_path = tmp_path / "rollout.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "portico_rollout"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        yield Process(port, proc, log_path)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def wait_until_serving(port: int) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for _ in range(300):
            try:
                answer = await health.Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
                if answer.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.aio.AioRpcError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("rollout never reported SERVING")


async def test_process_serves_events_and_rpcs_then_stops_cleanly(
    rollout_process: Process, nats_url: str
) -> None:
    """The process serves gRPC, turns verdicts into rollout.started, and exits 0 on SIGTERM."""
    await wait_until_serving(rollout_process.port)
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    async with grpc.aio.insecure_channel(f"127.0.0.1:{rollout_process.port}") as channel:
        stub = pb_grpc.RolloutServiceStub(channel)
        rollout = (
            await stub.RequestRollout(
                pb.RequestRolloutRequest(tenant_id=tenant, plugin=PLUGIN, version="2.3.0"),
                timeout=10,
            )
        ).rollout
        assert rollout.bake_seconds == 300
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
                await publish(js, Envelope.of(payload, source="tests", tenant_id=tenant))
            [msg] = await watch.fetch(1, timeout=15)
            started = Envelope.decode(msg.headers, msg.data)
        finally:
            await nc.close()
        assert started.payload.rollout_id == rollout.rollout_id  # type: ignore[attr-defined]
        got = await stub.GetRollout(
            pb.GetRolloutRequest(tenant_id=tenant, rollout_id=rollout.rollout_id), timeout=10
        )
        assert got.rollout.state == pb.ROLLOUT_STATE_IN_PROGRESS
    rollout_process.proc.send_signal(signal.SIGTERM)
    code = await asyncio.to_thread(rollout_process.proc.wait, 30)
    assert code == 0, rollout_process.output()
