"""The gateway's edge: nesting limits, security headers, and errors that reveal nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import httpx
import pytest
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette

from portico_gateway.app import create_app
from portico_gateway.routes import build_route_table
from portico_gateway.upstreams import Upstreams

if TYPE_CHECKING:
    # conftest is not importable at run time under --import-mode=importlib.
    from conftest import Upstream

PROBLEM = "application/problem+json"
INTERNALS = ("10.0.3.7", "5432", "postgres.internal", "/srv/", "/var/lib", "Traceback", ".py")


def nested(depth: int) -> bytes:
    """A CreateTenant body whose display name is an array nested `depth` levels deep."""
    return b'{"tenantId": "deep", "displayName": ' + b"[" * depth + b"]" * depth + b"}"


@pytest.fixture
async def roomy(upstream: Upstream) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a gateway with the default body limit, so deep bodies fit."""
    app = create_app(
        {"tenancy": upstream.target, "auth": upstream.target}, registry=CollectorRegistry()
    )
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://gateway") as http,
    ):
        yield http


async def post_json(client: httpx.AsyncClient, path: str, body: bytes) -> httpx.Response:
    return await client.post(path, content=body, headers={"content-type": "application/json"})


@pytest.mark.parametrize("depth", [65, 5000, 100_000])
async def test_deeply_nested_json_is_a_400_before_any_rpc(
    roomy: httpx.AsyncClient, upstream: Upstream, depth: int
) -> None:
    """A body nested past 64 levels is refused as a problem; nothing parses or forwards it."""
    response = await post_json(roomy, "/v1/tenants", nested(depth))

    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["type"] == "urn:portico:problem:json-too-deep"
    assert body["grpc_code"] == "INVALID_ARGUMENT"
    assert body["max_json_depth"] == 64
    assert "64 levels" in body["detail"]
    assert upstream.tenancy.metadata == []


async def test_unclosed_deep_json_is_a_400(roomy: httpx.AsyncClient) -> None:
    """A body that only opens objects, the parser's worst case, is refused the same way."""
    response = await post_json(roomy, "/v1/tenants", b'{"a":' * 5000)

    assert response.status_code == 400
    assert response.json()["type"] == "urn:portico:problem:json-too-deep"


async def test_json_at_the_depth_limit_reaches_the_field_checks(roomy: httpx.AsyncClient) -> None:
    """64 levels pass the nesting check; the misplaced array is then refused by field."""
    response = await post_json(roomy, "/v1/tenants", nested(63))

    assert response.status_code == 400
    assert response.json()["type"] == "urn:portico:problem:invalid-field"


async def test_the_depth_limit_is_configurable(upstream: Upstream) -> None:
    """max_json_depth lowers (or raises) the limit; the problem names the one in force."""
    app = create_app({"tenancy": upstream.target}, max_json_depth=2, registry=CollectorRegistry())
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://g") as http,
    ):
        response = await post_json(http, "/v1/tenants", nested(2))

    assert response.status_code == 400
    assert response.json()["max_json_depth"] == 2


def test_a_depth_limit_below_one_is_refused() -> None:
    """A gateway that could accept no JSON object at all is a configuration error."""
    with pytest.raises(Exception, match="max_json_depth"):
        create_app({}, max_json_depth=0, registry=CollectorRegistry())


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/healthz"),
        ("GET", "/metrics"),
        ("GET", "/v1/routes"),
        ("GET", "/.well-known/jwks.json"),
        ("GET", "/v1/tenants/nobody"),
        ("GET", "/v1/not/a/route"),
        ("POST", "/healthz"),
        ("DELETE", "/v1/tenants/acme"),
    ],
)
async def test_every_response_says_nosniff(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    """Successes, problems and the fixed endpoints all carry X-Content-Type-Options."""
    response = await client.request(method, path)

    assert response.headers["x-content-type-options"] == "nosniff"


async def test_a_gateway_crash_still_says_nosniff(
    app: Starlette, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The 500 Starlette answers from its outermost layer carries the header too."""

    async def broken(*_: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(Upstreams, "call", broken)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://g") as http,
    ):
        response = await http.get("/v1/tenants/acme")

    assert response.status_code == 500
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_a_token_response_is_never_cached(
    client: httpx.AsyncClient, upstream: Upstream
) -> None:
    """POST /v1/auth/token answers with Cache-Control: no-store and Pragma: no-cache."""
    credentials = {"clientId": "c", "clientSecret": upstream.good_secret, "tenantId": "acme"}

    response = await client.post("/v1/auth/token", json=credentials)

    assert response.status_code == 200, response.text
    assert response.json()["accessToken"]
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_a_refused_token_request_is_not_cached_either(client: httpx.AsyncClient) -> None:
    """The problem answering a wrong secret is no-store as well."""
    response = await client.post(
        "/v1/auth/token", json={"clientId": "c", "clientSecret": "wrong", "tenantId": "acme"}
    )

    assert response.status_code == 401
    assert response.headers["cache-control"] == "no-store"


async def test_ordinary_responses_keep_their_caching(client: httpx.AsyncClient) -> None:
    """Routes without credentials are not marked no-store; the JWKS stays cacheable."""
    await client.post("/v1/tenants", json={"tenantId": "acme"})

    tenant = await client.get("/v1/tenants/acme")
    jwks = await client.get("/.well-known/jwks.json")

    assert "cache-control" not in tenant.headers
    assert jwks.headers["cache-control"] == "public, max-age=60"


def test_routes_carrying_credentials_are_marked() -> None:
    """Token issuance, verification and client registration carry secrets; reads do not."""
    table = build_route_table()
    marked = {route.grpc_method.rsplit("/", 1)[1] for route in table if route.carries_secret}

    assert {"IssueServiceToken", "VerifyToken", "RegisterClient"} <= marked
    assert not marked & {"GetJwks", "GetTenant", "RequestRollout", "ListAuditRecords"}


async def test_an_unreachable_upstream_reveals_no_address(closed_port: int) -> None:
    """grpc's connection error (with the target's host and port) never reaches the client."""
    app = create_app({"tenancy": f"127.0.0.1:{closed_port}"}, registry=CollectorRegistry())
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://g") as http,
    ):
        response = await http.get("/v1/tenants/acme")

    assert response.status_code == 503
    body = response.json()
    assert body["detail"] == "the tenancy service is unreachable; try again later"
    assert body["service"] == "tenancy"
    for leak in ("127.0.0.1", str(closed_port), "ipv4", "connect"):
        assert leak not in response.text


async def test_an_internal_error_reveals_no_traceback_or_address(
    client: httpx.AsyncClient,
) -> None:
    """An upstream INTERNAL with a traceback and an address answers a bare 500 problem."""
    response = await client.get("/v1/tenants/broken-tenant")

    assert response.status_code == 500
    assert response.json()["grpc_code"] == "INTERNAL"
    for leak in INTERNALS:
        assert leak not in response.text


async def test_an_upstreams_own_message_keeps_its_sense_without_addresses(
    client: httpx.AsyncClient,
) -> None:
    """A service's UNAVAILABLE reason reaches the client with its addresses and paths masked."""
    response = await client.get("/v1/tenants/degraded-tenant")

    assert response.status_code == 503
    detail = response.json()["detail"]
    assert detail.startswith("database at [internal] ([internal]) is down")
    for leak in INTERNALS:
        assert leak not in response.text
