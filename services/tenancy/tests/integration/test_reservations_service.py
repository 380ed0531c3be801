"""Quota reservations over gRPC on real PostgreSQL: concurrent claims cannot overrun a quota."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import grpc
import pytest

from portico.tenancy.v1 import quotas_pb2 as qpb
from portico.tenancy.v1 import quotas_pb2_grpc as qpb_grpc
from portico.tenancy.v1 import tenancy_pb2 as pb

if TYPE_CHECKING:
    from .conftest import RunningTenancy

pytestmark = pytest.mark.integration

LIMITS = pb.Resources(cpu_millicores=4000, memory_mib=8192, storage_mib=20480)


def _install(request_id: str, plugin: str, **amounts: int) -> qpb.ReserveRequest:
    return qpb.ReserveRequest(
        tenant_id="acme",
        reservation_id=request_id,
        kind=qpb.RESERVATION_KIND_INSTALL,
        plugin=plugin,
        version="1.0.0",
        amounts=qpb.ReservedAmounts(plugins=1, **amounts),
    )


async def _outcomes(
    stub: qpb_grpc.QuotaReservationServiceAsyncStub, requests: list[qpb.ReserveRequest]
) -> tuple[list[str], list[str]]:
    """Fires every request at once: (granted reservation ids, RESOURCE_EXHAUSTED details)."""

    async def one(request: qpb.ReserveRequest) -> tuple[str, grpc.StatusCode, str]:
        try:
            reply = await stub.Reserve(request, timeout=60)
        except grpc.aio.AioRpcError as exc:
            return "", exc.code(), exc.details() or ""
        return reply.reservation.reservation_id, grpc.StatusCode.OK, ""

    results = await asyncio.gather(*(one(r) for r in requests))
    assert {code for _, code, _ in results} <= {
        grpc.StatusCode.OK,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    }
    return [g for g, _, _ in results if g], [d for _, _, d in results if d]


async def test_fifty_concurrent_installs_at_a_quota_of_ten_grant_exactly_ten(
    tenancy: RunningTenancy,
) -> None:
    """50 install reservations fired at once at max_plugins 10: exactly 10 granted, 40 refused."""
    await tenancy.stub.CreateTenant(pb.CreateTenantRequest(tenant_id="acme"))
    await tenancy.stub.SetQuota(pb.SetQuotaRequest(tenant_id="acme", limits=LIMITS, max_plugins=10))
    stub = qpb_grpc.QuotaReservationServiceStub(tenancy.channel)

    granted, refused = await _outcomes(
        stub, [_install(f"req-{i}", f"plugin-{i}") for i in range(50)]
    )

    assert (len(granted), len(refused)) == (10, 40)
    assert all("plugins: 1 wanted, 10 of 10 held" in d for d in refused)
    quota = await tenancy.stub.GetQuota(pb.GetQuotaRequest(tenant_id="acme"))
    assert quota.reserved.plugins == 10
    # The same id again is the same reservation, not an eleventh.
    again = await stub.Reserve(_install(granted[0], granted[0].replace("req", "plugin")))
    assert again.reservation.state == qpb.RESERVATION_STATE_HELD
    # A release makes room for exactly one more.
    released = await stub.Release(
        qpb.ReleaseRequest(tenant_id="acme", reservation_id=granted[0], reason="install failed")
    )
    assert released.reservation.state == qpb.RESERVATION_STATE_RELEASED
    more, _ = await _outcomes(stub, [_install(f"late-{i}", f"late-{i}") for i in range(5)])
    assert len(more) == 1


async def test_concurrent_rollouts_and_resources_are_limited_by_the_same_check(
    tenancy: RunningTenancy,
) -> None:
    """max_concurrent_rollouts and the CPU limit each admit only what fits, under concurrency."""
    await tenancy.stub.CreateTenant(pb.CreateTenantRequest(tenant_id="acme"))
    await tenancy.stub.SetQuota(
        pb.SetQuotaRequest(
            tenant_id="acme", limits=LIMITS, max_plugins=100, max_concurrent_rollouts=3
        )
    )
    stub = qpb_grpc.QuotaReservationServiceStub(tenancy.channel)
    rollouts = [
        qpb.ReserveRequest(
            tenant_id="acme",
            reservation_id=f"rollout-{i}",
            kind=qpb.RESERVATION_KIND_ROLLOUT,
            plugin=f"p{i}",
            amounts=qpb.ReservedAmounts(rollouts=1),
        )
        for i in range(20)
    ]
    granted, refused = await _outcomes(stub, rollouts)
    assert (len(granted), len(refused)) == (3, 17)
    assert "concurrent rollouts: 1 wanted, 3 of 3 held" in refused[0]

    # 4000 millicores fit five installs of 800, not six.
    cpu, refused = await _outcomes(
        stub, [_install(f"cpu-{i}", f"cpu-{i}", cpu_millicores=800) for i in range(12)]
    )
    assert len(cpu) == 5
    assert "cpu_millicores: 800 wanted, 4000 of 4000 held" in refused[0]


async def test_a_release_before_its_reserve_means_the_reserve_is_never_granted(
    tenancy: RunningTenancy,
) -> None:
    """Releasing an unknown id leaves a released row; a Reserve with that id answers released."""
    await tenancy.stub.CreateTenant(pb.CreateTenantRequest(tenant_id="acme"))
    stub = qpb_grpc.QuotaReservationServiceStub(tenancy.channel)
    await stub.Release(qpb.ReleaseRequest(tenant_id="acme", reservation_id="r1", reason="gave up"))
    reply = await stub.Reserve(_install("r1", "x"))
    assert reply.reservation.state == qpb.RESERVATION_STATE_RELEASED
    quota_free = await stub.Reserve(_install("r2", "y"))
    assert quota_free.reservation.state == qpb.RESERVATION_STATE_HELD
