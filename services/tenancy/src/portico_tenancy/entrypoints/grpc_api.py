"""gRPC entrypoint of tenancy: map the request, call the use case, map back."""

from __future__ import annotations

from collections.abc import Callable

from portico.tenancy.v1 import tenancy_pb2 as pb
from portico.tenancy.v1 import tenancy_pb2_grpc as pb_grpc
from portico_common.grpc.interceptor import Context
from portico_common.timestamps import to_timestamp
from portico_tenancy.app import handlers, quotas
from portico_tenancy.app.ports import UnitOfWorkFactory
from portico_tenancy.domain.jobs import JobSpec
from portico_tenancy.domain.quota import Quota, Resources, Usage
from portico_tenancy.domain.tenant import Tenant
from portico_tenancy.errors import InvalidQuotaError


def to_proto(tenant: Tenant) -> pb.Tenant:
    return pb.Tenant(
        tenant_id=tenant.tenant_id,
        display_name=tenant.display_name,
        created_at=to_timestamp(tenant.created_at),
    )


def resources_to_proto(r: Resources) -> pb.Resources:
    return pb.Resources(
        cpu_millicores=r.cpu_millicores, memory_mib=r.memory_mib, storage_mib=r.storage_mib
    )


def resources_from_proto(r: pb.Resources) -> Resources:
    return Resources(r.cpu_millicores, r.memory_mib, r.storage_mib)


def quota_to_proto(quota: Quota) -> pb.Quota:
    return pb.Quota(
        tenant_id=quota.tenant_id,
        limits=resources_to_proto(quota.limits),
        max_plugins=quota.max_plugins,
        revision=quota.revision,
        updated_at=to_timestamp(quota.updated_at),
    )


def usage_to_proto(usage: Usage) -> pb.Usage:
    return pb.Usage(
        tenant_id=usage.tenant_id,
        used=resources_to_proto(usage.used),
        plugins=usage.plugins,
        revision=usage.revision,
        updated_at=to_timestamp(usage.updated_at),
    )


class TenancyServicer(pb_grpc.TenancyServiceServicer):
    def __init__(
        self, uow: UnitOfWorkFactory, provision: Callable[[str], JobSpec] | None = None
    ) -> None:
        self._uow = uow
        # The provisioning job a new tenant or a new quota enqueues; None: nothing to provision.
        self._provision = provision

    async def CreateTenant(
        self, request: pb.CreateTenantRequest, context: Context
    ) -> pb.CreateTenantResponse:
        tenant = await handlers.create_tenant(
            self._uow, request.tenant_id, request.display_name, then=self._provision
        )
        return pb.CreateTenantResponse(tenant=to_proto(tenant))

    async def GetTenant(
        self, request: pb.GetTenantRequest, context: Context
    ) -> pb.GetTenantResponse:
        tenant = await handlers.get_tenant(self._uow, request.tenant_id)
        return pb.GetTenantResponse(tenant=to_proto(tenant))

    async def SetQuota(self, request: pb.SetQuotaRequest, context: Context) -> pb.SetQuotaResponse:
        # An absent `limits` would read as all zeros: a quota nobody meant to set.
        if not request.HasField("limits"):
            raise InvalidQuotaError("limits is required (cpu_millicores, memory_mib, storage_mib)")
        quota = await quotas.set_quota(
            self._uow,
            request.tenant_id,
            resources_from_proto(request.limits),
            request.max_plugins,
            then=self._provision,
        )
        return pb.SetQuotaResponse(quota=quota_to_proto(quota))

    async def GetQuota(self, request: pb.GetQuotaRequest, context: Context) -> pb.GetQuotaResponse:
        quota, usage = await quotas.get_quota(self._uow, request.tenant_id)
        response = pb.GetQuotaResponse(quota=quota_to_proto(quota))
        if usage is not None:
            response.usage.CopyFrom(usage_to_proto(usage))
        return response

    async def RecordUsage(
        self, request: pb.RecordUsageRequest, context: Context
    ) -> pb.RecordUsageResponse:
        usage = await quotas.record_usage(
            self._uow, request.tenant_id, resources_from_proto(request.used), request.plugins
        )
        return pb.RecordUsageResponse(usage=usage_to_proto(usage))
