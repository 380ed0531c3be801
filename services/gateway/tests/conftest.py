"""Fixtures: a real grpc.aio server with small tenancy and auth servicers, and the gateway."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import grpc
import httpx
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette

from portico.auth.v1 import auth_pb2, auth_pb2_grpc
from portico.tenancy.v1 import tenancy_pb2, tenancy_pb2_grpc
from portico_gateway.app import create_app

#: A tenant id whose GetTenant outlives any deadline the tests give the gateway.
SLOW_TENANT = "slow-tenant"
#: Tenant ids whose GetTenant fails with this status and a detail full of internals.
FAILING_TENANTS = {
    "broken-tenant": (
        grpc.StatusCode.INTERNAL,
        (
            'Traceback (most recent call last):\n  File "/srv/portico/tenancy/db.py", line 7\n'
            "asyncpg: cannot reach 10.0.3.7:5432"
        ),
    ),
    "degraded-tenant": (
        grpc.StatusCode.UNAVAILABLE,
        (
            "database at 10.0.3.7:5432 (postgres.internal.example:5432) is down; "
            "see /var/lib/portico/tenancy.log"
        ),
    ),
}
#: The client secret FakeAuth accepts.
GOOD_SECRET = "s3cret-s3cret-s3cret"
TEST_DEADLINE_SECONDS = 0.3
TEST_MAX_BODY_BYTES = 1024


class FakeTenancy(tenancy_pb2_grpc.TenancyServiceServicer):
    """Tenants in a dict; records the metadata of every call it receives."""

    def __init__(self) -> None:
        self.tenants: dict[str, tenancy_pb2.Tenant] = {}
        self.metadata: list[list[tuple[str, str | bytes]]] = []

    async def CreateTenant(  # noqa: N802 - the generated servicer's method name
        self, request: tenancy_pb2.CreateTenantRequest, context: grpc.aio.ServicerContext
    ) -> tenancy_pb2.CreateTenantResponse:
        self.metadata.append(list(context.invocation_metadata() or ()))
        if not request.tenant_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "tenant_id is required")
        if request.tenant_id in self.tenants:
            await context.abort(
                grpc.StatusCode.ALREADY_EXISTS, f"tenant {request.tenant_id} exists"
            )
        tenant = tenancy_pb2.Tenant(
            tenant_id=request.tenant_id,
            display_name=request.display_name,
            created_at=Timestamp(seconds=1_767_225_600),
            state=tenancy_pb2.TENANT_STATE_ACTIVE,
            isolation=request.isolation or tenancy_pb2.TENANT_ISOLATION_POOL,
        )
        self.tenants[tenant.tenant_id] = tenant
        return tenancy_pb2.CreateTenantResponse(tenant=tenant)

    async def GetTenant(  # noqa: N802 - the generated servicer's method name
        self, request: tenancy_pb2.GetTenantRequest, context: grpc.aio.ServicerContext
    ) -> tenancy_pb2.GetTenantResponse:
        self.metadata.append(list(context.invocation_metadata() or ()))
        if request.tenant_id == SLOW_TENANT:
            # Cancelled by the server once the client's deadline passes.
            await asyncio.sleep(30)
        if request.tenant_id in FAILING_TENANTS:
            await context.abort(*FAILING_TENANTS[request.tenant_id])
        tenant = self.tenants.get(request.tenant_id)
        if tenant is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"tenant {request.tenant_id} not found")
        return tenancy_pb2.GetTenantResponse(tenant=tenant)


class FakeAuth(auth_pb2_grpc.AuthServiceServicer):
    async def IssueServiceToken(  # noqa: N802 - the generated servicer's method name
        self, request: auth_pb2.IssueServiceTokenRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.IssueServiceTokenResponse:
        if request.client_secret != GOOD_SECRET:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "invalid client credentials")
        return auth_pb2.IssueServiceTokenResponse(
            access_token="eyJhbGciOiJFZDI1NTE5In0.e30.c2ln", token_type="Bearer", expires_in=300
        )

    async def GetJwks(  # noqa: N802 - the generated servicer's method name
        self, _request: auth_pb2.GetJwksRequest, _context: grpc.aio.ServicerContext
    ) -> auth_pb2.GetJwksResponse:
        key = auth_pb2.JsonWebKey(kty="OKP", crv="Ed25519", x="11qYAYKxCrfVS_7TyWQHOg", kid="k1")
        return auth_pb2.GetJwksResponse(keys=[key])


@dataclass
class Upstream:
    target: str
    tenancy: FakeTenancy
    server: grpc.aio.Server
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    slow_tenant: str = SLOW_TENANT
    good_secret: str = GOOD_SECRET
    max_body_bytes: int = TEST_MAX_BODY_BYTES


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    """A real grpc.aio server on a free port serving the fake tenancy and auth services."""
    tenancy = FakeTenancy()
    server = grpc.aio.server()
    tenancy_pb2_grpc.add_TenancyServiceServicer_to_server(tenancy, server)
    auth_pb2_grpc.add_AuthServiceServicer_to_server(FakeAuth(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield Upstream(f"127.0.0.1:{port}", tenancy, server)
    await server.stop(grace=None)


@pytest.fixture
def app(upstream: Upstream) -> Starlette:
    return create_app(
        {"tenancy": upstream.target, "auth": upstream.target},
        max_body_bytes=TEST_MAX_BODY_BYTES,
        deadline_seconds=TEST_DEADLINE_SECONDS,
        registry=upstream.registry,
    )


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the gateway in-process, with its lifespan running."""
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway"
        ) as http,
    ):
        yield http


@pytest.fixture
def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
