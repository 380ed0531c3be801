"""A service process on the kernel, end to end: gRPC, health, outbox, consumer, shutdown."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterable
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from portico.events.v1 import events_pb2 as ev
from portico.tenancy.v1 import tenancy_pb2, tenancy_pb2_grpc
from portico_common.clock import ManualClock
from portico_common.db import Connection
from portico_common.errors import NotFoundError
from portico_common.events.consumer import ConsumerSettings, EventConsumer
from portico_common.events.envelope import Envelope
from portico_common.runtime import Runtime, serve
from portico_common.settings import ServiceSettings
from portico_common.uow import PgUnitOfWork
from pydantic import SecretStr

pytestmark = pytest.mark.integration

SERVICE = tenancy_pb2.DESCRIPTOR.services_by_name["TenancyService"].full_name
CREATE = f"/{SERVICE}/CreateTenant"


class TinyTenancy(tenancy_pb2_grpc.TenancyServiceServicer):
    """Just enough of a servicer: one use case that writes an event through the outbox."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.calls = 0

    async def CreateTenant(  # noqa: N802 - generated servicer name
        self, request: tenancy_pb2.CreateTenantRequest, _context: Any
    ) -> tenancy_pb2.CreateTenantResponse:
        self.calls += 1
        if request.tenant_id == "ghost":
            raise NotFoundError("no tenant 'ghost' here")
        if request.tenant_id == "bug":
            raise RuntimeError("password=hunter2")
        async with self.rt.db.transaction(request.tenant_id) as conn:
            uow = PgUnitOfWork(
                conn, source="portico/tenancy", tenant_id=request.tenant_id, clock=self.rt.clock
            )
            await uow.emit(ev.TenantCreated(tenant_id=request.tenant_id, display_name="x"))
        return tenancy_pb2.CreateTenantResponse(
            tenant=tenancy_pb2.Tenant(
                tenant_id=request.tenant_id, display_name=f"{request.display_name} #{self.calls}"
            )
        )

    async def GetTenant(  # noqa: N802 - generated servicer name
        self, request: tenancy_pb2.GetTenantRequest, _context: Any
    ) -> tenancy_pb2.GetTenantResponse:
        raise NotFoundError(f"tenant {request.tenant_id!r} not found")


@pytest.fixture
async def running(database_url: str, nats_url: str) -> Any:
    """The service running under serve(); yields (servicer, port, (seen events, arrived), task)."""
    settings = ServiceSettings(
        nats_url=nats_url,
        database_url=SecretStr(database_url),
        grpc_port=0,
        metrics_port=-1,
        shutdown_grace_seconds=1.0,
        outbox_poll_seconds=0.2,
    )
    rt = await Runtime.start("kerneltest", settings, None, clock=ManualClock())
    servicer = TinyTenancy(rt)
    seen: list[Envelope] = []
    arrived = asyncio.Event()

    async def on_tenant_created(envelope: Envelope, conn: Connection) -> None:
        seen.append(envelope)
        arrived.set()

    consumer = EventConsumer(
        rt.js,
        rt.db,
        "kerneltest-audit",
        {"tenant.created": on_tenant_created},
        ConsumerSettings(fetch_timeout_seconds=0.2),
    )

    def register(server: grpc.aio.Server) -> Iterable[str]:
        tenancy_pb2_grpc.add_TenancyServiceServicer_to_server(servicer, server)
        return [SERVICE]

    ports: asyncio.Queue[int] = asyncio.Queue()
    task = asyncio.create_task(
        serve(rt, register=register, consumers=[consumer], ready=ports.put_nowait)
    )
    port_ready = asyncio.ensure_future(ports.get())
    await asyncio.wait({task, port_ready}, timeout=20, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        port_ready.cancel()
        task.result()  # serve() failed to start: show why
    port = await asyncio.wait_for(port_ready, 1)
    yield servicer, port, (seen, arrived), task
    if not task.done():
        os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.wait_for(task, 20)


async def _health(channel: grpc.aio.Channel, service: str = "") -> int:
    response = await health_pb2_grpc.HealthStub(channel).Check(
        health_pb2.HealthCheckRequest(service=service), timeout=5
    )
    return int(response.status)


async def test_health_is_serving_once_started(running: Any) -> None:
    """After start, the server and the registered service report SERVING."""
    _, port, _, _ = running
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        assert await _health(channel) == health_pb2.HealthCheckResponse.SERVING
        assert await _health(channel, SERVICE) == health_pb2.HealthCheckResponse.SERVING


async def test_rpc_event_flows_through_outbox_relay_and_consumer(running: Any) -> None:
    """A use case's event is relayed to JetStream and handled by the service's consumer."""
    _, port, (seen, arrived), _ = running
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = tenancy_pb2_grpc.TenancyServiceStub(channel)
        await stub.CreateTenant(tenancy_pb2.CreateTenantRequest(tenant_id="acme"), timeout=5)
    await asyncio.wait_for(arrived.wait(), 10)
    assert [(e.type, e.tenant_id, e.source) for e in seen] == [
        ("tenant.created", "acme", "portico/tenancy")
    ]


async def test_idempotency_key_replays_the_stored_response(running: Any) -> None:
    """A retried mutating RPC with the same key gets the first response, not a second run."""
    servicer, port, _, _ = running
    request = tenancy_pb2.CreateTenantRequest(tenant_id="acme", display_name="Acme")
    metadata = (("idempotency-key", "create-acme-1"),)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = tenancy_pb2_grpc.TenancyServiceStub(channel)
        first = await stub.CreateTenant(request, metadata=metadata, timeout=5)
        call = stub.CreateTenant(request, metadata=metadata, timeout=5)
        second = await call
        trailers = await call.trailing_metadata()
    assert first.tenant.display_name == "Acme #1"
    assert second == first
    assert servicer.calls == 1
    assert ("idempotent-replayed", "true") in tuple(trailers or ())


async def test_reused_key_for_another_request_is_invalid_argument(running: Any) -> None:
    """The same key with a different request body is refused as INVALID_ARGUMENT."""
    _, port, _, _ = running
    metadata = (("idempotency-key", "k"),)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = tenancy_pb2_grpc.TenancyServiceStub(channel)
        await stub.CreateTenant(
            tenancy_pb2.CreateTenantRequest(tenant_id="acme", display_name="A"),
            metadata=metadata,
            timeout=5,
        )
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.CreateTenant(
                tenancy_pb2.CreateTenantRequest(tenant_id="acme", display_name="B"),
                metadata=metadata,
                timeout=5,
            )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "already used for a different request" in (caught.value.details() or "")


async def test_domain_error_becomes_its_status(running: Any) -> None:
    """A NotFoundError raised by the servicer reaches the client as NOT_FOUND with its message."""
    _, port, _, _ = running
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = tenancy_pb2_grpc.TenancyServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.CreateTenant(tenancy_pb2.CreateTenantRequest(tenant_id="ghost"), timeout=5)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert caught.value.details() == "no tenant 'ghost' here"


async def test_unexpected_error_is_internal_without_its_message(running: Any) -> None:
    """A bug surfaces as INTERNAL naming a trace, never the exception's text."""
    servicer, port, _, _ = running
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = tenancy_pb2_grpc.TenancyServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.CreateTenant(
                tenancy_pb2.CreateTenantRequest(tenant_id="bug"),
                metadata=(("idempotency-key", "bug-1"),),
                timeout=5,
            )
        # The failure released the key: a retry runs again instead of conflicting.
        with pytest.raises(grpc.aio.AioRpcError) as retried:
            await stub.CreateTenant(
                tenancy_pb2.CreateTenantRequest(tenant_id="bug"),
                metadata=(("idempotency-key", "bug-1"),),
                timeout=5,
            )
    assert caught.value.code() == grpc.StatusCode.INTERNAL
    assert (caught.value.details() or "").startswith("internal error (trace ")
    assert "hunter2" not in (caught.value.details() or "")
    assert retried.value.code() == grpc.StatusCode.INTERNAL
    assert servicer.calls == 2


async def test_sigterm_drains_to_not_serving_then_stops(running: Any) -> None:
    """On SIGTERM watchers see NOT_SERVING, serve() returns within the grace, the port closes."""
    _, port, _, task = running
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest())
        updates = watch.__aiter__()
        assert (await anext(updates)).status == health_pb2.HealthCheckResponse.SERVING
        started = time.monotonic()
        os.kill(os.getpid(), signal.SIGTERM)
        async with asyncio.timeout(10):
            assert (await anext(updates)).status == health_pb2.HealthCheckResponse.NOT_SERVING
        await asyncio.wait_for(task, 40)
        # The grace period (1 s) bounds shutdown; nothing waits out a library timeout.
        assert time.monotonic() - started < 5.0
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await _health(channel)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert task.exception() is None
