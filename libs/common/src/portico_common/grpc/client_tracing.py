"""The trace crosses every outgoing gRPC call: a client span, its context in the metadata.

Every channel the kernel makes (`tls.grpc_channel`, and so `service_channel`
and the gateway's upstreams) carries this interceptor, so a call one service
makes to another while handling a request or an event continues that trace:
the callee's server span is the child of this client span. A `traceparent`
already in the call's metadata (a caller's own) is replaced by the current
context, which is a descendant of it whenever it was the caller's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import grpc
from opentelemetry.trace import SpanKind, Status, StatusCode

from portico_common.tracing import current_trace_headers, tracer

if TYPE_CHECKING:
    # The stubs make these generic; at run time they are plain classes.
    _UnaryUnary = grpc.aio.UnaryUnaryClientInterceptor[Any, Any]
    _UnaryStream = grpc.aio.UnaryStreamClientInterceptor[Any, Any]
else:
    _UnaryUnary = grpc.aio.UnaryUnaryClientInterceptor
    _UnaryStream = grpc.aio.UnaryStreamClientInterceptor

TRACE_METADATA = ("traceparent", "tracestate")


def _method_name(details: Any) -> str:
    method = details.method
    return method.decode() if isinstance(method, bytes) else str(method)


def _with_trace_context(details: Any) -> Any:
    metadata = [(k, v) for k, v in (details.metadata or ()) if k.lower() not in TRACE_METADATA]
    metadata += list(current_trace_headers().items())
    return grpc.aio.ClientCallDetails(
        details.method,
        details.timeout,
        grpc.aio.Metadata(*metadata),
        details.credentials,
        details.wait_for_ready,
    )


class TraceContextInterceptor(_UnaryUnary, _UnaryStream):
    """A CLIENT span per unary call (lasting until its answer); the context on every call."""

    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        name = _method_name(details)
        with tracer().start_as_current_span(
            name, kind=SpanKind.CLIENT, attributes={"rpc.system": "grpc", "rpc.method": name}
        ) as span:
            call = await continuation(_with_trace_context(details), request)
            # Awaited here so the span covers the call; the caller's own await gets
            # the same answer (or the same error) from the finished call.
            try:
                await call
            except grpc.aio.AioRpcError as exc:
                span.set_attribute("rpc.grpc.status_code", exc.code().value[0])
                span.set_status(Status(StatusCode.ERROR, exc.code().name))
            return call

    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        # A stream may run for as long as its reader wants: no span outlives the
        # start, but the callee still continues the caller's trace.
        return await continuation(_with_trace_context(details), request)
