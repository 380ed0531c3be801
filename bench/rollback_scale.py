"""Rollback at scale: 1,000 canaries in progress, a `slo.violated` for each.

Portico: the real slo and rollout services (separate processes) on embedded
PostgreSQL and NATS JetStream. BENCH_ROLLOUTS canaries (default 1,000, over
BENCH_TENANTS tenants) are requested over gRPC and started by their checks'
verdicts; while slo receives a steady background of good outcome reports,
one violation per canary is published open loop at BENCH_VIOLATION_RATE per
second (0: all at once), and each is timed from its publish to the arrival
of its `rollout.rolled_back` on JetStream.

Baseline, same run, same servers, same pacing: raw nats-py doing the same
hops with no work in between (a JetStream publish, a durable pull consumer
that receives it and publishes a reply to JetStream, a subscriber receiving
the reply). Ratios: Portico p50 / baseline p50 and p99 / p99.

`python -m bench rollback_scale`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import secrets
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import nats
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig

from bench.stats import percentile
from portico.events.v1 import events_pb2 as ev
from portico.rollout.v1 import rollout_pb2 as pb
from portico.rollout.v1 import rollout_pb2_grpc as pb_grpc
from portico.slo.v1 import slo_pb2, slo_pb2_grpc
from portico_common.events.bus import publish
from portico_common.events.catalog import type_of
from portico_common.events.envelope import Envelope
from portico_common.events.topology import owner_source
from portico_common.timestamps import to_timestamp
from portico_embedded.nats import NatsServer
from portico_embedded.postgres import PostgresServer
from portico_embedded.testing.databases import prepare_service_database
from portico_embedded.testing.services import ServiceProcess, infra_env

ROLLOUTS = int(os.environ.get("BENCH_ROLLOUTS", "1000"))
TENANTS = int(os.environ.get("BENCH_TENANTS", "10"))
VIOLATION_RATE = float(os.environ.get("BENCH_VIOLATION_RATE", "20"))
# Background outcome reports to slo while the violations are measured (reports/s, 20 each).
REPORT_RATE = float(os.environ.get("BENCH_REPORT_RATE", "20"))
CONCURRENCY = 16
# 2,000 verdicts go through one durable consumer before the canaries are live.
SETUP_SECONDS = 900.0
WAIT_SECONDS = 120.0


class Canary:
    """One canary of the run: its tenant, plugin and version, and its rollout."""

    def __init__(self, index: int) -> None:
        self.tenant = f"bench-{index % TENANTS:02d}"
        self.plugin = f"@bench/plugin-{index}"
        self.version = "2.0.0"
        self.rollout_id = ""

    def key(self) -> tuple[str, str]:
        return (self.tenant, self.plugin)


async def _bounded(jobs: list[Callable[[], Awaitable[None]]], limit: int) -> None:
    gate = asyncio.Semaphore(limit)

    async def one(job: Callable[[], Awaitable[None]]) -> None:
        async with gate:
            await job()

    await asyncio.gather(*(one(job) for job in jobs))


async def _paced(count: int, rate: float, send: Callable[[int], Coroutine[Any, Any, None]]) -> None:
    """Calls send(i) for each i, open loop at `rate` per second (0: all at once)."""
    start = time.perf_counter()
    tasks: list[asyncio.Task[None]] = []
    for i in range(count):
        if rate > 0:
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(i)))
    await asyncio.gather(*tasks)


async def baseline(url: str, n: int) -> list[float]:
    """Raw nats-py: JetStream publish -> pull consumer -> JetStream reply -> subscriber."""
    nc = await nats.connect(url)
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name="BENCHSCALE", subjects=["benchscale.>"]))
    await js.add_consumer(
        "BENCHSCALE",
        ConsumerConfig(
            durable_name="echo", filter_subject="benchscale.in", ack_policy=AckPolicy.EXPLICIT
        ),
    )
    sub = await js.pull_subscribe_bind(durable="echo", stream="BENCHSCALE")
    sent: dict[bytes, float] = {}
    samples: list[float] = []
    all_back = asyncio.Event()

    async def on_reply(msg: Msg) -> None:
        samples.append(time.perf_counter() - sent[msg.data])
        if len(samples) == n:
            all_back.set()

    await nc.subscribe("benchscale.out", cb=on_reply)

    async def echo() -> None:
        while True:
            try:
                msgs = await sub.fetch(32, timeout=0.05)
            except (TimeoutError, nats.errors.TimeoutError):
                continue
            for msg in msgs:
                await js.publish("benchscale.out", msg.data)
                await msg.ack()

    task = asyncio.create_task(echo())

    async def send(_i: int) -> None:
        key = uuid.uuid4().bytes
        sent[key] = time.perf_counter()
        await js.publish("benchscale.in", key)

    await _paced(n, VIOLATION_RATE, send)
    await asyncio.wait_for(all_back.wait(), WAIT_SECONDS)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await nc.close()
    return samples


async def start_canaries(
    js: JetStreamContext, rollouts: pb_grpc.RolloutServiceAsyncStub, canaries: list[Canary]
) -> float:
    """Requests every canary and publishes its verdicts; seconds until all are in progress."""
    started = time.perf_counter()

    def request(canary: Canary) -> Callable[[], Awaitable[None]]:
        async def job() -> None:
            reply = await rollouts.RequestRollout(
                pb.RequestRolloutRequest(
                    tenant_id=canary.tenant,
                    plugin=canary.plugin,
                    version=canary.version,
                    bake_seconds=3600,
                ),
                timeout=30,
            )
            canary.rollout_id = reply.rollout.rollout_id
            for payload in (
                ev.ArtifactVerified(
                    tenant_id=canary.tenant, plugin=canary.plugin, version=canary.version
                ),
                ev.CompatChecked(
                    tenant_id=canary.tenant,
                    plugin=canary.plugin,
                    version=canary.version,
                    compatible=True,
                ),
            ):
                source = owner_source(type_of(payload))
                await publish(js, Envelope.of(payload, source=source, tenant_id=canary.tenant))

        return job

    await _bounded([request(c) for c in canaries], CONCURRENCY)
    tenants = sorted({c.tenant for c in canaries})
    deadline = time.monotonic() + SETUP_SECONDS
    while True:
        live = 0
        for tenant in tenants:
            token = ""
            while True:
                page = await rollouts.ListRollouts(
                    pb.ListRolloutsRequest(
                        tenant_id=tenant,
                        states=[pb.ROLLOUT_STATE_IN_PROGRESS],
                        page_size=500,
                        page_token=token,
                    ),
                    timeout=30,
                )
                live += len(page.rollouts)
                token = page.next_page_token
                if not token:
                    break
        if live == len(canaries):
            return time.perf_counter() - started
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {live} of {len(canaries)} canaries started")
        await asyncio.sleep(2.0)


async def report_outcomes(
    slo: slo_pb2_grpc.SloServiceAsyncStub, canaries: list[Canary], stop: asyncio.Event
) -> int:
    """Good outcomes of random canaries at REPORT_RATE reports a second; how many reports."""
    rng = random.Random(7)  # noqa: S311 - a load pattern, not a secret
    sent = 0
    while not stop.is_set() and REPORT_RATE > 0:
        canary = rng.choice(canaries)
        outcomes = [
            slo_pb2.Outcome(success=True, latency_ms=rng.randint(20, 90)) for _ in range(20)
        ]
        with contextlib.suppress(grpc.aio.AioRpcError):
            await slo.ReportOutcomes(
                slo_pb2.ReportOutcomesRequest(
                    tenant_id=canary.tenant,
                    plugin=canary.plugin,
                    version=canary.version,
                    outcomes=outcomes,
                    rollout_id=canary.rollout_id,
                ),
                timeout=10,
            )
            sent += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1 / REPORT_RATE)
    return sent


async def violations(js: JetStreamContext, nc: NatsClient, canaries: list[Canary]) -> list[float]:
    """One slo.violated per canary, paced; publish -> rollout.rolled_back received, per canary."""
    sent: dict[tuple[str, str], float] = {}
    samples: dict[tuple[str, str], float] = {}
    all_back = asyncio.Event()

    async def on_rolled_back(msg: Msg) -> None:
        arrived = time.perf_counter()
        env = Envelope.decode(msg.headers, msg.data)
        key = (env.tenant_id, env.payload.plugin)  # type: ignore[attr-defined]
        if key in sent and key not in samples:
            samples[key] = arrived - sent[key]
            if len(samples) == len(canaries):
                all_back.set()

    sub = await nc.subscribe("portico.rollout.rolled_back", cb=on_rolled_back)

    async def send(i: int) -> None:
        canary = canaries[i]
        violation = ev.SloViolated(
            tenant_id=canary.tenant,
            slo_id=f"slo-{i}",
            plugin=canary.plugin,
            version=canary.version,
            rule="bench",
            detected_at=to_timestamp(datetime.now(UTC)),
        )
        envelope = Envelope.of(
            violation, source=owner_source(type_of(violation)), tenant_id=canary.tenant
        )
        sent[canary.key()] = time.perf_counter()
        await publish(js, envelope)

    await _paced(len(canaries), VIOLATION_RATE, send)
    try:
        await asyncio.wait_for(all_back.wait(), WAIT_SECONDS)
    except TimeoutError:
        raise RuntimeError(f"only {len(samples)} of {len(canaries)} rolled back") from None
    await sub.unsubscribe()
    return list(samples.values())


def line(samples: list[float]) -> str:
    ms = [s * 1000 for s in samples]
    return (
        f"n={len(ms)} p50={percentile(ms, 0.5):.2f}ms p99={percentile(ms, 0.99):.2f}ms"
        f" max={max(ms):.2f}ms"
    )


async def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="portico-bench-scale-"))
    nats_server = NatsServer(home / "nats").start()
    pg = PostgresServer(home / "pg", fsync=False, password=secrets.token_hex(16)).start()
    processes: list[ServiceProcess] = []
    try:
        slo_url = await prepare_service_database(pg.url, "slo", "portico_slo.migrations")
        rollout_url = await prepare_service_database(
            pg.url, "rollout", "portico_rollout.migrations"
        )
        quiet = {"log_level": "WARNING"}
        slo = ServiceProcess("portico_slo", infra_env(slo_url, nats_server.url, **quiet), home)
        processes.append(slo)
        await asyncio.to_thread(slo.start)
        rollout = ServiceProcess(
            "portico_rollout",
            infra_env(rollout_url, nats_server.url, rollout_slo_target=slo.target, **quiet),
            home,
        )
        processes.append(rollout)
        await asyncio.to_thread(rollout.start)
        base = await baseline(nats_server.url, ROLLOUTS)
        canaries = [Canary(i) for i in range(ROLLOUTS)]
        nc = await nats.connect(nats_server.url)
        js = nc.jetstream()
        async with (
            grpc.aio.insecure_channel(rollout.target) as rollout_channel,
            grpc.aio.insecure_channel(slo.target) as slo_channel,
        ):
            setup = await start_canaries(js, pb_grpc.RolloutServiceStub(rollout_channel), canaries)
            stop = asyncio.Event()
            reporter = asyncio.create_task(
                report_outcomes(slo_pb2_grpc.SloServiceStub(slo_channel), canaries, stop)
            )
            await asyncio.sleep(1.0)  # the background is steady before the first violation
            ours = await violations(js, nc, canaries)
            stop.set()
            reports = await reporter
        await nc.close()
    finally:
        for process in reversed(processes):
            await asyncio.to_thread(process.stop)
        nats_server.stop()
        pg.stop()
    pace = f"{VIOLATION_RATE:g}/s" if VIOLATION_RATE > 0 else "all at once"
    print(
        f"rollback at scale: {ROLLOUTS} canaries in progress over {TENANTS} tenants"
        f" (started in {setup:.1f}s), one slo.violated each, {pace},"
        f" {reports} background outcome reports"
    )
    print(f"  baseline raw nats-py echo      : {line(base)}")
    print(f"  portico violated -> rolled_back: {line(ours)}")
    p50 = percentile(ours, 0.5) / percentile(base, 0.5)
    p99 = percentile(ours, 0.99) / percentile(base, 0.99)
    print(f"  ratio portico/baseline: p50 {p50:.1f}x, p99 {p99:.1f}x")
