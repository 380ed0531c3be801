"""ASGI middleware: security headers, request ids, the request's span and Prometheus metrics."""

from __future__ import annotations

import time
import uuid
from collections.abc import Collection

from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from portico_common.metrics import observe_latency
from portico_common.tracing import span_from

#: Set by the transcoding endpoint to the matched path template.
ROUTE_SCOPE_KEY = "portico.route"
#: Set by the transcoding endpoint when the matched route carries a credential.
NO_STORE_SCOPE_KEY = "portico.no_store"
REQUEST_ID_HEADER = "x-request-id"
# Unknown paths share one label; echoing them would let any client grow the series.
UNMATCHED = "unmatched"


class GatewayMetrics:
    """The gateway's metrics, in a registry of the caller's choosing."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.requests = Counter(
            "portico_gateway_requests",
            "HTTP requests handled by the gateway.",
            ["route", "method", "status"],
            registry=registry,
        )
        self.rate_limited = Counter(
            "portico_gateway_rate_limited",
            "Requests refused with 429 because their tenant was over its rate limit.",
            ["tenant"],
            registry=registry,
        )
        self.duration = Histogram(
            "portico_gateway_request_duration_seconds",
            "Time from receiving an HTTP request to finishing its response.",
            ["route"],
            registry=registry,
        )


def route_label(scope: Scope) -> str:
    transcoded = scope.get(ROUTE_SCOPE_KEY)
    if isinstance(transcoded, str):
        return transcoded
    fixed = getattr(scope.get("route"), "path", None)
    return fixed if isinstance(fixed, str) else UNMATCHED


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: GatewayMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # An exception escaping the app becomes a 500 in the outer error middleware.
        status = 500
        started = time.perf_counter()

        async def observe(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observe)
        finally:
            route = route_label(scope)
            # Inside the request's span: the bucket's exemplar names its trace.
            observe_latency(self.metrics.duration.labels(route), time.perf_counter() - started)
            self.metrics.requests.labels(route, scope["method"], str(status)).inc()


#: W3C Trace Context headers a client may send to continue its own trace.
_TRACE_HEADERS = ("traceparent", "tracestate")
#: W3C Trace Context Level 2: the server's span, so a client may continue the trace.
TRACE_RESPONSE_HEADER = "traceresponse"


class TracingMiddleware:
    """Every HTTP request is a SERVER span: the root of its trace, or the child of the
    client's `traceparent`.

    The span is named by the matched route (`POST /v1/tenants/{tenant_id}/outcomes`),
    never by the raw path, and the response carries `traceresponse` naming it, so a
    portal that sends it back as `traceparent` on its follow-up requests (the compat
    check and the outcome reports of the install it just asked for) keeps them in one
    trace. Paths in `untraced` (scrapes, probes) get no span.
    """

    def __init__(self, app: ASGIApp, untraced: Collection[str] = ()) -> None:
        self.app = app
        self.untraced = frozenset(untraced)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.untraced:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        carrier = {name: headers[name] for name in _TRACE_HEADERS if name in headers}
        method = scope["method"]
        status = 500
        with span_from(carrier, method, kind=SpanKind.SERVER) as span:
            context = span.get_span_context()
            span.set_attribute("http.request.method", method)

            async def traced(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                    if context.is_valid:
                        MutableHeaders(scope=message)[TRACE_RESPONSE_HEADER] = (
                            f"00-{context.trace_id:032x}-{context.span_id:016x}"
                            f"-{int(context.trace_flags):02x}"
                        )
                await send(message)

            try:
                await self.app(scope, receive, traced)
            finally:
                route = route_label(scope)
                if route != UNMATCHED:
                    span.update_name(f"{method} {route}")
                    span.set_attribute("http.route", route)
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    span.set_status(Status(StatusCode.ERROR))


class RequestIdMiddleware:
    """Give every request an `x-request-id` (the client's, or a new one) and echo it.

    The id is added to the request headers, so the upstream call forwards it like any
    client-supplied id, and one id follows the request through every log.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = MutableHeaders(scope=scope)
        request_id = headers.get(REQUEST_ID_HEADER)
        if not request_id:
            request_id = uuid.uuid4().hex
            headers[REQUEST_ID_HEADER] = request_id

        async def echo(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        await self.app(scope, receive, echo)


class SecurityHeadersMiddleware:
    """Headers every response carries, errors and the gateway's own 500s included.

    `X-Content-Type-Options: nosniff` keeps a browser from reading a JSON or problem
    body as HTML or script. A request whose route carries a credential (a token
    response) is answered with `Cache-Control: no-store` (and HTTP/1.0's
    `Pragma: no-cache`), whatever the endpoint set, so no cache keeps the secret.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def secure(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["x-content-type-options"] = "nosniff"
                if scope.get(NO_STORE_SCOPE_KEY):
                    headers["cache-control"] = "no-store"
                    headers["pragma"] = "no-cache"
            await send(message)

        await self.app(scope, receive, secure)
