"""Every call on a kernel channel continues the caller's trace, and answers as before."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from portico_common.tls import grpc_channel
from portico_common.tracing import span_from

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
CALLER = {"traceparent": f"00-{TRACE_ID}-b7ad6b7169203331-01"}


class RecordingHealth(health.aio.HealthServicer):  # type: ignore[misc,name-defined]
    """The standard health servicer, keeping the metadata of each Check."""

    def __init__(self) -> None:
        super().__init__()
        self.metadata: list[dict[str, str]] = []

    async def Check(self, request: Any, context: Any) -> Any:  # noqa: N802 - the RPC's name
        self.metadata.append({k: str(v) for k, v in context.invocation_metadata() or ()})
        return await super().Check(request, context)


@pytest.fixture
async def served() -> AsyncIterator[tuple[RecordingHealth, str]]:
    server = grpc.aio.server()
    servicer = RecordingHealth()
    await servicer.set("known", health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield servicer, f"127.0.0.1:{port}"
    await server.stop(grace=None)


async def test_a_call_inside_a_trace_carries_it_to_the_callee(
    served: tuple[RecordingHealth, str],
) -> None:
    """The callee sees the caller's trace in `traceparent`; a stale one in the call is replaced."""
    servicer, target = served
    async with grpc_channel(target, None) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        with span_from(CALLER, "handling an event"):
            reply = await stub.Check(
                health_pb2.HealthCheckRequest(service="known"),
                metadata=[("traceparent", f"00-{'1' * 32}-{'2' * 16}-01")],
                timeout=5,
            )
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
    [seen] = servicer.metadata
    assert seen["traceparent"].split("-")[1] == TRACE_ID


async def test_a_failed_call_still_fails_with_its_status(
    served: tuple[RecordingHealth, str],
) -> None:
    """The interceptor waits for the answer but hands the caller the callee's error unchanged."""
    _servicer, target = served
    async with grpc_channel(target, None) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        with span_from(CALLER, "handling an event"), pytest.raises(grpc.aio.AioRpcError) as failed:
            await stub.Check(health_pb2.HealthCheckRequest(service="unknown"), timeout=5)
    assert failed.value.code() == grpc.StatusCode.NOT_FOUND


async def test_outside_a_trace_calls_share_no_trace(
    served: tuple[RecordingHealth, str],
) -> None:
    """With no current span there is nothing to continue: each call is its own trace.

    With tracing off the call carries no traceparent; with a tracer provider
    installed (another test may have installed one for the process) each call's
    CLIENT span starts a trace of its own. Either way no trace leaks from one
    unrelated call to the next.
    """
    servicer, target = served
    async with grpc_channel(target, None) as channel:
        for _ in range(2):
            await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service="known"), timeout=5
            )
    first, second = (m.get("traceparent") for m in servicer.metadata[-2:])
    assert (first is None) == (second is None)
    if first is not None and second is not None:
        assert first.split("-")[1] != second.split("-")[1]
        assert TRACE_ID not in (first.split("-")[1], second.split("-")[1])
