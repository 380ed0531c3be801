"""Server-streaming RPCs through the gateway (NDJSON and SSE) against a real grpc.aio server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import grpc
import httpx
import pytest
from prometheus_client import CollectorRegistry

from portico.compat.v1 import compat_pb2 as pb
from portico.compat.v1 import compat_pb2_grpc as pb_grpc
from portico_gateway.app import create_app
from portico_gateway.routes import build_route_table
from portico_gateway.streaming import wants_sse

STREAM = "/api/plugins/compatibility-check:stream"
DEADLINE = 0.5


class FakeCompat(pb_grpc.CompatServiceServicer):
    """Streams what the plugin name asks for; records each call's metadata and cancellation."""

    def __init__(self) -> None:
        self.metadata: list[dict[str, str]] = []
        self.cancelled = asyncio.Event()

    async def CheckCompatibility(  # noqa: N802 - the generated servicer's method name
        self, request: pb.CheckCompatibilityRequest, _context: grpc.aio.ServicerContext
    ) -> pb.CheckCompatibilityResponse:
        return pb.CheckCompatibilityResponse(check_id=f"{request.tenant_id}/{request.plugin}")

    async def CheckCompatibilityStream(  # noqa: N802 - the generated servicer's method name
        self, request: pb.CheckCompatibilityStreamRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.CheckCompatibilityStreamResponse]:
        self.metadata.append(
            {k: v for k, v in context.invocation_metadata() or () if isinstance(v, str)}
        )
        check = request.check
        if check.plugin == "bad":
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "invalid plugin name: bad")
        for dimension in ("api", "runtime", "permissions"):
            yield pb.CheckCompatibilityStreamResponse(
                dimension=pb.DimensionReport(dimension=dimension, verdict=pb.VERDICT_PASS)
            )
            if check.plugin == "midway":
                await context.abort(grpc.StatusCode.FAILED_PRECONDITION, "host changed midway")
            if check.plugin == "slow":
                try:
                    await asyncio.sleep(30)
                except asyncio.CancelledError:
                    self.cancelled.set()
                    raise
        yield pb.CheckCompatibilityStreamResponse(
            report=pb.CheckCompatibilityResponse(
                check_id=f"{check.tenant_id}/{check.plugin}", compatible=True
            )
        )


@pytest.fixture
async def compat() -> AsyncIterator[tuple[FakeCompat, str]]:
    fake = FakeCompat()
    server = grpc.aio.server()
    pb_grpc.add_CompatServiceServicer_to_server(fake, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield fake, f"127.0.0.1:{port}"
    await server.stop(grace=None)


@pytest.fixture
async def http(compat: tuple[FakeCompat, str]) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app({"compat": compat[1]}, deadline_seconds=DEADLINE, registry=CollectorRegistry())
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client,
    ):
        yield client


def ndjson(response: httpx.Response) -> list[dict[str, Any]]:
    return [json.loads(line) for line in response.text.splitlines()]


def sse(response: httpx.Response) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for block in response.text.split("\n\n"):
        if not block:
            continue
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((fields["event"], json.loads(fields["data"])))
    return events


def body(plugin: str, tenant: str = "acme") -> dict[str, str]:
    return {"tenantId": tenant, "plugin": plugin, "version": "1.0.0"}


async def test_stream_is_ndjson_by_default(http: httpx.AsyncClient) -> None:
    """Each streamed message is one JSON line, in order, ending with the final report."""
    response = await http.post(STREAM, json=body("ok"))

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = ndjson(response)
    assert [line["dimension"]["dimension"] for line in lines[:3]] == [
        "api",
        "runtime",
        "permissions",
    ]
    assert lines[3]["report"]["checkId"] == "acme/ok"
    assert lines[3]["report"]["compatible"] is True


async def test_stream_is_sse_when_the_client_accepts_event_streams(
    http: httpx.AsyncClient,
) -> None:
    """Accept: text/event-stream gets one `message` event per streamed message."""
    response = await http.post(STREAM, json=body("ok"), headers={"Accept": "text/event-stream"})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse(response)
    assert [name for name, _ in events] == ["message"] * 4
    assert events[0][1]["dimension"]["verdict"] == "VERDICT_PASS"
    assert events[-1][1]["report"]["checkId"] == "acme/ok"


async def test_an_rpc_failing_before_its_first_message_is_a_problem(
    http: httpx.AsyncClient,
) -> None:
    """An immediate INVALID_ARGUMENT keeps its HTTP status: 400 with a problem document."""
    response = await http.post(STREAM, json=body("bad"))

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "invalid plugin name: bad"


async def test_a_failure_midway_ends_the_ndjson_stream_with_an_error_line(
    http: httpx.AsyncClient,
) -> None:
    """After the first message the status is sent, so the error is the stream's last line."""
    response = await http.post(STREAM, json=body("midway"))

    assert response.status_code == 200
    lines = ndjson(response)
    assert "dimension" in lines[0]
    assert lines[-1]["error"]["grpc_code"] == "FAILED_PRECONDITION"
    assert lines[-1]["error"]["detail"] == "host changed midway"
    assert len(lines) == 2


async def test_a_failure_midway_is_an_sse_error_event(http: httpx.AsyncClient) -> None:
    """Over SSE the failure is an `error` event carrying the problem."""
    response = await http.post(STREAM, json=body("midway"), headers={"Accept": "text/event-stream"})

    events = sse(response)
    assert events[-1][0] == "error"
    assert events[-1][1]["status"] == 400


async def test_the_deadline_covers_the_whole_stream_and_cancels_the_upstream(
    http: httpx.AsyncClient, compat: tuple[FakeCompat, str]
) -> None:
    """A stream outliving the deadline ends with DEADLINE_EXCEEDED and is cancelled upstream."""
    response = await http.post(STREAM, json=body("slow"))

    assert ndjson(response)[-1]["error"]["grpc_code"] == "DEADLINE_EXCEEDED"
    await asyncio.wait_for(compat[0].cancelled.wait(), timeout=5)


async def test_path_variables_bind_inside_the_body_field(http: httpx.AsyncClient) -> None:
    """On the tenant-scoped route the path's tenant fills check.tenant_id."""
    response = await http.post(
        "/v1/tenants/globex/compatibility:checkStream",
        json={"plugin": "ok", "version": "1.0.0"},
    )

    assert ndjson(response)[-1]["report"]["checkId"] == "globex/ok"


async def test_credentials_are_forwarded_to_the_streaming_rpc(
    http: httpx.AsyncClient, compat: tuple[FakeCompat, str]
) -> None:
    """Authorization and idempotency headers reach the upstream as metadata."""
    await http.post(
        STREAM,
        json=body("ok"),
        headers={"Authorization": "Bearer t0k", "Idempotency-Key": "k-1"},
    )

    (metadata,) = compat[0].metadata
    assert metadata["authorization"] == "Bearer t0k"
    assert metadata["idempotency-key"] == "k-1"


async def test_the_unary_check_has_the_plugins_binding(http: httpx.AsyncClient) -> None:
    """POST /api/plugins/compatibility-check reaches the unary RPC with the body's tenant."""
    response = await http.post("/api/plugins/compatibility-check", json=body("ok", "initech"))

    assert response.status_code == 200
    assert response.json()["checkId"] == "initech/ok"


async def test_streaming_routes_are_listed_as_such(http: httpx.AsyncClient) -> None:
    """GET /v1/routes marks server-streaming routes."""
    routes = (await http.get("/v1/routes")).json()["routes"]

    streaming = {r["path"] for r in routes if r["streaming"] == "server"}
    assert STREAM in streaming
    assert "/api/plugins/compatibility-check" not in streaming


def test_route_table_knows_which_rpcs_stream() -> None:
    """The flag comes from the method descriptor, not from a list of routes."""
    flags = {r.grpc_method.rsplit("/", 1)[1]: r.server_streaming for r in build_route_table()}

    assert flags["CheckCompatibilityStream"] is True
    assert flags["CheckCompatibility"] is False


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, False),
        ("*/*", False),
        ("text/event-stream", True),
        ("text/event-stream;q=0.9, application/x-ndjson", True),
        ("application/x-ndjson, text/event-stream", False),
        ("TEXT/EVENT-STREAM", True),
    ],
)
def test_sse_is_chosen_by_the_first_streaming_media_type_accepted(
    accept: str | None, expected: bool
) -> None:
    """NDJSON unless the Accept header names SSE before NDJSON or JSON."""
    assert wants_sse(accept) is expected
