"""Real PostgreSQL and NATS JetStream for the security service's integration tests.

`security_service` runs `python -m portico_security` as its own process on a
fresh database and a fresh JetStream server, exactly as `portico up` would,
and checks on teardown that it shuts down cleanly on SIGTERM.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import asyncpg
import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from portico.security.v1 import security_pb2_grpc as pb_grpc
from portico_common.db import Database, create_pool
from portico_common.events.bus import connect
from portico_common.migrate import migrate
from portico_embedded.processes import free_port

SCHEMA = "security"
T = TypeVar("T")


@pytest.fixture
async def migrated_url(database_url: str) -> str:
    """The fresh database with the kernel's and security's migrations applied."""
    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn, SCHEMA, "portico_security.migrations")
    finally:
        await conn.close()
    return database_url


@pytest.fixture
async def db(migrated_url: str) -> AsyncIterator[Database]:
    """Transactions as the application role, exactly as the service opens them."""
    pool = await create_pool(migrated_url, SCHEMA, min_size=1, max_size=4)
    yield Database(pool, SCHEMA)
    await pool.close()


@pytest.fixture
async def admin(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A superuser connection, which row-level security does not restrict: the whole truth."""
    conn = await asyncpg.connect(database_url)
    yield conn
    await conn.close()


def _wait_serving(target: str, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"security exited with {proc.returncode}:\n{log.read_text()}")
            try:
                status = health.Check(health_pb2.HealthCheckRequest(), timeout=1).status
            except grpc.RpcError:
                status = None
            if status == health_pb2.HealthCheckResponse.SERVING:
                return
            time.sleep(0.1)
    pytest.fail(f"security did not report SERVING within {timeout}s:\n{log.read_text()}")


@pytest.fixture
def service_env() -> dict[str, str]:
    """Extra PORTICO_* settings for the service process; parametrize to override."""
    return {}


@pytest.fixture
def security_service(
    database_url: str, nats_url: str, tmp_path: Path, service_env: dict[str, str]
) -> Iterator[str]:
    """`host:port` of a running security process; it must exit 0 on SIGTERM afterwards."""
    target = f"127.0.0.1:{free_port()}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTICO_")}
    env.update(
        PORTICO_DATABASE_URL=database_url,
        PORTICO_NATS_URL=nats_url,
        PORTICO_GRPC_PORT=target.rsplit(":", 1)[1],
        PORTICO_METRICS_PORT="0",
        PORTICO_SHUTDOWN_GRACE_SECONDS="5",
    )
    env.update(service_env)
    log = tmp_path / "security.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "portico_security"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_serving(target, proc, log, timeout=60)
        yield target
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    assert proc.returncode == 0, f"unclean shutdown ({proc.returncode}):\n{log.read_text()}"


@pytest.fixture
async def stub(security_service: str) -> AsyncIterator[pb_grpc.SecurityServiceAsyncStub]:
    async with grpc.aio.insecure_channel(security_service) as channel:
        yield pb_grpc.SecurityServiceStub(channel)


@pytest.fixture
async def js(nats_url: str) -> AsyncIterator[JetStreamContext]:
    nc: NatsClient = await connect(nats_url, "security-tests")
    yield nc.jetstream()
    await nc.close()


async def _eventually(
    probe: Callable[[], Awaitable[T | None]], *, within: float = 10.0, what: str
) -> T:
    deadline = time.monotonic() + within
    while True:
        value = await probe()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {within}s")
        await asyncio.sleep(0.05)


@pytest.fixture
def eventually() -> Callable[..., Awaitable[object]]:
    """`await eventually(probe, what=...)`: polls `probe` until it returns something not None."""
    return _eventually
