"""A service on the kernel rides out PostgreSQL and NATS outages, on real servers.

PostgreSQL is a server of the test's own (the session's is shared): stopped
and started again on the same port and data while the service keeps running.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg
import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2  # type: ignore[import-untyped]
from grpc_health.v1 import health_pb2, health_pb2_grpc

from portico.tenancy.v1 import tenancy_pb2, tenancy_pb2_grpc
from portico_common.dependency_health import LIVENESS
from portico_embedded.nats import NatsServer
from portico_embedded.postgres import PostgresServer

if TYPE_CHECKING:
    from conftest import Service

pytestmark = pytest.mark.integration

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
FAST = {"health_probe_seconds": 0.2}


@pytest.fixture
def own_postgres(tmp_path: Path) -> Iterator[PostgresServer]:
    """A PostgreSQL server only this test uses, so it may stop it."""
    tmp_path.chmod(0o711)
    server = PostgresServer(
        tmp_path / "pg",
        database="postgres",
        fsync=False,
        password=secrets.token_hex(16),
        scram_iterations=16,
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()
        server.remove()


@pytest.fixture
async def own_database(own_postgres: PostgresServer) -> str:
    """A database on `own_postgres`, as its administrator."""
    admin = await asyncpg.connect(own_postgres.url)
    try:
        await admin.execute('CREATE DATABASE "outage"')
    finally:
        await admin.close()
    base, _, _ = own_postgres.url.rpartition("/")
    return f"{base}/outage"


@pytest.fixture
async def service(
    own_database: str, nats_url: str, kernel_service: Callable[..., Any]
) -> AsyncIterator[Service]:
    """TinyTenancy under serve() on the test's own PostgreSQL, probing health every 0.2 s."""
    async with kernel_service(own_database, nats_url, overrides=FAST) as running:
        yield running


async def _health(channel: grpc.aio.Channel, name: str = "") -> int:
    reply = await health_pb2_grpc.HealthStub(channel).Check(
        health_pb2.HealthCheckRequest(service=name), timeout=5
    )
    return int(reply.status)


async def _eventually(
    probe: Callable[[], Awaitable[object]], expected: object, within: float = 15.0
) -> None:
    deadline = time.monotonic() + within
    last: object = None
    while time.monotonic() < deadline:
        last = await probe()
        if last == expected:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"expected {expected!r} within {within}s, last {last!r}")


def _create(name: str) -> tenancy_pb2.CreateTenantRequest:
    return tenancy_pb2.CreateTenantRequest(tenant_id=name, display_name=name)


def _details(error: grpc.aio.AioRpcError) -> dict[str, object]:
    trailers = error.trailing_metadata() or ()
    raw = next(v for k, v in trailers if k == "grpc-status-details-bin")
    status = status_pb2.Status.FromString(raw)
    found: dict[str, object] = {}
    for detail in status.details:
        if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info = error_details_pb2.RetryInfo()
            detail.Unpack(info)
            found["retry_seconds"] = info.retry_delay.seconds
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            error_info = error_details_pb2.ErrorInfo()
            detail.Unpack(error_info)
            found["reason"] = error_info.reason
            found["dependency"] = error_info.metadata["dependency"]
    return found


async def test_postgres_outage_answers_unavailable_and_recovers(
    service: Service, own_postgres: PostgresServer, own_database: str
) -> None:
    """While PostgreSQL is down RPCs fail UNAVAILABLE naming it, health is NOT_SERVING;
    once it is back the same request succeeds and its event is relayed and consumed."""
    async with grpc.aio.insecure_channel(service.target) as channel:
        stub = tenancy_pb2_grpc.TenancyServiceStub(channel)
        await stub.CreateTenant(_create("before"), timeout=10)
        await asyncio.wait_for(service.arrived.wait(), 15)
        service.arrived.clear()
        assert await _health(channel) == SERVING

        own_postgres.stop()
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.CreateTenant(_create("during"), timeout=10)
        error = caught.value
        assert error.code() == grpc.StatusCode.UNAVAILABLE
        assert error.details() == "PostgreSQL is unreachable; retry in 2s"
        assert _details(error) == {
            "retry_seconds": 2,
            "reason": "DEPENDENCY_UNAVAILABLE",
            "dependency": "postgresql",
        }
        await _eventually(lambda: _health(channel), NOT_SERVING)
        assert await _health(channel, "portico.postgresql") == NOT_SERVING
        # Liveness is not readiness: nothing should restart a process that waits.
        assert await _health(channel, LIVENESS) == SERVING

        own_postgres.start()
        await _eventually(lambda: _health(channel), SERVING)
        await stub.CreateTenant(_create("during"), timeout=10)
        await asyncio.wait_for(service.arrived.wait(), 15)

    # Nothing half-applied: exactly the two successful calls left events behind.
    assert [e.tenant_id for e in service.seen] == ["before", "during"]
    conn = await asyncpg.connect(own_database)
    try:
        rows = await conn.fetch("SELECT tenant_id FROM kerneltest.outbox ORDER BY seq")
    finally:
        await conn.close()
    assert [r["tenant_id"] for r in rows] == ["before", "during"]


async def test_nats_outage_keeps_writes_and_relays_them_after(
    service: Service, nats_server: NatsServer
) -> None:
    """With NATS down RPCs still commit (outbox) and health names NATS; after its
    restart the relay publishes and the consumer handles the event, unaided."""
    async with grpc.aio.insecure_channel(service.target) as channel:
        stub = tenancy_pb2_grpc.TenancyServiceStub(channel)
        nats_server.stop()
        await _eventually(lambda: _health(channel, "portico.nats"), NOT_SERVING)
        assert await _health(channel) == SERVING
        await stub.CreateTenant(_create("offline"), timeout=10)
        assert not service.seen

        nats_server.start()
        await _eventually(lambda: _health(channel, "portico.nats"), SERVING)
        await asyncio.wait_for(service.arrived.wait(), 20)
    assert [e.tenant_id for e in service.seen] == ["offline"]
