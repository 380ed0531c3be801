"""End to end: HTTP through the gateway app to a real grpc.aio server and back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import httpx
import pytest
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette

from portico.tenancy.v1 import tenancy_pb2
from portico_gateway.app import create_app
from portico_gateway.upstreams import Upstreams

if TYPE_CHECKING:
    # conftest is not importable at run time under --import-mode=importlib.
    from conftest import Upstream

PROBLEM = "application/problem+json"


def assert_problem(response: httpx.Response, status: int, grpc_code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, object] = response.json()
    assert body["status"] == status
    assert body["grpc_code"] == grpc_code
    assert {"type", "title", "detail", "instance"} <= body.keys()
    return body


async def create(client: httpx.AsyncClient, tenant_id: str, **extra: str) -> httpx.Response:
    return await client.post("/v1/tenants", json={"tenantId": tenant_id, **extra})


async def test_create_tenant_returns_the_upstream_reply_as_camel_case_json(
    client: httpx.AsyncClient,
) -> None:
    """POST /v1/tenants reaches CreateTenant and renders its reply in lowerCamelCase."""
    response = await create(client, "acme", displayName="Acme Corp")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "tenant": {
            "tenantId": "acme",
            "displayName": "Acme Corp",
            "createdAt": "2026-01-01T00:00:00Z",
            "state": "TENANT_STATE_ACTIVE",
            "plan": "",
            "ownerContacts": [],
            "labels": {},
            "suspensionReason": "",
            "pendingServices": [],
            "isolation": "TENANT_ISOLATION_POOL",
        }
    }


async def test_proto_field_names_are_accepted_in_the_body(
    client: httpx.AsyncClient, upstream: Upstream
) -> None:
    """A body spelled with proto names (display_name) fills the same fields."""
    response = await client.post("/v1/tenants", json={"tenant_id": "t1", "display_name": "T"})

    assert response.status_code == 200
    assert upstream.tenancy.tenants["t1"].display_name == "T"


async def test_the_isolation_is_given_by_its_enum_name(
    client: httpx.AsyncClient, upstream: Upstream
) -> None:
    """A tenant created with isolation silo reaches CreateTenant so, and the reply says it."""
    response = await create(client, "vault", isolation="TENANT_ISOLATION_SILO")

    assert response.status_code == 200
    assert response.json()["tenant"]["isolation"] == "TENANT_ISOLATION_SILO"
    assert upstream.tenancy.tenants["vault"].isolation == tenancy_pb2.TENANT_ISOLATION_SILO


async def test_zero_values_are_rendered(client: httpx.AsyncClient) -> None:
    """Fields left at their zero value still appear in the response."""
    response = await create(client, "bare")

    assert response.json()["tenant"]["displayName"] == ""


async def test_get_binds_the_path_variable_to_the_request_field(
    client: httpx.AsyncClient,
) -> None:
    """GET /v1/tenants/{tenant_id} sends the path segment as GetTenantRequest.tenant_id."""
    await create(client, "globex", displayName="Globex")

    response = await client.get("/v1/tenants/globex")

    assert response.status_code == 200
    assert response.json()["tenant"]["displayName"] == "Globex"


async def test_not_found_upstream_becomes_a_404_problem(client: httpx.AsyncClient) -> None:
    """A NOT_FOUND status is a 404 problem carrying the upstream's detail."""
    response = await client.get("/v1/tenants/nobody")

    body = assert_problem(response, 404, "NOT_FOUND")
    assert body["detail"] == "tenant nobody not found"
    assert body["instance"] == "/v1/tenants/nobody"
    assert body["type"] == "urn:portico:problem:not-found"


async def test_already_exists_becomes_a_409_problem(client: httpx.AsyncClient) -> None:
    """Creating the same tenant twice is a 409 conflict."""
    await create(client, "twice")

    assert_problem(await create(client, "twice"), 409, "ALREADY_EXISTS")


async def test_malformed_json_is_a_400_problem_with_its_position(
    client: httpx.AsyncClient,
) -> None:
    """A body that is not JSON is refused with where parsing failed, before any RPC."""
    response = await client.post(
        "/v1/tenants", content=b'{"tenantId": ', headers={"content-type": "application/json"}
    )

    body = assert_problem(response, 400, "INVALID_ARGUMENT")
    assert "line 1 column" in str(body["detail"])


async def test_unknown_field_is_a_400_problem_naming_it(
    client: httpx.AsyncClient, upstream: Upstream
) -> None:
    """A misspelt field is rejected rather than silently dropped."""
    response = await client.post("/v1/tenants", json={"tenantId": "x", "displayNam": "X"})

    body = assert_problem(response, 400, "INVALID_ARGUMENT")
    assert "displayNam" in str(body["detail"])
    assert upstream.tenancy.tenants == {}


async def test_non_json_content_type_is_a_415_problem(client: httpx.AsyncClient) -> None:
    """A form-encoded body is refused as an unsupported media type."""
    response = await client.post("/v1/tenants", content=b"tenantId=x")

    assert_problem(response, 415, "INVALID_ARGUMENT")


async def test_oversized_body_is_a_413_problem(
    client: httpx.AsyncClient, upstream: Upstream
) -> None:
    """A body over max_body_bytes is refused by its Content-Length."""
    response = await create(client, "big", displayName="x" * upstream.max_body_bytes)

    body = assert_problem(response, 413, "RESOURCE_EXHAUSTED")
    assert body["max_body_bytes"] == upstream.max_body_bytes


async def test_oversized_chunked_body_is_a_413_problem(
    client: httpx.AsyncClient, upstream: Upstream
) -> None:
    """A chunked body, which declares no length, is cut off once it passes the limit."""

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"tenantId": "'
        yield b"x" * upstream.max_body_bytes
        yield b'"}'

    response = await client.post(
        "/v1/tenants", content=chunks(), headers={"content-type": "application/json"}
    )

    assert "content-length" not in response.request.headers
    assert_problem(response, 413, "RESOURCE_EXHAUSTED")


async def test_unknown_route_is_a_404_problem(client: httpx.AsyncClient) -> None:
    """A path no annotation binds is a 404 problem, not a crash."""
    response = await client.get("/v1/nothing/here")

    body = assert_problem(response, 404, "NOT_FOUND")
    assert body["type"] == "urn:portico:problem:no-route"


async def test_wrong_method_is_a_405_problem_listing_allowed_methods(
    client: httpx.AsyncClient,
) -> None:
    """PUT on a path bound for GET, PATCH and DELETE only is a 405 with an Allow header."""
    response = await client.put("/v1/tenants/acme", json={})

    assert_problem(response, 405, "UNIMPLEMENTED")
    assert sorted(response.headers["allow"].split(", ")) == ["DELETE", "GET", "PATCH"]


async def test_wrong_method_on_a_fixed_route_is_a_405_problem(client: httpx.AsyncClient) -> None:
    """The gateway's own endpoints answer a wrong method with a problem too."""
    response = await client.post("/healthz")

    assert_problem(response, 405, "UNIMPLEMENTED")


async def test_request_headers_reach_the_servicer_as_metadata(
    client: httpx.AsyncClient, upstream: Upstream
) -> None:
    """authorization, idempotency-key, x-request-id are forwarded; the trace continues upstream."""
    headers = {
        "authorization": "Bearer token-1",
        "idempotency-key": "key-1",
        "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "x-request-id": "req-1",
        "cookie": "session=secret",
    }

    await client.post("/v1/tenants", json={"tenantId": "m"}, headers=headers)

    received = dict(upstream.tenancy.metadata[-1])
    for name in ("authorization", "idempotency-key", "x-request-id"):
        assert received[name] == headers[name]
    # Same trace; the span id is the gateway's own span when tracing records,
    # or the caller's when it does not, never a new trace.
    version, trace_id, _span, flags = received["traceparent"].split("-")
    assert (version, trace_id, flags) == ("00", "0af7651916cd43dd8448eb211c80319c", "01")
    assert "cookie" not in received


async def test_the_client_address_is_forwarded_and_a_forged_one_dropped(
    client: httpx.AsyncClient, upstream: Upstream
) -> None:
    """x-forwarded-for upstream is the HTTP client's address, never the header it sent."""
    await client.post(
        "/v1/tenants", json={"tenantId": "f"}, headers={"x-forwarded-for": "203.0.113.66"}
    )

    received = upstream.tenancy.metadata[-1]
    # httpx's ASGI transport reports its client as 127.0.0.1.
    assert [v for k, v in received if k == "x-forwarded-for"] == ["127.0.0.1"]


async def test_a_request_id_is_generated_forwarded_and_echoed(
    client: httpx.AsyncClient, upstream: Upstream
) -> None:
    """Without x-request-id the gateway makes one, sends it upstream and returns it."""
    response = await create(client, "rid")

    request_id = response.headers["x-request-id"]
    assert request_id
    assert dict(upstream.tenancy.metadata[-1])["x-request-id"] == request_id


async def test_deadline_exceeded_is_a_504_problem(
    client: httpx.AsyncClient, upstream: Upstream
) -> None:
    """An upstream slower than deadline_seconds yields 504 rather than hanging."""
    response = await client.get(f"/v1/tenants/{upstream.slow_tenant}")

    assert_problem(response, 504, "DEADLINE_EXCEEDED")


async def test_unconfigured_upstream_is_a_503_problem(client: httpx.AsyncClient) -> None:
    """A route whose service has no target configured answers 503."""
    response = await client.post("/v1/tenants/acme/rollouts", json={"plugin": "p"})

    body = assert_problem(response, 503, "UNAVAILABLE")
    assert "rollout" in str(body["detail"])


async def test_unreachable_upstream_is_a_503_problem(closed_port: int) -> None:
    """An upstream that refuses connections is UNAVAILABLE, so 503."""
    app = create_app({"tenancy": f"127.0.0.1:{closed_port}"}, registry=CollectorRegistry())
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://g") as http,
    ):
        response = await http.get("/v1/tenants/acme")

    assert_problem(response, 503, "UNAVAILABLE")


async def test_calls_before_start_up_are_refused(upstream: Upstream) -> None:
    """Without the lifespan there are no channels, and the problem says so."""
    app = create_app({"tenancy": upstream.target}, registry=CollectorRegistry())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://g"
    ) as http:
        response = await http.get("/v1/tenants/acme")

    body = assert_problem(response, 503, "UNAVAILABLE")
    assert "not started" in str(body["detail"])


def test_a_misspelt_upstream_name_fails_at_construction() -> None:
    """create_app refuses a service name no route uses, instead of 503s later."""
    with pytest.raises(Exception, match="tenency"):
        create_app({"tenency": "127.0.0.1:1"}, registry=CollectorRegistry())


async def test_header_values_grpc_cannot_carry_are_a_400(client: httpx.AsyncClient) -> None:
    """A non-ASCII authorization header is refused by name, not passed to grpc to crash."""
    response = await client.get(
        "/v1/tenants/acme", headers={"authorization": "Bearer caf\u00e9".encode()}
    )

    body = assert_problem(response, 400, "INVALID_ARGUMENT")
    assert "authorization" in str(body["detail"])


async def test_an_unexpected_failure_is_a_500_problem_without_traceback(
    app: Starlette, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug in the gateway answers a generic 500 problem; the traceback stays server-side."""

    async def broken(*_: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(Upstreams, "call", broken)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://g") as http,
    ):
        response = await http.get("/v1/tenants/acme")

    assert_problem(response, 500, "INTERNAL")
    assert "secret internals" not in response.text
    assert "Traceback" not in response.text
