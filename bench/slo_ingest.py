"""Sustained ingest: ReportOutcomes batches into the slo service, next to a raw asyncpg COPY.

Portico: the real slo service (a separate process) takes batches of outcomes
over gRPC, each with its own event time (a few seconds spread, out of
order), checks each one's lateness, classifies it, counts it into its
bucket, and judges the SLO's four burn-rate tiers in the same transaction;
several clients send at once.

Baseline, same run, same PostgreSQL: the same outcomes as rows (slo, tenant,
time, success, latency) written by asyncpg's `copy_records_to_table` in
batches of the same size: the fastest way to get rows into PostgreSQL.
Ratio = Portico outcomes/s / COPY rows/s.
"""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import grpc

from portico.slo.v1 import slo_pb2 as pb
from portico.slo.v1 import slo_pb2_grpc as pb_grpc
from portico_common.timestamps import to_timestamp
from portico_embedded.nats import NatsServer
from portico_embedded.postgres import PostgresServer
from portico_embedded.testing.databases import prepare_service_database
from portico_embedded.testing.services import ServiceProcess, infra_env
from portico_slo.bootstrap import MIGRATIONS, SERVICE

BATCH = int(os.environ.get("BENCH_SLO_BATCH", "5000"))
BATCHES = int(os.environ.get("BENCH_SLO_BATCHES", "60"))
CLIENTS = int(os.environ.get("BENCH_SLO_CLIENTS", "4"))
TARGET = 50_000
PLUGIN = "@bench/plugin"


def batch(now: datetime, rng: random.Random) -> list[pb.Outcome]:
    return [
        pb.Outcome(
            success=rng.random() > 0.002,
            latency_ms=rng.randrange(5, 400),
            at=to_timestamp(now - timedelta(milliseconds=rng.randrange(0, 5000))),
        )
        for _ in range(BATCH)
    ]


async def portico(target: str, tenant: str) -> tuple[float, int]:
    rng = random.Random(7)  # noqa: S311 - reproducible test data, not secrets
    async with grpc.aio.insecure_channel(target) as channel:
        stub = pb_grpc.SloServiceStub(channel)
        await stub.CreateSlo(
            pb.CreateSloRequest(
                tenant_id=tenant,
                plugin=PLUGIN,
                version="1.0.0",
                objective=0.99,
                latency_threshold_ms=300,
            ),
            timeout=10,
        )
        # Payloads are built before the clock starts: the bench measures the service.
        template = batch(datetime.now(UTC), rng)
        per_client = BATCHES // CLIENTS
        accepted = 0

        async def client() -> None:
            nonlocal accepted
            for _ in range(per_client):
                reply = await stub.ReportOutcomes(
                    pb.ReportOutcomesRequest(
                        tenant_id=tenant, plugin=PLUGIN, version="1.0.0", outcomes=template
                    ),
                    timeout=60,
                )
                accepted += reply.accepted

        await client()  # warm-up: connections, prepared statements
        accepted = 0
        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(CLIENTS)))
        elapsed = time.perf_counter() - started
    return accepted / elapsed, accepted


async def copy_baseline(url: str, rows: int) -> float:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            """CREATE TEMP TABLE outcomes (slo_id text, tenant_id text, at timestamptz,
                                           success boolean, latency_ms integer)"""
        )
        rng = random.Random(7)  # noqa: S311 - reproducible test data, not secrets
        now = datetime.now(UTC)
        records = [
            (
                "slo-1",
                "bench",
                now - timedelta(milliseconds=rng.randrange(0, 5000)),
                rng.random() > 0.002,
                rng.randrange(5, 400),
            )
            for _ in range(BATCH)
        ]
        await conn.copy_records_to_table("outcomes", records=records)  # warm-up
        started = time.perf_counter()
        for _ in range(rows // BATCH):
            await conn.copy_records_to_table("outcomes", records=records)
        return rows / (time.perf_counter() - started)
    finally:
        await conn.close()


async def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="portico-bench-"))
    nats_server = NatsServer(home / "nats").start()
    pg = PostgresServer(home / "pg", fsync=False, password=secrets.token_hex(16)).start()
    try:
        # slo connects as its own role, as in production (it refuses the administrator's).
        slo_url = await prepare_service_database(pg.url, SERVICE, MIGRATIONS)
        slo = ServiceProcess(
            "portico_slo", infra_env(slo_url, nats_server.url, log_level="WARNING"), home
        )
    except BaseException:
        nats_server.stop()
        pg.stop()
        raise
    try:
        await asyncio.to_thread(slo.start)
        rate, accepted = await portico(slo.target, f"bench-{uuid.uuid4().hex[:8]}")
        base = await copy_baseline(pg.url, accepted)
    finally:
        await asyncio.to_thread(slo.stop)
        nats_server.stop()
        pg.stop()
    print(
        f"slo ingest ({accepted:,} outcomes in batches of {BATCH:,}, {CLIENTS} clients, "
        "event times spread over 5 s)"
    )
    print(f"  baseline asyncpg COPY of the same rows : {base:,.0f} rows/s")
    print(f"  portico ReportOutcomes (gRPC, judged)  : {rate:,.0f} outcomes/s")
    print(
        f"  ratio (portico / COPY): {rate / base:.2f}; target {TARGET:,}/s: "
        f"{'met' if rate >= TARGET else 'MISSED'}"
    )
