"""Per-tenant concurrency caps on heavy RPCs, enforced by the interceptor on a real gRPC server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2  # type: ignore[import-untyped]
from prometheus_client import REGISTRY

from portico.tenancy.v1 import tenancy_pb2 as pb
from portico.tenancy.v1 import tenancy_pb2_grpc as pb_grpc
from portico_common.grpc.interceptor import PorticoServerInterceptor
from portico_common.grpc.tenant_caps import TenantBusyError, TenantConcurrency

HEAVY = "/portico.tenancy.v1.TenancyService/GetTenant"


class Blocking(pb_grpc.TenancyServiceServicer):
    """GetTenant that runs until the test lets it finish: a stand-in for a heavy RPC."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.started = 0
        self.changed = asyncio.Condition()

    async def GetTenant(  # noqa: N802 - the generated servicer's method name
        self,
        request: pb.GetTenantRequest,
        context: grpc.aio.ServicerContext,  # noqa: ARG002 - the servicer's signature
    ) -> pb.GetTenantResponse:
        async with self.changed:
            self.started += 1
            self.changed.notify_all()
        await self.release.wait()
        return pb.GetTenantResponse(tenant=pb.Tenant(tenant_id=request.tenant_id))


@pytest.fixture
async def served() -> AsyncIterator[tuple[pb_grpc.TenancyServiceAsyncStub, Blocking]]:
    servicer = Blocking()
    server = grpc.aio.server(
        interceptors=[
            PorticoServerInterceptor(
                "caps-test",
                verifier=None,
                tenant_caps=TenantConcurrency("caps-test", {HEAVY: 2}),
            )
        ]
    )
    pb_grpc.add_TenancyServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield pb_grpc.TenancyServiceStub(channel), servicer  # type: ignore[misc]
    finally:
        await server.stop(None)


async def _started(servicer: Blocking, calls: int) -> None:
    async with asyncio.timeout(10), servicer.changed:
        await servicer.changed.wait_for(lambda: servicer.started >= calls)


def _refused(tenant: str) -> float:
    value = REGISTRY.get_sample_value(
        "portico_tenant_calls_refused_total",
        {"service": "caps-test", "tenant": tenant, "method": "GetTenant"},
    )
    return value or 0.0


async def test_a_tenant_at_its_cap_is_refused_at_once_while_others_still_run(
    served: tuple[pb_grpc.TenancyServiceAsyncStub, Blocking],
) -> None:
    """Third concurrent call of acme: RESOURCE_EXHAUSTED with RetryInfo; globex's call runs."""
    stub, servicer = served
    before = _refused("acme")
    running = [
        asyncio.ensure_future(stub.GetTenant(pb.GetTenantRequest(tenant_id="acme")))
        for _ in range(2)
    ]
    await _started(servicer, 2)
    with pytest.raises(grpc.aio.AioRpcError) as busy:
        await stub.GetTenant(pb.GetTenantRequest(tenant_id="acme"), timeout=5)
    assert busy.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert busy.value.details() == (
        "tenant acme already has 2 GetTenant calls running, its limit; retry when one has finished"
    )
    trailer = dict(busy.value.trailing_metadata() or ())["grpc-status-details-bin"]
    status = status_pb2.Status.FromString(trailer)
    retry = error_details_pb2.RetryInfo()
    assert any(d.Unpack(retry) for d in status.details)
    assert retry.retry_delay.seconds == 1
    assert _refused("acme") == before + 1

    other = asyncio.ensure_future(stub.GetTenant(pb.GetTenantRequest(tenant_id="globex")))
    await _started(servicer, 3)
    assert (
        REGISTRY.get_sample_value(
            "portico_tenant_calls_running",
            {"service": "caps-test", "tenant": "acme", "method": "GetTenant"},
        )
        == 2.0
    )
    servicer.release.set()
    replies = await asyncio.gather(*running, other)
    assert [r.tenant.tenant_id for r in replies] == ["acme", "acme", "globex"]
    # Finished calls free their slots.
    again = await stub.GetTenant(pb.GetTenantRequest(tenant_id="acme"), timeout=5)
    assert again.tenant.tenant_id == "acme"


async def test_a_slot_is_freed_when_the_call_fails() -> None:
    """An error inside a capped call gives its slot back."""
    caps = TenantConcurrency("caps-test", {HEAVY: 1})
    with pytest.raises(RuntimeError):
        async with caps.hold("acme", HEAVY):
            raise RuntimeError("boom")
    assert caps.running("acme", HEAVY) == 0
    async with caps.hold("acme", HEAVY):
        with pytest.raises(TenantBusyError):
            async with caps.hold("acme", HEAVY):
                pass


def test_a_cap_below_one_is_a_configuration_error() -> None:
    """A cap of 0 would refuse every call: it is refused at start-up instead."""
    with pytest.raises(ValueError, match="at least 1"):
        TenantConcurrency("caps-test", {HEAVY: 0})
