"""Who may steer the lifecycle, and a suspended tenant's token refused by the interceptor.

The lifecycle is the platform's: a tenant admin reads its own tenant (and its
state) but cannot suspend, resume, delete or list tenants; a service token
reports only for its own service. Tokens are signed by a test key the
interceptor's verifier trusts.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from joserfc import jwt
from joserfc.jwk import OKPKey

from portico.tenancy.v1 import lifecycle_pb2 as lpb
from portico.tenancy.v1 import lifecycle_pb2_grpc as lpb_grpc
from portico.tenancy.v1 import tenancy_pb2 as pb
from portico.tenancy.v1 import tenancy_pb2_grpc as pb_grpc
from portico_common.grpc.interceptor import PorticoServerInterceptor
from portico_common.grpc.registration import register_servicers
from portico_common.grpc.tokens import ALGORITHM, AUDIENCE, ISSUER, TokenVerifier
from portico_common.tenant_status import RefusedTenants
from portico_tenancy.app import lifecycle
from portico_tenancy.testing import TenancyWorld

KEY = OKPKey.generate_key("Ed25519", parameters={"kid": "lifecycle-test"})


async def _jwks() -> dict[str, Any]:
    return {"keys": [KEY.as_dict(private=False)]}


def _token(subject: str, tenant: str, *roles: str) -> tuple[tuple[str, str]]:
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": subject,
        "tenant": tenant,
        "roles": list(roles),
        "exp": int(time.time()) + 300,
    }
    header = {"alg": ALGORITHM, "kid": "lifecycle-test"}
    return (("authorization", f"Bearer {jwt.encode(header, claims, KEY, algorithms=[ALGORITHM])}"),)


# Tokens are made when a test uses them: made at import, they could expire
# before a long suite reaches this module.
def platform() -> tuple[tuple[str, str]]:
    return _token("root", "*", "platform-admin")


def acme_admin() -> tuple[tuple[str, str]]:
    return _token("acme-admin", "acme", "tenant-admin")


@dataclass
class Served:
    tenancy: pb_grpc.TenancyServiceAsyncStub
    lifecycle: lpb_grpc.TenantLifecycleServiceAsyncStub
    world: TenancyWorld
    refused: RefusedTenants


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    """tenancy as `build` wires it behind the interceptor, tenant acme created."""
    world = TenancyWorld()
    refused = RefusedTenants()
    server = grpc.aio.server(
        interceptors=[
            PorticoServerInterceptor(
                "tenancy", verifier=TokenVerifier(_jwks), idempotency=None, refused=refused
            )
        ]
    )
    register_servicers(server, world.components.servicers)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            tenancy = pb_grpc.TenancyServiceStub(channel)
            await tenancy.CreateTenant(
                pb.CreateTenantRequest(tenant_id="acme"), metadata=platform()
            )
            yield Served(
                tenancy,  # type: ignore[arg-type]
                lpb_grpc.TenantLifecycleServiceStub(channel),  # type: ignore[arg-type]
                world,
                refused,
            )
    finally:
        await server.stop(None)


async def _code(call: Any) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value.code(), caught.value.details() or ""


async def test_a_tenant_admin_cannot_steer_the_lifecycle(served: Served) -> None:
    """Suspend, delete and list are refused by name to a tenant admin; it reads its tenant."""
    for call, permission in (
        (
            served.lifecycle.SuspendTenant(
                lpb.SuspendTenantRequest(tenant_id="acme", reason="x"), metadata=acme_admin()
            ),
            "tenants.suspend",
        ),
        (
            served.lifecycle.DeleteTenant(
                lpb.DeleteTenantRequest(tenant_id="acme"), metadata=acme_admin()
            ),
            "tenants.delete",
        ),
        (
            served.lifecycle.ListTenants(lpb.ListTenantsRequest(), metadata=acme_admin()),
            "tenants.list",
        ),
    ):
        code, detail = await _code(call)
        assert code is grpc.StatusCode.PERMISSION_DENIED
        assert detail.startswith(f"missing permission {permission!r}")
    own = await served.tenancy.GetTenant(
        pb.GetTenantRequest(tenant_id="acme"), metadata=acme_admin()
    )
    assert own.tenant.state == pb.TENANT_STATE_ACTIVE


async def test_a_suspended_tenants_token_is_refused_but_the_platform_resumes_it(
    served: Served,
) -> None:
    """Once the set holds acme, its admin is refused naming the suspension; resume still works."""
    suspended = await served.lifecycle.SuspendTenant(
        lpb.SuspendTenantRequest(tenant_id="acme", reason="unpaid"), metadata=platform()
    )
    assert suspended.tenant.state == pb.TENANT_STATE_SUSPENDED
    served.refused.replace(await lifecycle.refused_states(served.world.uow))
    code, detail = await _code(
        served.tenancy.GetTenant(pb.GetTenantRequest(tenant_id="acme"), metadata=acme_admin())
    )
    assert code is grpc.StatusCode.PERMISSION_DENIED
    assert detail == "tenant 'acme' is suspended: its tokens are refused until it is resumed"
    resumed = await served.lifecycle.ResumeTenant(
        lpb.ResumeTenantRequest(tenant_id="acme"), metadata=platform()
    )
    assert resumed.tenant.state == pb.TENANT_STATE_ACTIVE


async def test_a_service_reports_only_for_itself(served: Served) -> None:
    """svc-rollout reporting for slo is refused; the refused list is the service role's."""
    await served.lifecycle.DeleteTenant(
        lpb.DeleteTenantRequest(tenant_id="acme"), metadata=platform()
    )
    served.world.clock.advance(days=31)
    deletions = served.world.components.deletions
    assert deletions is not None
    assert await deletions.tick() == 1
    rollout = _token("svc-rollout", "*", "service")
    code, detail = await _code(
        served.lifecycle.ReportTenantDataDeleted(
            lpb.ReportTenantDataDeletedRequest(tenant_id="acme", service="slo"), metadata=rollout
        )
    )
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert "cannot report for service 'slo'" in detail
    reply = await served.lifecycle.ReportTenantDataDeleted(
        lpb.ReportTenantDataDeletedRequest(tenant_id="acme", service="rollout"), metadata=rollout
    )
    assert "rollout" not in reply.tenant.pending_services
    assert "slo" in reply.tenant.pending_services
    listed = await served.lifecycle.ListRefusedTenants(
        lpb.ListRefusedTenantsRequest(), metadata=rollout
    )
    assert [t.tenant_id for t in listed.tenants] == ["acme"]


async def test_list_filters_by_a_label_selector_and_refuses_a_malformed_one(
    served: Served,
) -> None:
    """label_selector "region=eu" matches like the labels map; "region" alone is refused."""
    await served.lifecycle.UpdateTenant(
        lpb.UpdateTenantRequest(
            tenant_id="acme", labels={"region": "eu"}, update_mask={"paths": ["labels"]}
        ),
        metadata=platform(),
    )
    await served.tenancy.CreateTenant(pb.CreateTenantRequest(tenant_id="beta"), metadata=platform())
    found = await served.lifecycle.ListTenants(
        lpb.ListTenantsRequest(label_selector="region=eu"), metadata=platform()
    )
    assert [t.tenant_id for t in found.tenants] == ["acme"]
    code, detail = await _code(
        served.lifecycle.ListTenants(
            lpb.ListTenantsRequest(label_selector="region"), metadata=platform()
        )
    )
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert "'region' is not key=value" in detail
