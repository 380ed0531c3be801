"""Real PostgreSQL and NATS JetStream for the security service's integration tests.

`security_service` runs `python -m portico_security` as its own process on a
fresh database and a fresh JetStream server, exactly as `portico up` would:
it binds port 0 and says which port it got in its ready file. On teardown
it must shut down cleanly on SIGTERM.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import grpc
import pytest
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from portico.security.v1 import security_pb2_grpc as pb_grpc
from portico_common.events.bus import connect
from portico_embedded.testing.databases import ServiceDatabaseUrl
from portico_embedded.testing.services import ServiceProcess, infra_env

T = TypeVar("T")


@pytest.fixture
def service_env() -> dict[str, str]:
    """Extra PORTICO_* settings for the service process; parametrize to override."""
    return {}


@pytest.fixture
async def security_url(service_database_url: ServiceDatabaseUrl) -> str:
    """The test's database migrated for security: the URL of security's own role."""
    return await service_database_url("security")


@pytest.fixture
def security_service(
    security_url: str, nats_url: str, tmp_path: Path, service_env: dict[str, str]
) -> Iterator[str]:
    """`host:port` of a running security process; it must exit 0 on SIGTERM afterwards."""
    service = ServiceProcess(
        "portico_security", {**infra_env(security_url, nats_url), **service_env}, tmp_path
    )
    service.start()
    try:
        yield service.target
    finally:
        service.assert_stopped_cleanly()


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
