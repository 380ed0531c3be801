"""Tenants' data keys from tenancy (GetDataKeys), as this service's own identity.

The adapter a service's field cipher reads keys through: one call per
tenant per cache period (`CachedDataKeys`), with the service's token on
every call. A tenancy that cannot answer is UNAVAILABLE naming tenancy, and
the caller's write or read fails rather than falling back to plaintext.
"""

from __future__ import annotations

from collections.abc import Callable

import grpc

from portico.tenancy.v1 import keys_pb2, keys_pb2_grpc
from portico_common.crypto.envelope import DataKey
from portico_common.crypto.keyring import CachedDataKeys, TenantKeys
from portico_common.errors import UnavailableError
from portico_common.grpc.service_tokens import ServiceTokens, service_channel
from portico_common.tls import GrpcClientTls, grpc_channel


class TenancyDataKeys:
    """GetDataKeys over a channel to tenancy."""

    def __init__(self, channel: grpc.aio.Channel, *, timeout_seconds: float = 5.0) -> None:
        self._stub = keys_pb2_grpc.TenantKeysServiceStub(channel)
        self._timeout = timeout_seconds

    async def keys_for(self, tenant_id: str) -> TenantKeys:
        try:
            reply = await self._stub.GetDataKeys(
                keys_pb2.GetDataKeysRequest(tenant_id=tenant_id), timeout=self._timeout
            )
        except grpc.aio.AioRpcError as exc:
            raise UnavailableError(
                f"tenancy could not hand out the data keys of tenant {tenant_id}:"
                f" {exc.code().name}: {exc.details()}"
            ) from None
        if reply.shredded:
            return TenantKeys.destroyed(tenant_id)
        keys = {k.version: DataKey(k.version, k.material) for k in reply.keys}
        return TenantKeys(tenant_id, reply.primary_version, keys)


def tenancy_data_keys(
    target: str,
    tokens: ServiceTokens | None,
    *,
    cache_seconds: float,
    tls: GrpcClientTls | None = None,
) -> CachedDataKeys:
    """Cached keys from tenancy at `target` (over TLS with the runtime's `grpc_tls`).

    Without tokens only in the unsafe no-auth mode. With TLS the keys are
    taken only from a server whose certificate checks out.
    """
    channel = (
        service_channel(target, tokens, tls) if tokens is not None else grpc_channel(target, tls)
    )
    return CachedDataKeys(TenancyDataKeys(channel), ttl_seconds=cache_seconds)


class _TenancyFoundLater:
    """GetDataKeys at an address resolved at the first call, not at start-up.

    For a service that starts before tenancy and learns its port later (auth
    under `portico up` reads tenancy's ready file): until the address is known
    every call is UNAVAILABLE naming tenancy, like an unreachable tenancy.
    """

    def __init__(
        self, address: Callable[[], str], tokens: ServiceTokens | None, tls: GrpcClientTls | None
    ) -> None:
        self._address = address
        self._tokens = tokens
        self._tls = tls
        self._keys: TenancyDataKeys | None = None

    async def keys_for(self, tenant_id: str) -> TenantKeys:
        if self._keys is None:
            target = self._address()
            channel = (
                service_channel(target, self._tokens, self._tls)
                if self._tokens is not None
                else grpc_channel(target, self._tls)
            )
            self._keys = TenancyDataKeys(channel)
        return await self._keys.keys_for(tenant_id)


def tenancy_data_keys_found_later(
    address: Callable[[], str],
    tokens: ServiceTokens | None,
    *,
    cache_seconds: float,
    tls: GrpcClientTls | None = None,
) -> CachedDataKeys:
    """As `tenancy_data_keys`, with tenancy's address asked for at the first key needed."""
    return CachedDataKeys(_TenancyFoundLater(address, tokens, tls), ttl_seconds=cache_seconds)
