"""Reaction time: `slo.violated` on JetStream → `rollout.rolled_back` on JetStream.

Portico: the real rollout service (a separate process) with N canaries in
progress; each violation is published as a CloudEvent and the clock stops when
the matching `rollout.rolled_back` arrives (inbox + state change + saga steps
+ outbox + relay in between).

Baseline, same run, same servers: raw nats-py doing the same hops with no
work in between: a JetStream publish, a durable pull consumer that receives it
and publishes a reply to JetStream, and a subscriber receiving the reply.
Ratio = Portico p50 / baseline p50.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import grpc
import nats
from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig

from bench.stats import percentile, summary
from portico.events.v1 import events_pb2 as ev
from portico.rollout.v1 import rollout_pb2 as pb
from portico.rollout.v1 import rollout_pb2_grpc as pb_grpc
from portico_common.events.bus import publish
from portico_common.events.catalog import type_of
from portico_common.events.envelope import Envelope
from portico_common.events.topology import owner_source
from portico_common.timestamps import to_timestamp
from portico_embedded.nats import NatsServer
from portico_embedded.postgres import PostgresServer
from portico_embedded.testing.databases import prepare_service_database
from portico_embedded.testing.services import ServiceProcess, infra_env

ROLLOUTS = int(os.environ.get("BENCH_ROLLOUTS", "50"))


async def baseline(url: str, n: int) -> list[float]:
    nc = await nats.connect(url)
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name="BENCH", subjects=["bench.>"]))
    await js.add_consumer(
        "BENCH",
        ConsumerConfig(
            durable_name="echo", filter_subject="bench.in", ack_policy=AckPolicy.EXPLICIT
        ),
    )
    sub = await js.pull_subscribe_bind(durable="echo", stream="BENCH")
    replies: asyncio.Queue[float] = asyncio.Queue()

    async def on_reply(_msg: object) -> None:
        await replies.put(time.perf_counter())

    await nc.subscribe("bench.out", cb=on_reply)

    async def echo() -> None:
        while True:
            try:
                msgs = await sub.fetch(1, timeout=1)
            except (TimeoutError, nats.errors.TimeoutError):
                continue
            for msg in msgs:
                await js.publish("bench.out", msg.data)
                await msg.ack()

    task = asyncio.create_task(echo())
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        await js.publish("bench.in", uuid.uuid4().bytes)
        samples.append(await asyncio.wait_for(replies.get(), 5) - started)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await nc.close()
    return samples


async def portico(url: str, rollout_target: str, n: int) -> list[float]:
    nc = await nats.connect(url)
    js = nc.jetstream()
    tenant = f"bench-{uuid.uuid4().hex[:8]}"
    arrived: dict[str, float] = {}
    done: dict[str, asyncio.Event] = {}

    async def on_rolled_back(msg: nats.aio.msg.Msg) -> None:
        env = Envelope.decode(msg.headers, msg.data)
        key = env.payload.version  # type: ignore[attr-defined]
        arrived[key] = time.perf_counter()
        if key in done:
            done[key].set()

    await nc.subscribe("portico.rollout.rolled_back", cb=on_rolled_back)
    plugin = "@bench/plugin"
    versions = [f"1.0.{i}" for i in range(n)]
    async with grpc.aio.insecure_channel(rollout_target) as channel:
        stub = pb_grpc.RolloutServiceStub(channel)
        ids = []
        for i, version in enumerate(versions):
            name = f"{plugin}-{i}"
            reply = await stub.RequestRollout(
                pb.RequestRolloutRequest(
                    tenant_id=tenant, plugin=name, version=version, bake_seconds=3600
                ),
                timeout=10,
            )
            ids.append(reply.rollout.rollout_id)
            for payload in (
                ev.ArtifactVerified(tenant_id=tenant, plugin=name, version=version),
                ev.CompatChecked(tenant_id=tenant, plugin=name, version=version, compatible=True),
            ):
                await publish(
                    js,
                    Envelope.of(payload, source=owner_source(type_of(payload)), tenant_id=tenant),
                )
        await _wait_in_progress(stub, tenant, ids)
    samples = []
    for i, version in enumerate(versions):
        done[version] = asyncio.Event()
        violation = ev.SloViolated(
            tenant_id=tenant,
            slo_id=f"slo-{i}",
            plugin=f"{plugin}-{i}",
            version=version,
            rule="bench",
            detected_at=to_timestamp(datetime.now(UTC)),
        )
        started = time.perf_counter()
        await publish(
            js, Envelope.of(violation, source=owner_source(type_of(violation)), tenant_id=tenant)
        )
        await asyncio.wait_for(done[version].wait(), 10)
        samples.append(arrived[version] - started)
    await nc.close()
    return samples


async def _wait_in_progress(stub: pb_grpc.RolloutServiceStub, tenant: str, ids: list[str]) -> None:
    """Measuring starts only once every canary is live."""
    deadline = time.monotonic() + 60
    pending = set(ids)
    while pending:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(pending)} rollouts never started")
        for rollout_id in list(pending):
            reply = await stub.GetRollout(
                pb.GetRolloutRequest(tenant_id=tenant, rollout_id=rollout_id), timeout=10
            )
            if reply.rollout.state == pb.ROLLOUT_STATE_IN_PROGRESS:
                pending.discard(rollout_id)
        await asyncio.sleep(0.05)


async def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="portico-bench-"))
    nats_server = NatsServer(home / "nats").start()
    pg = PostgresServer(home / "pg", fsync=False, password=secrets.token_hex(16)).start()
    # Separate processes, as in production, each on a port it binds itself (port 0
    # and a ready file) and connected as its own role; no auth target, so no tokens
    # are needed. slo is there because a rollout needs an SLO for its version.
    processes: list[ServiceProcess] = []
    try:
        slo_url = await prepare_service_database(pg.url, "slo")
        rollout_url = await prepare_service_database(pg.url, "rollout")
        slo = ServiceProcess(
            "portico_slo", infra_env(slo_url, nats_server.url, log_level="WARNING"), home
        )
        processes.append(slo)
        await asyncio.to_thread(slo.start)
        env = infra_env(
            rollout_url, nats_server.url, rollout_slo_target=slo.target, log_level="WARNING"
        )
        rollout = ServiceProcess("portico_rollout", env, home)
        processes.append(rollout)
        await asyncio.to_thread(rollout.start)
        base = await baseline(nats_server.url, ROLLOUTS)
        ours = await portico(nats_server.url, rollout.target, ROLLOUTS)
    finally:
        for process in reversed(processes):
            await asyncio.to_thread(process.stop)
        nats_server.stop()
        pg.stop()
    print("rollback reaction (slo.violated published -> rollout.rolled_back received)")
    print(f"  baseline raw nats-py echo : {summary(base)}")
    print(f"  portico rollout service   : {summary(ours)}")
    ratio = percentile(ours, 0.5) / percentile(base, 0.5)
    print(f"  ratio (p50 portico / p50 baseline): {ratio:.1f}x")
