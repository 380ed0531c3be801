"""gRPC entrypoint of auth: map the request, call the use case, map back.

The kernel's interceptor admits every call as for any service: token
issuance and the JWKS are unauthenticated by their proto option, every other
RPC needs its permission, verified with auth's own keys. Who is calling
comes from `current_claims`, never from a token read here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from portico.auth.v1 import auth_pb2 as pb
from portico.auth.v1 import auth_pb2_grpc as pb_grpc
from portico_auth.app import clients, handlers
from portico_auth.app.clients import ClientView
from portico_auth.app.handlers import Policies, Throttling
from portico_auth.app.ports import UnitOfWorkFactory
from portico_auth.domain.administration import Caller
from portico_auth.entrypoints.sources import SourceResolver
from portico_common.errors import UnauthenticatedError
from portico_common.grpc.interceptor import Context
from portico_common.grpc.tokens import current_claims
from portico_common.timestamps import optional_timestamp, to_timestamp


@dataclass(frozen=True)
class AuthApi:
    """What the servicer needs besides the store: rules, limits, and who the admin is."""

    policies: Policies = field(default_factory=Policies)
    admin_client_id: str = "portico-admin"
    throttling: Throttling | None = None
    sources: Callable[[str, Mapping[str, str]], str] = field(default_factory=SourceResolver)


def _caller() -> Caller:
    claims = current_claims.get()
    if claims is None:
        # Only reachable without the interceptor: auth always verifies tokens.
        raise UnauthenticatedError("missing bearer token (metadata 'authorization')")
    return Caller(claims.subject, claims.tenant_id, claims.roles)


def _source(context: Context | None, sources: Callable[[str, Mapping[str, str]], str]) -> str:
    if context is None:
        return ""
    metadata = {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
    return sources(context.peer() or "", metadata)


def _client(view: ClientView) -> pb.Client:
    client = view.client
    return pb.Client(
        client_id=client.client_id,
        tenants=sorted(client.tenants),
        scopes=sorted(client.scopes),
        roles=sorted(client.roles),
        disabled=client.disabled,
        locked_until=optional_timestamp(view.locked_until),
        previous_secret_expires_at=optional_timestamp(
            client.previous_secret_expires_at if client.previous_secret_hash else None
        ),
        metadata=dict(view.metadata),
    )


class AuthServicer(pb_grpc.AuthServiceServicer):
    def __init__(self, uow: UnitOfWorkFactory, api: AuthApi | None = None) -> None:
        self._uow = uow
        self._api = api or AuthApi()
        self._policies = self._api.policies

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
            throttling=self._api.throttling,
            source=_source(context, self._api.sources),
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
        view = await clients.register_client(
            self._uow,
            self._policies,
            caller=_caller(),
            command=clients.RegisterClient(
                client_id=request.client_id,
                client_secret=request.client_secret,
                tenants=list(request.tenants),
                scopes=list(request.scopes),
                roles=list(request.roles),
                metadata=dict(request.metadata),
            ),
        )
        client = view.client
        return pb.RegisterClientResponse(
            client_id=client.client_id,
            tenants=sorted(client.tenants),
            scopes=sorted(client.scopes),
            roles=sorted(client.roles),
            metadata=dict(view.metadata),
        )

    async def GetClient(
        self, request: pb.GetClientRequest, context: Context
    ) -> pb.GetClientResponse:
        view = await clients.get_client(self._uow, caller=_caller(), client_id=request.client_id)
        return pb.GetClientResponse(client=_client(view))

    async def ListClients(
        self, request: pb.ListClientsRequest, context: Context
    ) -> pb.ListClientsResponse:
        views, next_token = await clients.list_clients(
            self._uow,
            caller=_caller(),
            tenant_id=request.tenant_id,
            page_size=request.page_size,
            page_token=request.page_token,
        )
        return pb.ListClientsResponse(
            clients=[_client(v) for v in views], next_page_token=next_token
        )

    async def UpdateClientRoles(
        self, request: pb.UpdateClientRolesRequest, context: Context
    ) -> pb.UpdateClientRolesResponse:
        view = await clients.update_client_roles(
            self._uow,
            self._policies,
            caller=_caller(),
            client_id=request.client_id,
            roles=list(request.roles),
            admin_client_id=self._api.admin_client_id,
        )
        return pb.UpdateClientRolesResponse(client=_client(view))

    async def DisableClient(
        self, request: pb.DisableClientRequest, context: Context
    ) -> pb.DisableClientResponse:
        view = await self._set_disabled(request.client_id, disabled=True)
        return pb.DisableClientResponse(client=_client(view))

    async def EnableClient(
        self, request: pb.EnableClientRequest, context: Context
    ) -> pb.EnableClientResponse:
        view = await self._set_disabled(request.client_id, disabled=False)
        return pb.EnableClientResponse(client=_client(view))

    async def RotateClientSecret(
        self, request: pb.RotateClientSecretRequest, context: Context
    ) -> pb.RotateClientSecretResponse:
        rotated = await clients.rotate_client_secret(
            self._uow,
            self._policies,
            caller=_caller(),
            client_id=request.client_id,
            overlap_seconds=request.overlap_seconds,
            admin_client_id=self._api.admin_client_id,
        )
        client = rotated.client
        return pb.RotateClientSecretResponse(
            client_id=client.client_id,
            client_secret=rotated.secret,
            previous_secret_expires_at=optional_timestamp(
                client.previous_secret_expires_at if client.previous_secret_hash else None
            ),
        )

    async def _set_disabled(self, client_id: str, *, disabled: bool) -> ClientView:
        return await clients.set_client_disabled(
            self._uow,
            self._policies,
            caller=_caller(),
            client_id=client_id,
            disabled=disabled,
            admin_client_id=self._api.admin_client_id,
        )
