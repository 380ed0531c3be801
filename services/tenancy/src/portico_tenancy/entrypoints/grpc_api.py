"""gRPC entrypoint of tenancy: map the request, call the use case, map back."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp

from portico.tenancy.v1 import tenancy_pb2 as pb
from portico.tenancy.v1 import tenancy_pb2_grpc as pb_grpc
from portico_common.grpc.interceptor import Context
from portico_tenancy.app import handlers
from portico_tenancy.app.ports import UnitOfWorkFactory
from portico_tenancy.domain.tenant import Tenant


def to_proto(tenant: Tenant) -> pb.Tenant:
    created = Timestamp()
    created.FromDatetime(tenant.created_at)
    return pb.Tenant(
        tenant_id=tenant.tenant_id, display_name=tenant.display_name, created_at=created
    )


class TenancyServicer(pb_grpc.TenancyServiceServicer):
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def CreateTenant(
        self, request: pb.CreateTenantRequest, context: Context
    ) -> pb.CreateTenantResponse:
        tenant = await handlers.create_tenant(self._uow, request.tenant_id, request.display_name)
        return pb.CreateTenantResponse(tenant=to_proto(tenant))

    async def GetTenant(
        self, request: pb.GetTenantRequest, context: Context
    ) -> pb.GetTenantResponse:
        tenant = await handlers.get_tenant(self._uow, request.tenant_id)
        return pb.GetTenantResponse(tenant=to_proto(tenant))
