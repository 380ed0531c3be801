"""Tenancy quotas end to end: gRPC in, PostgreSQL state, CloudEvents on JetStream."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import grpc
import pytest

from portico.events.v1 import events_pb2
from portico.tenancy.v1 import quotas_pb2 as qpb
from portico.tenancy.v1 import quotas_pb2_grpc as qpb_grpc
from portico.tenancy.v1 import tenancy_pb2 as pb
from portico_common.events.bus import connect, publish
from portico_common.events.catalog import type_of
from portico_common.events.envelope import Envelope
from portico_common.events.topology import owner_source

if TYPE_CHECKING:
    from .conftest import RunningTenancy

pytestmark = pytest.mark.integration

LIMITS = pb.Resources(cpu_millicores=4000, memory_mib=8192, storage_mib=20480)


async def test_set_quota_over_grpc_publishes_tenant_quota_updated(
    tenancy: RunningTenancy,
) -> None:
    """SetQuota answers the stored quota and tenancy publishes tenant.quota.updated for it."""
    await tenancy.stub.CreateTenant(pb.CreateTenantRequest(tenant_id="acme"))
    created, _ = await tenancy.next_event()
    assert created.type == "tenant.created"

    reply = await tenancy.stub.SetQuota(
        pb.SetQuotaRequest(tenant_id="acme", limits=LIMITS, max_plugins=12)
    )
    assert (reply.quota.tenant_id, reply.quota.max_plugins, reply.quota.revision) == ("acme", 12, 1)
    assert reply.quota.limits == LIMITS

    envelope, headers = await tenancy.next_event()
    assert envelope.type == "tenant.quota.updated"
    assert (headers["portico-tenant"], headers["ce-source"], headers["ce-subject"]) == (
        "acme",
        "portico/tenancy",
        "acme",
    )
    event = envelope.payload
    assert isinstance(event, events_pb2.TenantQuotaUpdated)
    assert (event.tenant_id, event.max_plugins, event.revision) == ("acme", 12, 1)
    assert (event.limits.cpu_millicores, event.limits.memory_mib, event.limits.storage_mib) == (
        4000,
        8192,
        20480,
    )
    assert event.updated_at == reply.quota.updated_at


async def test_usage_is_derived_from_a_completed_rollout_on_jetstream(
    tenancy: RunningTenancy, nats_url: str
) -> None:
    """An install's hold turns into usage when rollout.completed arrives, announced and readable."""
    await tenancy.stub.CreateTenant(pb.CreateTenantRequest(tenant_id="acme"))
    await tenancy.stub.SetQuota(pb.SetQuotaRequest(tenant_id="acme", limits=LIMITS, max_plugins=3))
    amounts = qpb.ReservedAmounts(plugins=1, cpu_millicores=1500, memory_mib=2048)
    await qpb_grpc.QuotaReservationServiceStub(tenancy.channel).Reserve(
        qpb.ReserveRequest(
            tenant_id="acme",
            reservation_id="install-1",
            kind=qpb.RESERVATION_KIND_INSTALL,
            plugin="left-pad",
            version="1.0.0",
            amounts=amounts,
        )
    )
    held = await tenancy.stub.GetQuota(pb.GetQuotaRequest(tenant_id="acme"))
    assert (held.HasField("usage"), held.reserved.plugins) == (False, 1)

    nc = await connect(nats_url, "rollout-as-owner")
    try:
        completed = events_pb2.RolloutCompleted(
            tenant_id="acme", rollout_id="ro-1", plugin="left-pad", version="1.0.0"
        )
        await publish(
            nc.jetstream(),
            Envelope.of(completed, source=owner_source(type_of(completed)), tenant_id="acme"),
        )
    finally:
        await nc.close()

    types = [(await tenancy.next_event())[0].type for _ in range(3)]
    assert types == ["tenant.created", "tenant.quota.updated", "tenant.usage.updated"]
    got = await tenancy.stub.GetQuota(pb.GetQuotaRequest(tenant_id="acme"))
    used = pb.Resources(cpu_millicores=1500, memory_mib=2048)
    assert (got.usage.used, got.usage.plugins, got.usage.revision) == (used, 1, 1)
    assert got.reserved.plugins == 0
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await tenancy.stub.RecordUsage(pb.RecordUsageRequest(tenant_id="acme", plugins=0))
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_quota_without_limits_is_invalid_and_publishes_nothing(
    tenancy: RunningTenancy,
) -> None:
    """A SetQuota missing its limits is INVALID_ARGUMENT; GetQuota then still finds none."""
    await tenancy.stub.CreateTenant(pb.CreateTenantRequest(tenant_id="acme"))
    with pytest.raises(grpc.aio.AioRpcError) as invalid:
        await tenancy.stub.SetQuota(pb.SetQuotaRequest(tenant_id="acme", max_plugins=3))
    assert invalid.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "limits is required" in (invalid.value.details() or "")
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await tenancy.stub.GetQuota(pb.GetQuotaRequest(tenant_id="acme"))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    (created, _) = await tenancy.next_event()
    assert created.type == "tenant.created"
    with pytest.raises(TimeoutError):
        await tenancy.next_event(wait=0.5)


async def test_rollout_declining_an_approved_install_releases_its_hold_on_jetstream(
    tenancy: RunningTenancy, nats_url: str
) -> None:
    """rollout.install_declined from rollout frees the install's slot for the next install."""
    await tenancy.stub.CreateTenant(pb.CreateTenantRequest(tenant_id="acme"))
    await tenancy.stub.SetQuota(pb.SetQuotaRequest(tenant_id="acme", limits=LIMITS, max_plugins=1))
    quotas = qpb_grpc.QuotaReservationServiceStub(tenancy.channel)

    def install(rid: str) -> qpb.ReserveRequest:
        return qpb.ReserveRequest(
            tenant_id="acme",
            reservation_id=rid,
            kind=qpb.RESERVATION_KIND_INSTALL,
            plugin="left-pad",
            version="1.0.0",
            amounts=qpb.ReservedAmounts(plugins=1),
        )

    await quotas.Reserve(install("req-1"))
    with pytest.raises(grpc.aio.AioRpcError) as full:
        await quotas.Reserve(install("req-2"))
    assert full.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED

    nc = await connect(nats_url, "rollout-as-owner")
    try:
        declined = events_pb2.RolloutInstallDeclined(
            tenant_id="acme", request_id="req-1", plugin="left-pad", version="1.0.0", reason="x"
        )
        await publish(
            nc.jetstream(),
            Envelope.of(declined, source=owner_source(type_of(declined)), tenant_id="acme"),
        )
    finally:
        await nc.close()
    for _ in range(300):
        held = await tenancy.stub.GetQuota(pb.GetQuotaRequest(tenant_id="acme"))
        if held.reserved.plugins == 0:
            break
        await asyncio.sleep(0.05)
    granted = await quotas.Reserve(install("req-2"))
    assert granted.reservation.state == qpb.RESERVATION_STATE_HELD
    first = await quotas.Reserve(install("req-1"))
    assert first.reservation.reason == "install declined by rollout: x"
