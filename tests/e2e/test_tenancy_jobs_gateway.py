"""Tenancy's jobs through the gateway's HTTP routes, with real tokens and the kernel interceptor.

A suite-level test (a service's own tests may not import the gateway): tenancy
as `build` wires it (in memory, a recording applier for a cluster) behind the
interceptor that checks tokens signed by a test key, and the gateway app in
front of it. A platform admin sees and steers every tenant's jobs; a tenant
admin its own tenant's only; a developer none.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import grpc
import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import OKPKey
from prometheus_client import CollectorRegistry

from portico.tenancy.v1 import tenancy_pb2 as pb
from portico_common.grpc.interceptor import PorticoServerInterceptor
from portico_common.grpc.registration import register_servicers
from portico_common.grpc.tokens import ALGORITHM, AUDIENCE, ISSUER, TokenVerifier
from portico_gateway.app import create_app
from portico_tenancy.testing import TenancyWorld

pytestmark = pytest.mark.e2e

KEY = OKPKey.generate_key("Ed25519", parameters={"kid": "jobs-test"})


async def _jwks() -> dict[str, Any]:
    return {"keys": [KEY.as_dict(private=False)]}


def bearer(tenant: str, *roles: str) -> dict[str, str]:
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": f"{tenant}-caller",
        "tenant": tenant,
        "roles": list(roles),
        "exp": int(time.time()) + 300,
    }
    token = jwt.encode({"alg": ALGORITHM, "kid": "jobs-test"}, claims, KEY, algorithms=[ALGORITHM])
    return {"Authorization": f"Bearer {token}"}


# Tokens are made when a test uses them: made at import, they could expire
# before a long suite reaches this module.
def platform() -> dict[str, str]:
    return bearer("*", "platform-admin")


def acme_admin() -> dict[str, str]:
    return bearer("acme", "tenant-admin")


def acme_developer() -> dict[str, str]:
    return bearer("acme", "developer")


class Applier:
    @asynccontextmanager
    async def session(self, description: str) -> AsyncIterator[Applier]:
        del description
        yield self

    async def apply(self, manifest: dict[str, Any]) -> bool:
        del manifest
        return True

    async def delete(self, manifest: dict[str, Any]) -> None:
        del manifest


@pytest.fixture
async def gateway() -> AsyncIterator[httpx.AsyncClient]:
    """Tenants acme and beta, each with its provisioning job (1 and 2), behind the gateway."""
    world = TenancyWorld(applier=Applier())
    for tenant in ("acme", "beta"):
        await world.servicer.CreateTenant(pb.CreateTenantRequest(tenant_id=tenant), None)
    server = grpc.aio.server(
        interceptors=[
            PorticoServerInterceptor(
                "tenancy", verifier=TokenVerifier(_jwks), idempotency=None, denials=None
            )
        ]
    )
    register_servicers(server, world.components.servicers)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    app = create_app({"tenancy": f"127.0.0.1:{port}"}, registry=CollectorRegistry())
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as http,
        ):
            yield http
    finally:
        await server.stop(None)


def tenants_of(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [job["tenantId"] for job in response.json()["jobs"]]


async def test_a_platform_admin_lists_every_tenants_jobs(gateway: httpx.AsyncClient) -> None:
    """GET /v1/jobs with a platform token lists both tenants' jobs, newest first."""
    assert tenants_of(await gateway.get("/v1/jobs", headers=platform())) == ["beta", "acme"]
    assert tenants_of(await gateway.get("/v1/tenants/beta/jobs", headers=platform())) == ["beta"]


async def test_a_tenant_admin_sees_only_its_own_tenants_jobs(gateway: httpx.AsyncClient) -> None:
    """Its tenant's path and /v1/jobs answer acme's job; beta's path is forbidden."""
    assert tenants_of(await gateway.get("/v1/tenants/acme/jobs", headers=acme_admin())) == ["acme"]
    assert tenants_of(await gateway.get("/v1/jobs", headers=acme_admin())) == ["acme"]
    other = await gateway.get("/v1/tenants/beta/jobs", headers=acme_admin())
    assert other.status_code == 403
    assert other.json()["grpc_code"] == "PERMISSION_DENIED"
    stolen = await gateway.get("/v1/tenants/acme/jobs/2", headers=acme_admin())
    assert stolen.status_code == 404


async def test_a_developer_may_not_read_jobs(gateway: httpx.AsyncClient) -> None:
    """jobs.read is the tenant admin's (and the platform's), not a developer's."""
    denied = await gateway.get("/v1/tenants/acme/jobs", headers=acme_developer())
    assert denied.status_code == 403
    assert "jobs.read" in denied.json()["detail"]
    refused = await gateway.post(
        "/v1/tenants/acme/jobs/1:cancel", json={}, headers=acme_developer()
    )
    assert refused.status_code == 403
    assert "jobs.manage" in refused.json()["detail"]


async def test_a_tenant_admin_cancels_and_retries_its_job(gateway: httpx.AsyncClient) -> None:
    """:cancel then :retry through HTTP; a retry of a queued job is a failed precondition."""
    got = await gateway.get("/v1/tenants/acme/jobs/1", headers=acme_admin())
    assert got.status_code == 200, got.text
    assert (got.json()["job"]["kind"], got.json()["job"]["state"]) == (
        "tenant.provision",
        "JOB_STATE_QUEUED",
    )
    early = await gateway.post("/v1/tenants/acme/jobs/1:retry", json={}, headers=acme_admin())
    assert early.json()["grpc_code"] == "FAILED_PRECONDITION"

    cancelled = await gateway.post("/v1/tenants/acme/jobs/1:cancel", json={}, headers=acme_admin())
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["job"]["state"] == "JOB_STATE_CANCELLED"
    retried = await gateway.post("/v1/tenants/acme/jobs/1:retry", json={}, headers=acme_admin())
    assert retried.json()["job"]["state"] == "JOB_STATE_QUEUED"

    others = await gateway.post("/v1/tenants/beta/jobs/2:cancel", json={}, headers=acme_admin())
    assert others.status_code == 403
    by_platform = await gateway.post("/v1/tenants/beta/jobs/2:cancel", json={}, headers=platform())
    assert by_platform.json()["job"]["state"] == "JOB_STATE_CANCELLED"
