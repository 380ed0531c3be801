"""The gRPC side: one grpc.aio channel per upstream service; generic unary and
server-streaming calls."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping

import grpc
from google.protobuf.message import Message
from starlette.datastructures import Headers

from portico_common.tls import GrpcClientTls, grpc_channel
from portico_gateway.errors import RequestError, UpstreamError, bad_request
from portico_gateway.routes import Route

#: HTTP headers passed on as gRPC metadata: credentials, idempotency, tracing, request id.
FORWARDED_HEADERS = (
    "authorization",
    "idempotency-key",
    "traceparent",
    "tracestate",
    "x-request-id",
)


_TRACE_HEADERS = ("traceparent", "tracestate")
# The HTTP client's address, set by the gateway itself (a client's own
# x-forwarded-for is never passed on): auth limits token requests per source,
# and trusts this only from peers configured as proxies.
FORWARDED_FOR = "x-forwarded-for"


def forwarded_metadata(headers: Headers, client: str = "") -> list[tuple[str, str]]:
    metadata = [(FORWARDED_FOR, client)] if client else []
    for name in FORWARDED_HEADERS:
        for value in headers.getlist(name):
            # gRPC refuses non-printable-ASCII text metadata with an exception deep in
            # the call; saying so here names the header at fault.
            if not all(" " <= char <= "~" for char in value):
                raise bad_request(f"header {name!r} has characters gRPC metadata cannot carry")
            metadata.append((name, value))
    return metadata


def _untraced(forwarded: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The metadata without the client's trace headers.

    The request's span (TracingMiddleware) continued the client's trace, and the
    channel's interceptor puts the context of the call's own span in their place.
    """
    return [(k, v) for k, v in forwarded if k not in _TRACE_HEADERS]


class Upstreams:
    def __init__(
        self,
        targets: Mapping[str, str],
        deadline_seconds: float,
        tls: GrpcClientTls | None = None,
    ) -> None:
        # An empty target means "not deployed here"; its routes answer 503.
        self._targets = {name: target for name, target in targets.items() if target}
        self._deadline = deadline_seconds
        # TLS to every upstream (the services' CA; a client certificate for mutual TLS).
        self._tls = tls
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._calls: dict[str, grpc.aio.UnaryUnaryMultiCallable[Message, Message]] = {}
        self._streams: dict[str, grpc.aio.UnaryStreamMultiCallable[Message, Message]] = {}

    def configured(self) -> list[str]:
        return sorted(self._targets)

    def open(self) -> None:
        """Create the channels; they connect lazily, so a down upstream does not block start-up."""
        for name, target in self._targets.items():
            # TLS when configured (PORTICO_GRPC_TLS_*), checking each service's certificate.
            self._channels[name] = grpc_channel(target, self._tls)

    async def close(self) -> None:
        channels = list(self._channels.values())
        self._channels.clear()
        self._calls.clear()
        self._streams.clear()
        for channel in channels:
            # Uvicorn has drained in-flight requests before the lifespan ends, so
            # nothing is left to wait for.
            await channel.close(grace=None)

    async def call(
        self, route: Route, message: Message, headers: Headers, client: str = ""
    ) -> Message:
        """Call `route`'s RPC with the deadline, the forwarded headers and the client address."""
        forwarded = forwarded_metadata(headers, client)
        call = self._calls.get(route.grpc_method) or self._multicallable(route)
        try:
            reply = await call(message, timeout=self._deadline, metadata=_untraced(forwarded))
        except grpc.aio.AioRpcError as exc:
            raise UpstreamError(route.service, exc) from exc
        if not isinstance(reply, route.response_type):
            raise TypeError(f"{route.grpc_method} returned {type(reply).__name__}")
        return reply

    def stream(
        self, route: Route, message: Message, headers: Headers, client: str = ""
    ) -> AsyncGenerator[Message, None]:
        """Call `route`'s server-streaming RPC; iterate the result for its messages.

        The deadline covers the whole stream. A failed call raises UpstreamError from
        the iteration; closing the iterator early cancels the call upstream.
        """
        forwarded = forwarded_metadata(headers, client)
        multicallable = self._streams.get(route.grpc_method)
        if multicallable is None:
            multicallable = self._channel(route).unary_stream(
                route.grpc_method,
                request_serializer=route.request_type.SerializeToString,
                response_deserializer=route.response_type.FromString,
            )
            self._streams[route.grpc_method] = multicallable
        call = multicallable(message, timeout=self._deadline, metadata=_untraced(forwarded))
        return _messages(route, call)

    def _multicallable(self, route: Route) -> grpc.aio.UnaryUnaryMultiCallable[Message, Message]:
        call = self._channel(route).unary_unary(
            route.grpc_method,
            request_serializer=route.request_type.SerializeToString,
            response_deserializer=route.response_type.FromString,
        )
        self._calls[route.grpc_method] = call
        return call

    def _channel(self, route: Route) -> grpc.aio.Channel:
        channel = self._channels.get(route.service)
        if channel is None:
            detail = (
                f"no upstream is configured for the {route.service} service"
                if route.service not in self._targets
                else f"the gateway is not started, so {route.service} is not connected"
            )
            raise RequestError(
                503,
                "upstream-not-configured",
                "Service unavailable",
                detail,
                grpc_code=grpc.StatusCode.UNAVAILABLE,
            )
        return channel


async def _messages(
    route: Route, call: grpc.aio.UnaryStreamCall[Message, Message]
) -> AsyncGenerator[Message, None]:
    try:
        async for reply in call:
            if not isinstance(reply, route.response_type):
                raise TypeError(f"{route.grpc_method} streamed {type(reply).__name__}")
            yield reply
    except grpc.aio.AioRpcError as exc:
        raise UpstreamError(route.service, exc) from exc
    finally:
        # The client went away (or we stopped reading): stop the upstream's work too.
        call.cancel()
