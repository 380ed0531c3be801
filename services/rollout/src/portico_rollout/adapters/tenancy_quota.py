"""The rollout quota over tenancy's QuotaReservationService, as rollout's own identity."""

from __future__ import annotations

import grpc

from portico.tenancy.v1 import quotas_pb2, quotas_pb2_grpc
from portico_rollout.errors import QuotaUnavailableError, RolloutQuotaExceededError


class TenancyRolloutQuota:
    """Reserve and Release at tenancy; no room left is RESOURCE_EXHAUSTED with tenancy's reason."""

    def __init__(self, channel: grpc.aio.Channel, *, timeout_seconds: float = 5.0) -> None:
        self._stub = quotas_pb2_grpc.QuotaReservationServiceStub(channel)
        self._timeout = timeout_seconds

    async def reserve_rollout(
        self, tenant_id: str, rollout_id: str, plugin: str, version: str
    ) -> None:
        request = quotas_pb2.ReserveRequest(
            tenant_id=tenant_id,
            reservation_id=rollout_id,
            kind=quotas_pb2.RESERVATION_KIND_ROLLOUT,
            plugin=plugin,
            version=version,
            amounts=quotas_pb2.ReservedAmounts(rollouts=1),
        )
        try:
            await self._stub.Reserve(request, timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            if exc.code() is grpc.StatusCode.RESOURCE_EXHAUSTED:
                raise RolloutQuotaExceededError(exc.details() or "no rollout left") from None
            raise QuotaUnavailableError(
                f"tenancy could not reserve quota for rollout {rollout_id}:"
                f" {exc.code().name}: {exc.details()}"
            ) from None

    async def release(self, tenant_id: str, rollout_id: str, reason: str) -> None:
        try:
            await self._stub.Release(
                quotas_pb2.ReleaseRequest(
                    tenant_id=tenant_id, reservation_id=rollout_id, reason=reason
                ),
                timeout=self._timeout,
            )
        except grpc.aio.AioRpcError as exc:
            raise QuotaUnavailableError(
                f"tenancy could not release the quota of rollout {rollout_id}:"
                f" {exc.code().name}: {exc.details()}"
            ) from None
