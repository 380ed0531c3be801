"""serve() keeps health NOT_SERVING until its readiness checks are done, then SERVING."""

from __future__ import annotations

import asyncio
import logging

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from pydantic import SecretStr

from portico_common.clock import ManualClock
from portico_common.runtime import Runtime, serve
from portico_common.settings import ServiceSettings
from portico_embedded.testing.databases import ServiceDatabaseUrl

pytestmark = pytest.mark.integration


async def _status(port: int) -> int:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=""), timeout=5
        )
    return int(reply.status)


class Listening(logging.Handler):
    """Catches the runtime's "listening" line: the port, before the service is ready."""

    def __init__(self) -> None:
        super().__init__()
        self.port = 0
        self.seen = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage() == "listening":
            self.port = int(record.__dict__["port"])
            self.seen.set()


async def test_health_waits_for_readiness(
    service_database_url: ServiceDatabaseUrl, nats_url: str
) -> None:
    """Listening but not ready: NOT_SERVING and no `ready` call; once ready: SERVING."""
    settings = ServiceSettings(
        nats_url=nats_url,
        database_url=SecretStr(await service_database_url("readinesstest", None)),
        grpc_port=0,
        metrics_port=-1,
        shutdown_grace_seconds=1.0,
        unsafe_no_auth=True,
    )
    rt = await Runtime.start("readinesstest", settings, None, clock=ManualClock())
    gate = asyncio.Event()
    served: asyncio.Queue[int] = asyncio.Queue()
    stop = asyncio.Event()
    listening = Listening()
    logger = logging.getLogger("portico_common.runtime")
    logger.addHandler(listening)
    level = logger.level
    logger.setLevel(logging.INFO)
    task = asyncio.create_task(serve(rt, readiness=[gate.wait], ready=served.put_nowait, stop=stop))
    try:
        await asyncio.wait_for(listening.seen.wait(), 20)
        assert await _status(listening.port) == health_pb2.HealthCheckResponse.NOT_SERVING
        await asyncio.sleep(0.1)
        assert served.empty()
        gate.set()
        assert await asyncio.wait_for(served.get(), 10) == listening.port
        assert await _status(listening.port) == health_pb2.HealthCheckResponse.SERVING
    finally:
        logger.removeHandler(listening)
        logger.setLevel(level)
        stop.set()
        await asyncio.wait_for(task, 20)


async def test_a_service_stopped_before_it_was_ready_shuts_down(
    service_database_url: ServiceDatabaseUrl, nats_url: str
) -> None:
    """A readiness check that never finishes does not keep a stopping service alive."""
    url = await service_database_url("readinesstest", None)
    settings = ServiceSettings(
        nats_url=nats_url,
        database_url=SecretStr(url),
        grpc_port=0,
        metrics_port=-1,
        unsafe_no_auth=True,
    )
    rt = await Runtime.start("readinesstest", settings, None, clock=ManualClock())
    stop = asyncio.Event()
    never = asyncio.Event()
    served: list[int] = []
    task = asyncio.create_task(serve(rt, readiness=[never.wait], ready=served.append, stop=stop))
    await asyncio.sleep(0.3)
    stop.set()
    await asyncio.wait_for(task, 20)
    assert served == []
