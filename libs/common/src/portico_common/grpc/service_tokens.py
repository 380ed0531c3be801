"""A service's own identity on calls to other services: a short-lived token from auth.

`ServiceTokens` exchanges the service's client credentials for a token
(`IssueServiceToken`), keeps it until shortly before it expires, and fetches
the next one once however many calls ask at the same moment. `service_channel`
is a gRPC channel that puts the current token on every call, so a use case
calling another service never handles credentials itself.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import grpc
from pydantic import SecretStr

from portico.auth.v1 import auth_pb2, auth_pb2_grpc
from portico_common.errors import UnauthenticatedError, UnavailableError
from portico_common.tenants import ALL_TENANTS
from portico_common.tls import GrpcClientTls, grpc_channel

# Asks auth for a token: (client id, secret) -> (token, seconds until it expires).
TokenIssuer = Callable[[str, str], Awaitable[tuple[str, float]]]


@dataclass(frozen=True)
class ServiceIdentity:
    """Who this service is to auth: its client id and secret."""

    client_id: str
    client_secret: SecretStr


def grpc_token_issuer(
    auth_target: str, timeout_seconds: float = 5.0, *, tls: GrpcClientTls | None = None
) -> TokenIssuer:
    """Issues tokens by calling auth's IssueServiceToken at `auth_target`.

    With `tls` the secret goes only to a server whose certificate the
    configured CA signed for that address.
    """

    async def issue(client_id: str, client_secret: str) -> tuple[str, float]:
        async with grpc_channel(auth_target, tls) as channel:
            try:
                reply = await auth_pb2_grpc.AuthServiceStub(channel).IssueServiceToken(
                    auth_pb2.IssueServiceTokenRequest(
                        client_id=client_id, client_secret=client_secret, tenant_id=ALL_TENANTS
                    ),
                    timeout=timeout_seconds,
                )
            except grpc.aio.AioRpcError as exc:
                if exc.code() in (
                    grpc.StatusCode.UNAUTHENTICATED,
                    grpc.StatusCode.PERMISSION_DENIED,
                ):
                    raise UnauthenticatedError(
                        f"auth refused this service's credentials: {exc.details()}"
                    ) from None
                raise UnavailableError(f"auth could not issue a token: {exc.details()}") from None
        return reply.access_token, float(reply.expires_in)

    return issue


class ServiceTokens:
    """The service's current token, renewed when a fifth of its life is left."""

    def __init__(
        self,
        identity: ServiceIdentity,
        issue: TokenIssuer,
        *,
        renew_at_fraction: float = 0.2,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._identity = identity
        self._issue = issue
        self._renew_at = renew_at_fraction
        self._now = monotonic
        self._token = ""
        self._renew_after = 0.0
        self._pending: asyncio.Task[str] | None = None

    async def token(self) -> str:
        """A token valid for a while yet; one request to auth however many callers wait."""
        if self._token and self._now() < self._renew_after:
            return self._token
        if self._pending is None or self._pending.done():
            self._pending = asyncio.create_task(self._renew())
        return await asyncio.shield(self._pending)

    async def _renew(self) -> str:
        token, lifetime = await self._issue(
            self._identity.client_id, self._identity.client_secret.get_secret_value()
        )
        self._token = token
        self._renew_after = self._now() + lifetime * (1.0 - self._renew_at)
        return token


if TYPE_CHECKING:
    # The stubs make these generic; at run time they are plain classes.
    _UnaryUnary = grpc.aio.UnaryUnaryClientInterceptor[Any, Any]
    _UnaryStream = grpc.aio.UnaryStreamClientInterceptor[Any, Any]
else:
    _UnaryUnary = grpc.aio.UnaryUnaryClientInterceptor
    _UnaryStream = grpc.aio.UnaryStreamClientInterceptor


class _BearerInterceptor(_UnaryUnary, _UnaryStream):
    """Adds `authorization: Bearer <the service's token>` to every call."""

    def __init__(self, tokens: ServiceTokens) -> None:
        self._tokens = tokens

    async def _with_token(self, details: Any) -> Any:
        metadata = [(k, v) for k, v in (details.metadata or ()) if k.lower() != "authorization"]
        metadata.append(("authorization", f"Bearer {await self._tokens.token()}"))
        return grpc.aio.ClientCallDetails(
            details.method,
            details.timeout,
            grpc.aio.Metadata(*metadata),
            details.credentials,
            details.wait_for_ready,
        )

    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(await self._with_token(details), request)

    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(await self._with_token(details), request)


def service_channel(
    target: str, tokens: ServiceTokens, tls: GrpcClientTls | None = None
) -> grpc.aio.Channel:
    """A channel to another service on which every call carries this service's token.

    Pass the runtime's `rt.grpc_tls`: with TLS on, the token is shown only to
    a server whose certificate checks out.
    """
    interceptor: Any = _BearerInterceptor(tokens)  # the stubs want a cast for client ones
    return grpc_channel(target, tls, interceptors=[interceptor])
