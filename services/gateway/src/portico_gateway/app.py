"""The Starlette application: transcoded routes plus health, JWKS, route list and metrics."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import grpc
from google.protobuf import json_format
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route as StarletteRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from portico_common.tls import GrpcClientTls
from portico_gateway import problems
from portico_gateway.errors import GatewayError, RequestError, UpstreamError
from portico_gateway.middleware import (
    NO_STORE_SCOPE_KEY,
    ROUTE_SCOPE_KEY,
    GatewayMetrics,
    MetricsMiddleware,
    RequestIdMiddleware,
    SecurityHeadersMiddleware,
    TracingMiddleware,
)
from portico_gateway.nesting import DEFAULT_MAX_JSON_DEPTH
from portico_gateway.ratelimit import (
    CallerBudgets,
    ClaimsVerifier,
    TenantRateLimiter,
    retry_after_header,
)
from portico_gateway.routes import RouteTable, build_route_table
from portico_gateway.streaming import stream_response, wants_sse
from portico_gateway.transcode import build_request, render_response
from portico_gateway.upstreams import Upstreams

DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024
DEFAULT_DEADLINE_SECONDS = 10.0
GET_JWKS = "/portico.auth.v1.AuthService/GetJwks"


class GatewayApp(Starlette):
    """Starlette with the security headers outside everything else.

    Starlette answers an unhandled exception from its outermost layer, around any
    middleware an application adds; wrapping the whole stack here gives that 500
    the same headers as every other response.
    """

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeadersMiddleware(super().build_middleware_stack())


def create_app(
    upstreams: Mapping[str, str],
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_json_depth: int = DEFAULT_MAX_JSON_DEPTH,
    deadline_seconds: float = DEFAULT_DEADLINE_SECONDS,
    registry: CollectorRegistry | None = None,
    route_table: RouteTable | None = None,
    upstream_tls: GrpcClientTls | None = None,
    rate_limit: TenantRateLimiter | None = None,
    token_verifier: ClaimsVerifier | None = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> Starlette:
    """Build the gateway.

    `upstreams` maps a service's short name ("rollout") to its gRPC target
    ("127.0.0.1:50051"); a service left out answers 503. Channels open in the lifespan,
    so building the app connects to nothing. `upstream_tls` makes them TLS channels.
    `rate_limit` refuses a tenant's requests beyond its budget with 429 before any
    upstream is called (`monotonic` is its clock); the tenant is the one of the
    caller's token as `token_verifier` verifies it, else the client's address.
    """
    table = route_table if route_table is not None else build_route_table()
    _check_configuration(table, upstreams, max_body_bytes, max_json_depth, deadline_seconds)
    jwks_route = next((route for route in table if route.grpc_method == GET_JWKS), None)
    metrics = GatewayMetrics(registry if registry is not None else CollectorRegistry())
    clients = Upstreams(upstreams, deadline_seconds, upstream_tls)
    budgets = CallerBudgets(token_verifier)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        clients.open()
        try:
            yield
        finally:
            await clients.close()

    async def transcode(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        matched = table.match(request.method, _raw_path(scope))
        if isinstance(matched, list):
            raise _no_route(request, matched)
        scope[ROUTE_SCOPE_KEY] = matched.route.template
        scope[NO_STORE_SCOPE_KEY] = matched.route.carries_secret
        body = await _read_body(request, max_body_bytes)
        message = build_request(
            matched,
            body,
            request.headers.get("content-type"),
            request.query_params.multi_items(),
            max_depth=max_json_depth,
        )
        response: Response
        address = await _admit(rate_limit, budgets, metrics, request, monotonic)
        if matched.route.server_streaming:
            messages = clients.stream(matched.route, message, request.headers, address)
            response = await stream_response(
                matched,
                messages,
                sse=wants_sse(request.headers.get("accept")),
                instance=request.url.path,
            )
        else:
            reply = await clients.call(matched.route, message, request.headers, address)
            response = JSONResponse(render_response(matched, reply))
        await response(scope, receive, send)

    async def healthz(_: Request) -> Response:
        # Liveness of the gateway itself; upstream health is each service's own check.
        return JSONResponse({"status": "ok", "upstreams": clients.configured()})

    async def jwks(request: Request) -> Response:
        route = jwks_route
        if route is None:
            raise RequestError(
                404,
                "no-route",
                "No such route",
                "this gateway's route table does not include AuthService.GetJwks",
                grpc_code=grpc.StatusCode.NOT_FOUND,
            )
        reply = await clients.call(route, route.request_type(), request.headers)
        # A plain JWK Set (RFC 7517 §5): empty members are absent, not "".
        key_set: dict[str, Any] = json_format.MessageToDict(reply)
        key_set.setdefault("keys", [])
        return JSONResponse(key_set, headers={"Cache-Control": "public, max-age=60"})

    async def list_routes(_: Request) -> Response:
        configured = set(clients.configured())
        listed = [
            route.describe() | {"upstream_configured": route.service in configured}
            for route in sorted(table, key=lambda r: (r.template, r.http_method))
        ]
        return JSONResponse({"routes": listed})

    async def metrics_endpoint(request: Request) -> Response:
        return exposition(metrics.registry, request.headers.get("accept", ""))

    app = GatewayApp(
        routes=[
            StarletteRoute("/healthz", healthz, methods=["GET"]),
            StarletteRoute("/.well-known/jwks.json", jwks, methods=["GET"]),
            StarletteRoute("/v1/routes", list_routes, methods=["GET"]),
            StarletteRoute("/metrics", metrics_endpoint, methods=["GET"]),
        ],
        middleware=[
            Middleware(RequestIdMiddleware),
            Middleware(TracingMiddleware, untraced=("/metrics", "/healthz")),
            Middleware(MetricsMiddleware, metrics=metrics),
        ],
        exception_handlers={
            RequestError: problems.handle_request_error,
            UpstreamError: problems.handle_upstream_error,
            HTTPException: problems.handle_http_exception,
            Exception: problems.handle_unexpected,
        },
        lifespan=lifespan,
    )
    # Anything the fixed routes do not match is transcoded; wrong methods on the fixed
    # routes still get Starlette's 405 (as a problem) because partial matches win first.
    app.router.default = transcode
    return app


def exposition(registry: CollectorRegistry, accept: str) -> Response:
    """The registry in the format the scraper accepts.

    OpenMetrics when asked for (Prometheus with exemplar storage asks): only that
    format carries the latency buckets' exemplars, the trace of a request in each.
    """
    encode, content_type = choose_encoder(accept)
    return Response(encode(registry), headers={"Content-Type": content_type})


def _check_configuration(
    table: RouteTable,
    upstreams: Mapping[str, str],
    max_body_bytes: int,
    max_json_depth: int,
    deadline_seconds: float,
) -> None:
    known = {route.service for route in table}
    unknown = sorted(set(upstreams) - known)
    if unknown:
        # A misspelt service name would otherwise surface as 503s on every call.
        raise GatewayError(f"unknown upstream services {unknown}; known: {sorted(known)}")
    if max_body_bytes < 0 or max_json_depth < 1 or deadline_seconds <= 0:
        raise GatewayError(
            "max_body_bytes must be >= 0, max_json_depth >= 1 and deadline_seconds > 0"
        )


async def _admit(
    limiter: TenantRateLimiter | None,
    budgets: CallerBudgets,
    metrics: GatewayMetrics,
    request: Request,
    monotonic: Callable[[], float],
) -> str:
    """The client's address, once the caller's tenant paid a token (else 429, Retry-After).

    The address is the budget's key of last resort, and the upstream call's peer.
    """
    address = request.client.host if request.client else ""
    if limiter is None:
        return address
    tenant = await budgets.budget_of(request.headers.get("authorization", ""), address)
    wait = limiter.take(tenant, monotonic())
    if wait <= 0:
        return address
    metrics.rate_limited.labels(tenant).inc()
    raise RequestError(
        429,
        "rate-limited",
        "Too many requests",
        f"tenant {tenant} is over its rate limit of {limiter.rate:g} requests a second"
        f" (bursts of {limiter.burst}); retry after {retry_after_header(wait)} s",
        grpc_code=grpc.StatusCode.RESOURCE_EXHAUSTED,
        headers={"Retry-After": retry_after_header(wait)},
        extensions={"tenant": tenant},
    )


def _raw_path(scope: Scope) -> str:
    # Match on the still-encoded path, so an encoded '/' (%2F) inside a single-segment
    # variable stays inside it. httpx's ASGI transport includes the query; drop it.
    raw = scope.get("raw_path")
    if not isinstance(raw, bytes):
        return str(scope["path"])
    return raw.split(b"?", 1)[0].decode("latin-1")


def _no_route(request: Request, allowed: list[str]) -> RequestError:
    if allowed:
        return RequestError(
            405,
            "method-not-allowed",
            "Method not allowed",
            f"{request.url.path} accepts {', '.join(allowed)}, not {request.method}",
            grpc_code=grpc.StatusCode.UNIMPLEMENTED,
            headers={"Allow": ", ".join(allowed)},
        )
    return RequestError(
        404,
        "no-route",
        "No such route",
        f"no route matches {request.method} {request.url.path}; GET /v1/routes lists them",
        grpc_code=grpc.StatusCode.NOT_FOUND,
    )


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    # A chunked body has no Content-Length, so the limit is also enforced while reading.
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> RequestError:
    return RequestError(
        413,
        "body-too-large",
        "Request body too large",
        f"the request body exceeds the limit of {limit} bytes",
        grpc_code=grpc.StatusCode.RESOURCE_EXHAUSTED,
        extensions={"max_body_bytes": limit},
    )
