"""What a plugin version declared it needs, asked of compat as security's own identity."""

from __future__ import annotations

import grpc

from portico.compat.v1 import compat_pb2, compat_pb2_grpc
from portico_common.grpc.service_tokens import ServiceTokens, service_channel
from portico_common.tls import GrpcClientTls, grpc_channel
from portico_security.install.domain.resources import DeclaredResources
from portico_security.install.errors import DeclaredResourcesUnavailableError


class CompatDeclaredResources:
    """compat's GetDeclaredResources: the latest recorded check's declaration, or none."""

    def __init__(self, channel: grpc.aio.Channel, *, timeout_seconds: float = 5.0) -> None:
        self._stub = compat_pb2_grpc.CompatServiceStub(channel)
        self._timeout = timeout_seconds

    async def declared(self, tenant_id: str, plugin: str, version: str) -> DeclaredResources | None:
        try:
            reply = await self._stub.GetDeclaredResources(
                compat_pb2.GetDeclaredResourcesRequest(
                    tenant_id=tenant_id, plugin=plugin, version=version
                ),
                timeout=self._timeout,
            )
        except grpc.aio.AioRpcError as exc:
            # Without the declaration the hold cannot be sized: the install is refused
            # rather than let through holding less than the version needs.
            raise DeclaredResourcesUnavailableError(
                f"compat could not say what {plugin}@{version} declared it needs:"
                f" {exc.code().name}: {exc.details()}"
            ) from None
        if not reply.declared:
            return None
        return DeclaredResources(
            cpu_millicores=reply.resources.cpu_millicores,
            memory_mib=reply.resources.memory_mib,
        )


def compat_declared_resources(
    target: str,
    tokens: ServiceTokens | None,
    tls: GrpcClientTls | None = None,
    *,
    timeout_seconds: float = 5.0,
) -> CompatDeclaredResources:
    """The source on compat at `target` (without tokens only in the unsafe no-auth mode)."""
    channel = (
        service_channel(target, tokens, tls) if tokens is not None else grpc_channel(target, tls)
    )
    return CompatDeclaredResources(channel, timeout_seconds=timeout_seconds)
