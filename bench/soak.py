"""Soak: sustained installs, rollouts and outcome reports; memory, latency and lag drift.

Portico: the real security, compat, slo and rollout services (separate
processes) on embedded PostgreSQL and NATS JetStream, for BENCH_SOAK_MINUTES
(default 1). Open loop, at BENCH_SOAK_INSTALL_RATE installs a second (default
1), each a new plugin: InstallSecure at security (verified, approved by the
tenant's policy: rollout requests a canary on its event), then the compat
check (its verdict starts the canary, phases 50/100%, 1 s bakes); meanwhile
BENCH_SOAK_REPORT_RATE outcome reports a second (default 20, 20 good outcomes
each) go to slo for the latest installs, so their canaries pass and complete.

Every BENCH_SOAK_INTERVAL_SECONDS (default 15) it records, per interval: the
RPCs' latency p50/p99, each service process's RSS, and the lag of every
durable consumer (messages not yet delivered or not yet acknowledged). The
figures are the drift: first interval against last, and the least-squares
slope per minute over all intervals.

Baseline, same run, same servers, same intervals: the gRPC health check of
each service, called at the same pace as the workload's RPCs. Its p50 drifts
with the machine alone (a loaded machine slows both), so the ratio of
Portico's p50 to it, first interval against last, is the drift Portico adds.

`BENCH_SOAK_MINUTES=10 python -m bench soak`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from nats.js import JetStreamContext

from bench.stats import percentile
from portico.compat.v1 import compat_pb2, compat_pb2_grpc
from portico.rollout.v1 import rollout_pb2, rollout_pb2_grpc
from portico.security.v1 import install_pb2, install_pb2_grpc, security_pb2, security_pb2_grpc
from portico.slo.v1 import slo_pb2, slo_pb2_grpc
from portico_cli.artifact import Artifact, PublisherKey, build
from portico_cli.scenario import ENGINES, HOST_PACKAGES, HOST_PROFILE, PEER_DEPENDENCIES
from portico_common.events.bus import connect
from portico_common.events.catalog import STREAM
from portico_embedded.nats import NatsServer
from portico_embedded.postgres import PostgresServer
from portico_embedded.testing.databases import prepare_service_database
from portico_embedded.testing.services import ServiceProcess, infra_env

MINUTES = float(os.environ.get("BENCH_SOAK_MINUTES", "1"))
INTERVAL_SECONDS = float(os.environ.get("BENCH_SOAK_INTERVAL_SECONDS", "15"))
INSTALL_RATE = float(os.environ.get("BENCH_SOAK_INSTALL_RATE", "1"))
REPORT_RATE = float(os.environ.get("BENCH_SOAK_REPORT_RATE", "20"))
TENANT = "soak"
VERSION = "1.0.0"
# Outcome reports go to the latest installs: enough for each to pass both phases.
REPORTED = 20
SERVICES = ("security", "compat", "slo", "rollout")
# A loaded machine starts four services slowly.
START_SECONDS = 300.0


@dataclass
class Interval:
    """What one interval saw."""

    latencies: list[float] = field(default_factory=list)
    baseline: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    rss_mib: dict[str, float] = field(default_factory=dict)
    lag: dict[str, int] = field(default_factory=dict)


@dataclass
class Soak:
    """The run's clients, its installs so far and the interval being filled."""

    installs: install_pb2_grpc.InstallServiceAsyncStub
    compat: compat_pb2_grpc.CompatServiceAsyncStub
    slo: slo_pb2_grpc.SloServiceAsyncStub
    health: list[health_pb2_grpc.HealthAsyncStub]
    key: PublisherKey
    current: Interval = field(default_factory=Interval)
    plugins: list[str] = field(default_factory=list)

    async def timed(self, call: Callable[[], Awaitable[object]]) -> None:
        """One workload RPC, and a health check of one service beside it (the baseline)."""
        started = time.perf_counter()
        try:
            await call()
        except grpc.aio.AioRpcError as exc:
            code = exc.code().name
            self.current.errors[code] = self.current.errors.get(code, 0) + 1
            return
        self.current.latencies.append(time.perf_counter() - started)
        probe = self.health[len(self.current.latencies) % len(self.health)]
        started = time.perf_counter()
        await probe.Check(health_pb2.HealthCheckRequest(), timeout=10)
        self.current.baseline.append(time.perf_counter() - started)

    async def install(self, n: int) -> None:
        plugin = f"@acme/soak-plugin-{n}"
        artifact = build(
            plugin, VERSION, self.key, engines=ENGINES, peer_dependencies=PEER_DEPENDENCIES
        )
        await self.timed(lambda: self.installs.InstallSecure(_install(artifact), timeout=30))
        self.plugins.append(plugin)
        await self.timed(
            lambda: self.compat.CheckCompatibility(
                compat_pb2.CheckCompatibilityRequest(
                    tenant_id=TENANT,
                    plugin=plugin,
                    version=VERSION,
                    engines=ENGINES,
                    peer_dependencies=PEER_DEPENDENCIES,
                ),
                timeout=30,
            )
        )

    async def report(self, n: int) -> None:
        if not self.plugins:
            return
        latest = self.plugins[-REPORTED:]
        plugin = latest[n % len(latest)]
        outcomes = [slo_pb2.Outcome(success=True, latency_ms=20 + i) for i in range(20)]
        await self.timed(
            lambda: self.slo.ReportOutcomes(
                slo_pb2.ReportOutcomesRequest(
                    tenant_id=TENANT, plugin=plugin, version=VERSION, outcomes=outcomes
                ),
                timeout=30,
            )
        )


def _install(artifact: Artifact) -> install_pb2.InstallSecureRequest:
    return install_pb2.InstallSecureRequest(
        tenant_id=TENANT,
        plugin=artifact.name,
        version=artifact.version,
        tarball=artifact.tarball,
        integrity=artifact.integrity,
        signature=artifact.signature,
        key_id=artifact.key_id,
        requested_by="soak",
        rollout_phases=[50, 100],
        rollout_bake_seconds=1,
    )


async def paced(rate: float, until: float, send: Callable[[int], Coroutine[Any, Any, None]]) -> int:
    """Open loop: send(i) at `rate` a second until `until`; how many were sent."""
    tasks: set[asyncio.Task[None]] = set()
    start = time.perf_counter()
    i = 0
    while (due := start + i / rate) < until:
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        task = asyncio.create_task(send(i))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        i += 1
    await asyncio.gather(*tasks)
    return i


def rss_mib(process: ServiceProcess) -> float:
    """The process's resident set (Linux /proc), in MiB."""
    assert process.proc is not None
    for line in Path(f"/proc/{process.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def consumer_lag(js: JetStreamContext) -> dict[str, int]:
    """Per durable consumer: messages not yet delivered plus delivered and not yet acked."""
    return {
        str(info.name): int(info.num_pending or 0) + int(info.num_ack_pending or 0)
        for info in await js.consumers_info(STREAM)
    }


async def prepare(target: dict[str, str], key: PublisherKey) -> None:
    """The tenant's publisher key, an install policy that asks no one, its host profile."""
    async with grpc.aio.insecure_channel(target["security"]) as channel:
        await security_pb2_grpc.SecurityServiceStub(channel).RegisterPublisherKey(
            security_pb2.RegisterPublisherKeyRequest(
                tenant_id=TENANT,
                publisher="acme",
                key_id=key.key_id,
                algorithm=security_pb2.KEY_ALGORITHM_ED25519,
                public_key_pem=key.public_key_pem,
            ),
            timeout=30,
        )
        await install_pb2_grpc.InstallServiceStub(channel).SetInstallPolicy(
            install_pb2.SetInstallPolicyRequest(
                tenant_id=TENANT,
                actor="soak",
                reason="every verified install goes to a canary",
                policy=install_pb2.InstallPolicy(
                    approval_below_score=0,
                    blocked_severities=["CRITICAL"],
                    max_artifact_bytes=1 << 20,
                    approval=install_pb2.ApprovalRule(
                        required=1,
                        roles=["security-approver"],
                        timeout_seconds=3600,
                        on_deadline=install_pb2.DEADLINE_ACTION_EXPIRE,
                    ),
                ),
            ),
            timeout=30,
        )
    async with grpc.aio.insecure_channel(target["compat"]) as channel:
        await compat_pb2_grpc.CompatServiceStub(channel).SetHostProfile(
            compat_pb2.SetHostProfileRequest(
                tenant_id=TENANT,
                backstage_version=str(HOST_PROFILE["backstageVersion"]),
                node_version=str(HOST_PROFILE["nodeVersion"]),
                packages=HOST_PACKAGES,
            ),
            timeout=30,
        )


async def rollout_states(target: str) -> dict[str, int]:
    """How many of the tenant's rollouts are in each state."""
    counts: dict[str, int] = {}
    async with grpc.aio.insecure_channel(target) as channel:
        stub = rollout_pb2_grpc.RolloutServiceStub(channel)
        token = ""
        while True:
            page = await stub.ListRollouts(
                rollout_pb2.ListRolloutsRequest(tenant_id=TENANT, page_size=500, page_token=token),
                timeout=30,
            )
            for rollout in page.rollouts:
                name = rollout_pb2.RolloutState.Name(rollout.state).removeprefix("ROLLOUT_STATE_")
                counts[name] = counts.get(name, 0) + 1
            token = page.next_page_token
            if not token:
                return counts


async def soak(processes: dict[str, ServiceProcess], nats_url: str) -> list[Interval]:
    target = {name: p.target for name, p in processes.items()}
    key = PublisherKey.generate("acme", "acme-soak")
    await prepare(target, key)
    nc = await connect(nats_url, "soak-bench")
    channels = {name: grpc.aio.insecure_channel(t) for name, t in target.items()}
    run = Soak(
        installs=install_pb2_grpc.InstallServiceStub(channels["security"]),
        compat=compat_pb2_grpc.CompatServiceStub(channels["compat"]),
        slo=slo_pb2_grpc.SloServiceStub(channels["slo"]),
        health=[health_pb2_grpc.HealthStub(c) for c in channels.values()],
        key=key,
    )
    intervals: list[Interval] = []
    try:
        until = time.perf_counter() + MINUTES * 60
        workload = asyncio.gather(
            paced(INSTALL_RATE, until, run.install), paced(REPORT_RATE, until, run.report)
        )
        while time.perf_counter() < until:
            await asyncio.sleep(min(INTERVAL_SECONDS, until - time.perf_counter()))
            done, run.current = run.current, Interval()
            done.rss_mib = {name: rss_mib(p) for name, p in processes.items()}
            done.lag = await consumer_lag(nc.jetstream())
            intervals.append(done)
        await workload
    finally:
        for channel in channels.values():
            await channel.close(None)
        await nc.close()
    return intervals


def slope_per_minute(values: list[float]) -> float:
    """The least-squares slope of values taken once an interval, per minute."""
    if len(values) < 2:
        return 0.0
    xs = [i * INTERVAL_SECONDS / 60 for i in range(len(values))]
    return statistics.linear_regression(xs, values).slope


def drift(name: str, values: list[float], unit: str) -> str:
    first, last = values[0], values[-1]
    return (
        f"  {name:34s} first {first:9.2f}{unit}  last {last:9.2f}{unit}"
        f"  ({last - first:+.2f}{unit})  slope {slope_per_minute(values):+.3f}{unit}/min"
    )


def report(intervals: list[Interval], sent: int, states: dict[str, int], load: str) -> None:
    failed: dict[str, int] = {}
    for interval in intervals:
        for code, count in interval.errors.items():
            failed[code] = failed.get(code, 0) + count
    print(
        f"soak: {MINUTES:g} min, {len(intervals)} intervals of {INTERVAL_SECONDS:g}s,"
        f" {INSTALL_RATE:g} installs/s, {REPORT_RATE:g} reports/s"
        f" ({sent} workload RPCs, failed: {failed or 'none'}); {load}"
    )
    print("  rollouts at the end: " + ", ".join(f"{k} {v}" for k, v in sorted(states.items())))
    print("  per interval: p50/p99 ms (portico RPCs | health baseline), RSS MiB, lag")
    for n, i in enumerate(intervals):
        ours = [s * 1000 for s in i.latencies] or [0.0]
        base = [s * 1000 for s in i.baseline] or [0.0]
        rss = " ".join(f"{k} {v:.0f}" for k, v in i.rss_mib.items())
        print(
            f"  {n:3d}  {percentile(ours, 0.5):7.2f}/{percentile(ours, 0.99):8.2f}"
            f" | {percentile(base, 0.5):6.2f}/{percentile(base, 0.99):7.2f}"
            f"  rss {rss}  lag {sum(i.lag.values())}"
        )
    print("  drift (first interval vs last, least-squares slope):")
    p50 = [percentile([s * 1000 for s in i.latencies] or [0.0], 0.5) for i in intervals]
    p99 = [percentile([s * 1000 for s in i.latencies] or [0.0], 0.99) for i in intervals]
    base = [percentile([s * 1000 for s in i.baseline] or [0.0], 0.5) for i in intervals]
    print(drift("portico p50", p50, "ms"))
    print(drift("portico p99", p99, "ms"))
    print(drift("baseline p50 (health check)", base, "ms"))
    ratios = [a / b if b else 0.0 for a, b in zip(p50, base, strict=True)]
    print(drift("ratio p50 portico / baseline", ratios, "x"))
    for name in intervals[0].rss_mib:
        print(drift(f"RSS {name}", [i.rss_mib[name] for i in intervals], "MiB"))
    print(drift("consumer lag, all durables", [float(sum(i.lag.values())) for i in intervals], ""))
    worst = max(intervals[-1].lag, key=lambda d: intervals[-1].lag[d], default="")
    if worst:
        print(drift(f"consumer lag, {worst}", [float(i.lag.get(worst, 0)) for i in intervals], ""))


async def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="portico-bench-soak-"))
    nats_server = NatsServer(home / "nats").start()
    pg = PostgresServer(home / "pg", fsync=False, password=secrets.token_hex(16)).start()
    processes: dict[str, ServiceProcess] = {}
    try:
        urls = {s: await prepare_service_database(pg.url, s) for s in SERVICES}
        quiet = {"log_level": "WARNING"}
        for name in ("security", "compat", "slo"):
            processes[name] = ServiceProcess(
                f"portico_{name}", infra_env(urls[name], nats_server.url, **quiet), home / name
            )
        await asyncio.gather(
            *(asyncio.to_thread(p.start, START_SECONDS) for p in processes.values())
        )
        processes["rollout"] = ServiceProcess(
            "portico_rollout",
            infra_env(
                urls["rollout"],
                nats_server.url,
                rollout_slo_target=processes["slo"].target,
                rollout_compat_target=processes["compat"].target,
                **quiet,
            ),
            home / "rollout",
        )
        await asyncio.to_thread(processes["rollout"].start, START_SECONDS)
        intervals = await soak(processes, nats_server.url)
        # What is left once the load stops: a soak that falls behind shows here.
        await asyncio.sleep(5)
        states = await rollout_states(processes["rollout"].target)
        load = "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())
    finally:
        for process in processes.values():
            with contextlib.suppress(Exception):
                await asyncio.to_thread(process.stop)
        nats_server.stop()
        pg.stop()
    sent = sum(len(i.latencies) + sum(i.errors.values()) for i in intervals)
    report(intervals, sent, states, load)
