"""A suspended tenant is refused within seconds, through the bus, on real PostgreSQL and NATS."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import grpc
import pytest

from portico.tenancy.v1 import lifecycle_pb2 as lpb
from portico.tenancy.v1 import lifecycle_pb2_grpc as lpb_grpc
from portico.tenancy.v1 import tenancy_pb2 as pb
from portico_embedded.testing.fixtures import unique_tenant

if TYPE_CHECKING:
    from .conftest import RunningTenancy

pytestmark = pytest.mark.integration

BOUND_SECONDS = 10.0


async def test_suspend_refuses_the_tenant_within_seconds_and_resume_lets_it_back(
    tenancy: RunningTenancy,
) -> None:
    """SuspendTenant -> PERMISSION_DENIED naming the suspension; the time is measured."""
    tenant = unique_tenant()
    await tenancy.stub.CreateTenant(pb.CreateTenantRequest(tenant_id=tenant, display_name="x"))
    await tenancy.stub.GetTenant(pb.GetTenantRequest(tenant_id=tenant))
    lifecycle = lpb_grpc.TenantLifecycleServiceStub(tenancy.channel)
    started = time.monotonic()
    await lifecycle.SuspendTenant(lpb.SuspendTenantRequest(tenant_id=tenant, reason="unpaid"))
    refused: grpc.aio.AioRpcError | None = None
    while time.monotonic() - started < BOUND_SECONDS and refused is None:
        try:
            await tenancy.stub.GetTenant(pb.GetTenantRequest(tenant_id=tenant))
        except grpc.aio.AioRpcError as exc:
            refused = exc
    elapsed = time.monotonic() - started
    print(f"suspension to refusal: {elapsed * 1000:.0f} ms")
    assert refused is not None, f"still served {BOUND_SECONDS} s after SuspendTenant"
    assert refused.code() is grpc.StatusCode.PERMISSION_DENIED
    assert f"tenant {tenant!r} is suspended" in (refused.details() or "")
    await lifecycle.ResumeTenant(lpb.ResumeTenantRequest(tenant_id=tenant))
    deadline = time.monotonic() + BOUND_SECONDS
    while True:
        try:
            reply = await tenancy.stub.GetTenant(pb.GetTenantRequest(tenant_id=tenant))
            break
        except grpc.aio.AioRpcError:
            assert time.monotonic() < deadline, "still refused after ResumeTenant"
    assert reply.tenant.state == pb.TENANT_STATE_ACTIVE


async def test_refused_tenants_are_listed_for_services(tenancy: RunningTenancy) -> None:
    """ListRefusedTenants names the suspended tenant with its state."""
    tenant = unique_tenant()
    await tenancy.stub.CreateTenant(pb.CreateTenantRequest(tenant_id=tenant))
    lifecycle = lpb_grpc.TenantLifecycleServiceStub(tenancy.channel)
    await lifecycle.SuspendTenant(lpb.SuspendTenantRequest(tenant_id=tenant, reason="abuse"))
    reply = await lifecycle.ListRefusedTenants(lpb.ListRefusedTenantsRequest())
    assert lpb.RefusedTenant(tenant_id=tenant, state=pb.TENANT_STATE_SUSPENDED) in reply.tenants
