"""gRPC entrypoint of auth: map the request, call the use case, map back."""

from __future__ import annotations

from datetime import UTC, datetime

from portico.auth.v1 import auth_pb2 as pb
from portico.auth.v1 import auth_pb2_grpc as pb_grpc
from portico_auth.app import handlers
from portico_auth.app.handlers import Policies
from portico_auth.app.ports import UnitOfWorkFactory
from portico_common.grpc.interceptor import Context
from portico_common.timestamps import to_timestamp

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["AuthService"].full_name
# Callers of these have no token yet (or are checking one), so none is required.
# RegisterClient is public to the interceptor too (auth verifies its own tokens,
# it fetches no JWKS from itself): the servicer checks the admin's token itself.
PUBLIC_METHODS = frozenset(
    f"/{SERVICE_NAME}/{name}"
    for name in ("IssueServiceToken", "GetJwks", "VerifyToken", "RegisterClient")
)


def _bearer(context: Context) -> str:
    """The bearer token of the call's `authorization` metadata, or ""."""
    for key, value in context.invocation_metadata() or ():
        if key.lower() == "authorization":
            text = value.decode() if isinstance(value, bytes) else value
            scheme, _, token = text.partition(" ")
            return token.strip() if scheme.lower() == "bearer" else ""
    return ""


class AuthServicer(pb_grpc.AuthServiceServicer):
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        policies: Policies,
        *,
        admin_client_id: str = "portico-admin",
    ) -> None:
        self._uow = uow
        self._policies = policies
        self._admin_client_id = admin_client_id

    async def IssueServiceToken(
        self, request: pb.IssueServiceTokenRequest, context: Context
    ) -> pb.IssueServiceTokenResponse:
        issued = await handlers.issue_service_token(
            self._uow,
            self._policies,
            client_id=request.client_id,
            client_secret=request.client_secret,
            tenant_id=request.tenant_id,
            scopes=list(request.scopes),
            ttl_seconds=request.ttl_seconds,
        )
        return pb.IssueServiceTokenResponse(
            access_token=issued.token,
            token_type="Bearer",  # noqa: S106 - the RFC 6750 token type, not a secret
            expires_at=to_timestamp(issued.expires_at),
            expires_in=issued.ttl_seconds,
        )

    async def GetJwks(self, request: pb.GetJwksRequest, context: Context) -> pb.GetJwksResponse:
        keys = await handlers.get_jwks(self._uow, self._policies.keys)
        return pb.GetJwksResponse(keys=[pb.JsonWebKey(**key.public_jwk()) for key in keys])

    async def VerifyToken(
        self, request: pb.VerifyTokenRequest, context: Context
    ) -> pb.VerifyTokenResponse:
        claims = await handlers.verify_service_token(self._uow, self._policies.keys, request.token)
        return pb.VerifyTokenResponse(
            subject=claims.subject,
            tenant_id=claims.tenant_id,
            scopes=list(claims.scopes),
            expires_at=to_timestamp(datetime.fromtimestamp(claims.expires_at, UTC)),
            token_id=claims.token_id,
            roles=list(claims.roles),
        )

    async def RegisterClient(
        self, request: pb.RegisterClientRequest, context: Context
    ) -> pb.RegisterClientResponse:
        client = await handlers.register_client(
            self._uow,
            self._policies.keys,
            bearer=_bearer(context),
            admin_client_id=self._admin_client_id,
            command=handlers.RegisterClient(
                client_id=request.client_id,
                client_secret=request.client_secret,
                tenants=list(request.tenants),
                scopes=list(request.scopes),
                roles=list(request.roles),
            ),
        )
        return pb.RegisterClientResponse(
            client_id=client.client_id,
            tenants=sorted(client.tenants),
            scopes=sorted(client.scopes),
            roles=sorted(client.roles),
        )
