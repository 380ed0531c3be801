"""Fixtures for the slo integration tests: a migrated database, and the service as a process."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from portico.slo.v1 import slo_pb2_grpc
from portico_common.db import Database, create_pool
from portico_common.migrate import migrate
from portico_embedded.processes import free_port

SERVICE_NAME = "portico.slo.v1.SloService"


@pytest.fixture
async def slo_db(database_url: str) -> AsyncIterator[Database]:
    """The slo schema migrated into a fresh database, with a pool on it."""
    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn, "slo", "portico_slo.migrations")
    finally:
        await conn.close()
    pool = await create_pool(database_url, "slo")
    yield Database(pool, "slo")
    await pool.close()


@dataclass
class SloProcess:
    """`python -m portico_slo` running against the test's NATS and PostgreSQL."""

    proc: asyncio.subprocess.Process
    target: str
    log: Path
    # Typing only: on an aio channel the stub's calls are awaitable.
    stub: slo_pb2_grpc.SloServiceAsyncStub

    def output(self) -> str:
        return self.log.read_text(errors="replace")


async def _wait_serving(
    channel: grpc.aio.Channel, proc: asyncio.subprocess.Process, log: Path
) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    async with asyncio.timeout(60):
        while True:
            if proc.returncode is not None:
                output = await asyncio.to_thread(log.read_text, errors="replace")
                raise RuntimeError(f"slo exited with {proc.returncode}:\n{output}")
            with contextlib.suppress(grpc.aio.AioRpcError):
                reply = await health.Check(
                    health_pb2.HealthCheckRequest(service=SERVICE_NAME), timeout=1
                )
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            await asyncio.sleep(0.1)


@pytest.fixture
async def slo_service(
    database_url: str, nats_url: str, tmp_path: Path
) -> AsyncIterator[SloProcess]:
    """The slo service as its own process, without token checks, serving gRPC."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTICO_")}
    env.update(
        PORTICO_DATABASE_URL=database_url,
        PORTICO_NATS_URL=nats_url,
        PORTICO_GRPC_PORT=str(port),
        PORTICO_METRICS_PORT="0",
        PORTICO_SHUTDOWN_GRACE_SECONDS="5",
    )
    log = tmp_path / "slo.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "portico_slo", env=env, stdout=out, stderr=out
        )
    target = f"127.0.0.1:{port}"
    try:
        async with grpc.aio.insecure_channel(target) as channel:
            await _wait_serving(channel, proc, log)
            yield SloProcess(proc, target, log, slo_pb2_grpc.SloServiceStub(channel))
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), timeout=15)
            except TimeoutError:
                proc.kill()
                await proc.wait()
