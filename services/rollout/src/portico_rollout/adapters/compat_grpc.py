"""compat's dependency graph over gRPC, as rollout's DependencyGraph: ListDependents.

Calls carry rollout's own token when the channel is a service channel
(`portico_common.grpc.service_tokens.service_channel`). Transport failures
become DependencyGraphUnavailableError, a refusal DependencyGraphRefusedError;
either way the saga step stays pending and is tried again.
"""

from __future__ import annotations

from collections.abc import Sequence

import grpc

from portico.compat.v1 import dependencies_pb2 as pb
from portico.compat.v1 import dependencies_pb2_grpc as pb_grpc
from portico_rollout.adapters.slo_grpc import TRANSIENT
from portico_rollout.app.ports import FoundDependents, InstalledPlugin
from portico_rollout.domain.saga import DependentPlugin
from portico_rollout.errors import DependencyGraphRefusedError, DependencyGraphUnavailableError


class GrpcDependencyGraph:
    """DependencyGraph over a channel to compat; `timeout_seconds` bounds each call."""

    def __init__(self, channel: grpc.aio.Channel, *, timeout_seconds: float = 5.0) -> None:
        self._stub = pb_grpc.DependencyServiceStub(channel)
        self._timeout = timeout_seconds

    async def dependents(
        self, tenant_id: str, going: InstalledPlugin, installed: Sequence[InstalledPlugin]
    ) -> FoundDependents:
        what = f"list the plugins that need {going.plugin}@{going.version}"
        try:
            reply = await self._stub.ListDependents(
                pb.ListDependentsRequest(
                    tenant_id=tenant_id,
                    plugin=going.plugin,
                    version=going.version,
                    previous_version=going.previous_version,
                    installed=[
                        pb.InstalledPackage(
                            name=p.plugin, version=p.version, previous_version=p.previous_version
                        )
                        for p in installed
                    ],
                ),
                timeout=self._timeout,
            )
        except grpc.aio.AioRpcError as exc:
            problem = f"{exc.code().name}: {exc.details()}"
            if exc.code() in TRANSIENT:
                raise DependencyGraphUnavailableError(what, problem) from None
            raise DependencyGraphRefusedError(what, problem) from None
        return FoundDependents(
            dependents=tuple(
                DependentPlugin(plugin=d.name, version=d.version, needs=d.needs, depth=d.depth)
                for d in reply.dependents
            ),
            unknown=tuple(reply.unknown),
        )
