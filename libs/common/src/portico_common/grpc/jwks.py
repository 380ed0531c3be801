"""Auth's JWK Set over gRPC: the key source of every TokenVerifier outside auth.

Kept apart from the runtime so a process that verifies tokens without a
database or NATS (the gateway) does not import them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from google.protobuf import json_format

from portico.auth.v1 import auth_pb2, auth_pb2_grpc
from portico_common.tls import GrpcClientTls, grpc_channel


def jwks_fetcher(
    target: str, tls: GrpcClientTls | None = None, *, timeout_seconds: float = 5.0
) -> Callable[[], Awaitable[dict[str, Any]]]:
    """Fetches the JWK Set from the auth service at `target` over gRPC.

    With `tls` the channel checks auth's certificate against the configured
    CA: an impostor at auth's address cannot hand us keys to sign tokens with.
    """

    async def fetch() -> dict[str, Any]:
        async with grpc_channel(target, tls) as channel:
            response = await auth_pb2_grpc.AuthServiceStub(channel).GetJwks(
                auth_pb2.GetJwksRequest(), timeout=timeout_seconds
            )
        return json_format.MessageToDict(response, preserving_proto_field_name=True)

    return fetch
