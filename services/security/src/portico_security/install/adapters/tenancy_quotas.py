"""The quota gate over tenancy's QuotaReservationService, as security's own identity."""

from __future__ import annotations

import grpc

from portico.tenancy.v1 import quotas_pb2, quotas_pb2_grpc
from portico_common.grpc.service_tokens import ServiceTokens, service_channel
from portico_common.tls import GrpcClientTls, grpc_channel
from portico_security.install.domain.resources import DeclaredResources
from portico_security.install.errors import InstallQuotaExceededError, QuotaUnavailableError


class TenancyQuotaGate:
    """Reserve and Release at tenancy; a full quota is RESOURCE_EXHAUSTED with tenancy's reason."""

    def __init__(self, channel: grpc.aio.Channel, *, timeout_seconds: float = 5.0) -> None:
        self._stub = quotas_pb2_grpc.QuotaReservationServiceStub(channel)
        self._timeout = timeout_seconds

    async def reserve_install(
        self,
        tenant_id: str,
        request_id: str,
        plugin: str,
        version: str,
        resources: DeclaredResources | None = None,
    ) -> None:
        amounts = quotas_pb2.ReservedAmounts(plugins=1)
        if resources is not None:
            amounts.cpu_millicores = resources.cpu_millicores
            amounts.memory_mib = resources.memory_mib
        request = quotas_pb2.ReserveRequest(
            tenant_id=tenant_id,
            reservation_id=request_id,
            kind=quotas_pb2.RESERVATION_KIND_INSTALL,
            plugin=plugin,
            version=version,
            amounts=amounts,
        )
        try:
            reply = await self._stub.Reserve(request, timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            if exc.code() is grpc.StatusCode.RESOURCE_EXHAUSTED:
                raise InstallQuotaExceededError(exc.details() or "the quota is full") from None
            raise QuotaUnavailableError(
                f"tenancy could not reserve quota for install {request_id}:"
                f" {exc.code().name}: {exc.details()}"
            ) from None
        if reply.reservation.state == quotas_pb2.RESERVATION_STATE_RELEASED:
            raise InstallQuotaExceededError(
                f"the reservation of install {request_id} was released: {reply.reservation.reason}"
            )

    async def release(self, tenant_id: str, request_id: str, reason: str) -> None:
        try:
            await self._stub.Release(
                quotas_pb2.ReleaseRequest(
                    tenant_id=tenant_id, reservation_id=request_id, reason=reason
                ),
                timeout=self._timeout,
            )
        except grpc.aio.AioRpcError as exc:
            raise QuotaUnavailableError(
                f"tenancy could not release the quota of install {request_id}:"
                f" {exc.code().name}: {exc.details()}"
            ) from None


def tenancy_quota_gate(
    target: str, tokens: ServiceTokens | None, tls: GrpcClientTls | None = None
) -> TenancyQuotaGate:
    """The gate on tenancy at `target` (without tokens only in the unsafe no-auth mode)."""
    channel = (
        service_channel(target, tokens, tls) if tokens is not None else grpc_channel(target, tls)
    )
    return TenancyQuotaGate(channel)
