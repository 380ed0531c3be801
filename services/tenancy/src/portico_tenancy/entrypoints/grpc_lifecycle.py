"""gRPC entrypoint of the tenant lifecycle: map the request, call the use case, map back."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from portico.tenancy.v1 import lifecycle_pb2 as pb
from portico.tenancy.v1 import lifecycle_pb2_grpc as pb_grpc
from portico.tenancy.v1 import tenancy_pb2
from portico_common.grpc.interceptor import Context
from portico_common.grpc.tokens import current_claims
from portico_tenancy.app import lifecycle
from portico_tenancy.app.lifecycle import MetadataChange
from portico_tenancy.app.ports import UnitOfWorkFactory
from portico_tenancy.domain.tenant import Tenant, TenantQuery
from portico_tenancy.entrypoints.grpc_api import STATE_TO_PROTO, to_proto
from portico_tenancy.errors import InvalidReportError, InvalidTenantError

_MASKABLE = frozenset({"display_name", "plan", "owner_contacts", "labels"})
_STATE_FROM_PROTO = {v: k for k, v in STATE_TO_PROTO.items()}


class LifecycleServicer(pb_grpc.TenantLifecycleServiceServicer):
    def __init__(self, uow: UnitOfWorkFactory, grace: timedelta, services: Sequence[str]) -> None:
        self._uow = uow
        self._grace = grace
        # The services the deletion saga waits for (the topology's).
        self._services = tuple(services)

    async def ListTenants(
        self, request: pb.ListTenantsRequest, context: Context
    ) -> pb.ListTenantsResponse:
        state = None
        if request.state != tenancy_pb2.TENANT_STATE_UNSPECIFIED:
            state = _STATE_FROM_PROTO.get(request.state)
            if state is None:
                raise InvalidTenantError(f"unknown state {request.state}")
        labels = dict(request.labels) | _selector(request.label_selector)
        query = TenantQuery(state=state, plan=request.plan or None, labels=labels)
        tenants, token = await lifecycle.list_tenants(
            self._uow, query, request.page_token, request.page_size
        )
        return pb.ListTenantsResponse(
            tenants=[await self._proto(t) for t in tenants], next_page_token=token
        )

    async def UpdateTenant(
        self, request: pb.UpdateTenantRequest, context: Context
    ) -> pb.UpdateTenantResponse:
        paths = set(request.update_mask.paths)
        unknown = paths - _MASKABLE
        if not paths or unknown:
            raise InvalidTenantError(
                f"update_mask must name some of {sorted(_MASKABLE)}"
                + (f"; unknown: {sorted(unknown)}" if unknown else "")
            )
        change = MetadataChange(
            display_name=request.display_name if "display_name" in paths else None,
            plan=request.plan if "plan" in paths else None,
            owner_contacts=list(request.owner_contacts) if "owner_contacts" in paths else None,
            labels=dict(request.labels) if "labels" in paths else None,
        )
        tenant = await lifecycle.update_tenant(self._uow, request.tenant_id, change)
        return pb.UpdateTenantResponse(tenant=await self._proto(tenant))

    async def SuspendTenant(
        self, request: pb.SuspendTenantRequest, context: Context
    ) -> pb.SuspendTenantResponse:
        tenant = await lifecycle.suspend_tenant(self._uow, request.tenant_id, request.reason)
        return pb.SuspendTenantResponse(tenant=await self._proto(tenant))

    async def ResumeTenant(
        self, request: pb.ResumeTenantRequest, context: Context
    ) -> pb.ResumeTenantResponse:
        tenant = await lifecycle.resume_tenant(self._uow, request.tenant_id)
        return pb.ResumeTenantResponse(tenant=await self._proto(tenant))

    async def DeleteTenant(
        self, request: pb.DeleteTenantRequest, context: Context
    ) -> pb.DeleteTenantResponse:
        tenant = await lifecycle.delete_tenant(self._uow, request.tenant_id, self._grace)
        return pb.DeleteTenantResponse(tenant=await self._proto(tenant))

    async def RestoreTenant(
        self, request: pb.RestoreTenantRequest, context: Context
    ) -> pb.RestoreTenantResponse:
        tenant = await lifecycle.restore_tenant(self._uow, request.tenant_id)
        return pb.RestoreTenantResponse(tenant=await self._proto(tenant))

    async def ListRefusedTenants(
        self, request: pb.ListRefusedTenantsRequest, context: Context
    ) -> pb.ListRefusedTenantsResponse:
        tenants = await lifecycle.refused_tenants(self._uow)
        return pb.ListRefusedTenantsResponse(
            tenants=[
                pb.RefusedTenant(tenant_id=t.tenant_id, state=STATE_TO_PROTO[t.state])
                for t in tenants
            ]
        )

    async def ReportTenantDataDeleted(
        self, request: pb.ReportTenantDataDeletedRequest, context: Context
    ) -> pb.ReportTenantDataDeletedResponse:
        _require_own_service(request.service)
        tenant = await lifecycle.report_data_deleted(
            self._uow, request.tenant_id, request.service, request.rows_deleted, self._services
        )
        return pb.ReportTenantDataDeletedResponse(tenant=await self._proto(tenant))

    async def _proto(self, tenant: Tenant) -> tenancy_pb2.Tenant:
        message = to_proto(tenant)
        message.pending_services.extend(
            await lifecycle.pending_services(self._uow, tenant, self._services)
        )
        return message


def _selector(selector: str) -> dict[str, str]:
    """The selector "k=v,k2=v2" as a dict; InvalidTenantError names a malformed term."""
    labels: dict[str, str] = {}
    for term in filter(None, (t.strip() for t in selector.split(","))):
        key, sep, value = term.partition("=")
        if not sep or not key.strip():
            raise InvalidTenantError(f"label_selector term {term!r} is not key=value")
        labels[key.strip()] = value.strip()
    return labels


def _require_own_service(service: str) -> None:
    """A service token (subject svc-<service>) reports for its own service only."""
    claims = current_claims.get()
    if claims is None or "platform-admin" in claims.roles:
        return
    if claims.subject not in (service, f"svc-{service}"):
        raise InvalidReportError(
            f"a token of {claims.subject!r} cannot report for service {service!r}"
        )
