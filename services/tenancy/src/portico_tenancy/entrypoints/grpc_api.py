"""gRPC entrypoint of tenancy: map the request, call the use case, map back."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from portico.tenancy.v1 import tenancy_pb2 as pb
from portico.tenancy.v1 import tenancy_pb2_grpc as pb_grpc
from portico_common.grpc.interceptor import Context
from portico_common.timestamps import to_timestamp
from portico_tenancy.app import handlers, lifecycle, quotas
from portico_tenancy.app.ports import UnitOfWorkFactory
from portico_tenancy.domain.jobs import JobSpec
from portico_tenancy.domain.quota import Quota, Resources, Usage
from portico_tenancy.domain.tenant import Isolation, Tenant, TenantState
from portico_tenancy.errors import InvalidQuotaError, InvalidTenantError, UsageIsDerivedError

STATE_TO_PROTO: dict[TenantState, pb.TenantState.ValueType] = {
    TenantState.PROVISIONING: pb.TENANT_STATE_PROVISIONING,
    TenantState.ACTIVE: pb.TENANT_STATE_ACTIVE,
    TenantState.SUSPENDED: pb.TENANT_STATE_SUSPENDED,
    TenantState.DELETING: pb.TENANT_STATE_DELETING,
    TenantState.DELETED: pb.TENANT_STATE_DELETED,
}

ISOLATION_TO_PROTO: dict[Isolation, pb.TenantIsolation.ValueType] = {
    Isolation.POOL: pb.TENANT_ISOLATION_POOL,
    Isolation.BRIDGE: pb.TENANT_ISOLATION_BRIDGE,
    Isolation.SILO: pb.TENANT_ISOLATION_SILO,
}
ISOLATION_FROM_PROTO: dict[int, Isolation] = {
    pb.TENANT_ISOLATION_UNSPECIFIED: Isolation.POOL,
    **{value: isolation for isolation, value in ISOLATION_TO_PROTO.items()},
}
PLACEMENT_TO_PROTO: dict[str, pb.PlacementStatus.ValueType] = {
    "pending": pb.PLACEMENT_STATUS_PENDING,
    "placed": pb.PLACEMENT_STATUS_PLACED,
    "failed": pb.PLACEMENT_STATUS_FAILED,
}


def isolation_from_proto(value: int) -> Isolation:
    found = ISOLATION_FROM_PROTO.get(value)
    if found is None:
        raise InvalidTenantError(
            f"isolation must be TENANT_ISOLATION_POOL, _BRIDGE or _SILO; not {value}"
        )
    return found


def placement_to_proto(tenant: Tenant) -> pb.GetPlacementResponse:
    message = pb.GetPlacementResponse(
        tenant_id=tenant.tenant_id,
        isolation=ISOLATION_TO_PROTO[tenant.isolation],
        status=PLACEMENT_TO_PROTO[tenant.placement_status],
        location=tenant.placement_location,
        error=tenant.placement_error,
        attempts=tenant.placement_attempts,
    )
    if tenant.placed_at is not None:
        message.placed_at.CopyFrom(to_timestamp(tenant.placed_at))
    if tenant.placement_status == "failed" and tenant.placement_retry_at is not None:
        message.next_attempt_at.CopyFrom(to_timestamp(tenant.placement_retry_at))
    return message


def to_proto(tenant: Tenant) -> pb.Tenant:
    message = pb.Tenant(
        tenant_id=tenant.tenant_id,
        display_name=tenant.display_name,
        created_at=to_timestamp(tenant.created_at),
        state=STATE_TO_PROTO[tenant.state],
        plan=tenant.plan,
        owner_contacts=list(tenant.owner_contacts),
        labels=dict(tenant.labels),
        suspension_reason=tenant.suspension_reason,
        isolation=ISOLATION_TO_PROTO[tenant.isolation],
    )
    for name in ("state_changed_at", "delete_after", "updated_at"):
        at = getattr(tenant, name)
        if at is not None:
            getattr(message, name).CopyFrom(to_timestamp(at))
    return message


def resources_to_proto(r: Resources) -> pb.Resources:
    return pb.Resources(
        cpu_millicores=r.cpu_millicores, memory_mib=r.memory_mib, storage_mib=r.storage_mib
    )


def resources_from_proto(r: pb.Resources) -> Resources:
    return Resources(r.cpu_millicores, r.memory_mib, r.storage_mib)


def quota_to_proto(quota: Quota) -> pb.Quota:
    message = pb.Quota(
        tenant_id=quota.tenant_id,
        limits=resources_to_proto(quota.limits),
        max_plugins=quota.max_plugins,
        revision=quota.revision,
        updated_at=to_timestamp(quota.updated_at),
    )
    if quota.max_rollouts is not None:
        message.max_concurrent_rollouts = quota.max_rollouts
    return message


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
        self,
        uow: UnitOfWorkFactory,
        provision: Callable[[str], JobSpec] | None = None,
        data_services: Sequence[str] = (),
    ) -> None:
        self._uow = uow
        # The services a deletion waits for: GetTenant names those yet to report.
        self._data_services = tuple(data_services)
        # The provisioning job a new tenant or a new quota enqueues; None: nothing to provision.
        self._provision = provision

    async def CreateTenant(
        self, request: pb.CreateTenantRequest, context: Context
    ) -> pb.CreateTenantResponse:
        tenant = await handlers.create_tenant(
            self._uow,
            request.tenant_id,
            request.display_name,
            then=self._provision,
            isolation=isolation_from_proto(request.isolation),
        )
        return pb.CreateTenantResponse(tenant=to_proto(tenant))

    async def GetTenant(
        self, request: pb.GetTenantRequest, context: Context
    ) -> pb.GetTenantResponse:
        tenant = await handlers.get_tenant(self._uow, request.tenant_id)
        message = to_proto(tenant)
        message.pending_services.extend(
            await lifecycle.pending_services(self._uow, tenant, self._data_services)
        )
        return pb.GetTenantResponse(tenant=message)

    async def GetPlacement(
        self, request: pb.GetPlacementRequest, context: Context
    ) -> pb.GetPlacementResponse:
        return placement_to_proto(await handlers.get_tenant(self._uow, request.tenant_id))

    async def SetQuota(self, request: pb.SetQuotaRequest, context: Context) -> pb.SetQuotaResponse:
        # An absent `limits` would read as all zeros: a quota nobody meant to set.
        if not request.HasField("limits"):
            raise InvalidQuotaError("limits is required (cpu_millicores, memory_mib, storage_mib)")
        quota = await quotas.set_quota(
            self._uow,
            request.tenant_id,
            resources_from_proto(request.limits),
            request.max_plugins,
            max_rollouts=(
                request.max_concurrent_rollouts
                if request.HasField("max_concurrent_rollouts")
                else None
            ),
            then=self._provision,
        )
        return pb.SetQuotaResponse(quota=quota_to_proto(quota))

    async def GetQuota(self, request: pb.GetQuotaRequest, context: Context) -> pb.GetQuotaResponse:
        quota, usage, reserved = await quotas.get_quota(self._uow, request.tenant_id)
        response = pb.GetQuotaResponse(quota=quota_to_proto(quota))
        if usage is not None:
            response.usage.CopyFrom(usage_to_proto(usage))
        response.reserved.CopyFrom(
            pb.Usage(
                tenant_id=quota.tenant_id,
                used=pb.Resources(
                    cpu_millicores=reserved.cpu_millicores, memory_mib=reserved.memory_mib
                ),
                plugins=reserved.plugins,
            )
        )
        return response

    async def RecordUsage(
        self, request: pb.RecordUsageRequest, context: Context
    ) -> pb.RecordUsageResponse:
        raise UsageIsDerivedError(
            "usage is derived from install and rollout events (tenant.usage.updated);"
            " it cannot be reported"
        )
