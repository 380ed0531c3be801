"""security's advisories over gRPC, as rollout's AdvisorySource: ListAdvisoryMatches.

Calls carry rollout's own token when the channel is a service channel. A
critical advisory is one security labels CRITICAL (CVSS 9.0 or more).
Failures become AdvisoriesUnavailableError: the scheduler defers the rollout
and asks again, rather than guess that the stable version is safe.
"""

from __future__ import annotations

import grpc

from portico.security.v1 import trust_pb2 as pb
from portico.security.v1 import trust_pb2_grpc as pb_grpc
from portico_rollout.errors import AdvisoriesUnavailableError

CRITICAL = "CRITICAL"


class GrpcAdvisorySource:
    """AdvisorySource over a channel to security; `timeout_seconds` bounds each call."""

    def __init__(self, channel: grpc.aio.Channel, *, timeout_seconds: float = 5.0) -> None:
        self._stub = pb_grpc.AdvisoryServiceStub(channel)
        self._timeout = timeout_seconds

    async def critical(self, tenant_id: str, plugin: str, version: str) -> tuple[str, ...]:
        try:
            reply = await self._stub.ListAdvisoryMatches(
                pb.ListAdvisoryMatchesRequest(tenant_id=tenant_id, plugin=plugin, version=version),
                timeout=self._timeout,
            )
        except grpc.aio.AioRpcError as exc:
            raise AdvisoriesUnavailableError(
                f"{plugin}@{version}", f"{exc.code().name}: {exc.details()}"
            ) from None
        return tuple(sorted({m.advisory_id for m in reply.matches if m.severity.label == CRITICAL}))
