"""Who may call what, enforced by the kernel's interceptor for unary and streaming RPCs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import asyncpg
import grpc
import pytest

from portico.compat.v1 import compat_pb2, compat_pb2_grpc
from portico.tenancy.v1 import tenancy_pb2, tenancy_pb2_grpc
from portico_common.errors import NotFoundError
from portico_common.grpc.registration import Servicer
from portico_common.grpc.tokens import Claims, TokenVerifier, current_claims

if TYPE_CHECKING:
    # conftest is not importable at run time under --import-mode=importlib.
    from conftest import Service

pytestmark = pytest.mark.integration

Token = Callable[..., str]


class TinyCompat(compat_pb2_grpc.CompatServiceServicer):
    """A streaming RPC that reports who called and then fails or answers twice."""

    def __init__(self) -> None:
        self.callers: list[Claims | None] = []

    async def CheckCompatibilityStream(  # noqa: N802 - generated servicer name
        self, request: compat_pb2.CheckCompatibilityStreamRequest, _context: Any
    ) -> AsyncIterator[compat_pb2.CheckCompatibilityStreamResponse]:
        self.callers.append(current_claims.get())
        yield compat_pb2.CheckCompatibilityStreamResponse()
        await asyncio.sleep(0)
        if request.check.plugin == "missing":
            raise NotFoundError("no plugin 'missing'")
        yield compat_pb2.CheckCompatibilityStreamResponse()


@pytest.fixture
async def secured_with_stream(
    database_url: str,
    nats_url: str,
    kernel_service: Callable[..., Any],
    key_jwks: Callable[[], Awaitable[dict[str, Any]]],
) -> AsyncIterator[Service]:
    """The secured test service, also serving a streaming RPC."""
    compat = TinyCompat()
    extra = Servicer(
        compat_pb2.DESCRIPTOR.services_by_name["CompatService"],
        compat_pb2_grpc.add_CompatServiceServicer_to_server,
        compat,
    )
    verifier = TokenVerifier(key_jwks)
    async with kernel_service(database_url, nats_url, verifier, (extra,)) as svc:
        svc.extra = compat  # type: ignore[attr-defined]
        yield svc


async def _create(service: Service, tenant: str, token: str, key: str = "") -> Any:
    metadata = [("authorization", f"Bearer {token}")]
    if key:
        metadata.append(("idempotency-key", key))
    async with grpc.aio.insecure_channel(service.target) as channel:
        return await tenancy_pb2_grpc.TenancyServiceStub(channel).CreateTenant(
            tenancy_pb2.CreateTenantRequest(tenant_id=tenant, display_name="x"),
            metadata=metadata,
            timeout=5,
        )


async def _stream(service: Service, tenant: str, token: str | None, plugin: str = "p") -> list[Any]:
    metadata = [("authorization", f"Bearer {token}")] if token else []
    request = compat_pb2.CheckCompatibilityStreamRequest()
    request.check.tenant_id = tenant
    request.check.plugin = plugin
    async with grpc.aio.insecure_channel(service.target) as channel:
        call = compat_pb2_grpc.CompatServiceStub(channel).CheckCompatibilityStream(
            request, metadata=metadata, timeout=5
        )
        return [item async for item in call]


async def _denials(database_url: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetch(
            "SELECT tenant_id, subject, method, permission, roles FROM kerneltest.access_denials"
        )
    finally:
        await conn.close()


async def test_a_token_without_the_permission_is_denied_by_name(
    secured: Service, token: Token, database_url: str
) -> None:
    """A viewer may not create a tenant: PERMISSION_DENIED names the permission; it is recorded."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _create(secured, "acme", token("acme", subject="alice", roles=("viewer",)))
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert caught.value.details() == (
        "missing permission 'tenants.create': the token's roles (viewer) do not grant it"
    )
    assert secured.servicer.calls == 0
    [denial] = await _denials(database_url)
    assert dict(denial) == {
        "tenant_id": "acme",
        "subject": "alice",
        "method": "/portico.tenancy.v1.TenancyService/CreateTenant",
        "permission": "tenants.create",
        "roles": ["viewer"],
    }


async def test_a_token_with_no_roles_may_do_nothing(secured: Service, token: Token) -> None:
    """A client registered without roles cannot even read."""
    async with grpc.aio.insecure_channel(secured.target) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await tenancy_pb2_grpc.TenancyServiceStub(channel).GetTenant(
                tenancy_pb2.GetTenantRequest(tenant_id="acme"),
                metadata=[("authorization", f"Bearer {token('acme', roles=())}")],
                timeout=5,
            )
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "'tenants.read'" in (caught.value.details() or "")


async def test_a_role_that_grants_the_permission_gets_through(
    secured: Service, token: Token
) -> None:
    """A viewer reaches GetTenant (the servicer answers NOT_FOUND, so the call got in)."""
    async with grpc.aio.insecure_channel(secured.target) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await tenancy_pb2_grpc.TenancyServiceStub(channel).GetTenant(
                tenancy_pb2.GetTenantRequest(tenant_id="acme"),
                metadata=[("authorization", f"Bearer {token('acme', roles=('viewer',))}")],
                timeout=5,
            )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_scopes_narrow_what_the_roles_grant(secured: Service, token: Token) -> None:
    """A platform admin's token scoped to reads cannot create; scoped to tenants.* it can."""
    narrow = token("acme", scopes=("tenants.read",))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _create(secured, "acme", narrow)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "scopes (tenants.read) exclude it" in (caught.value.details() or "")
    created = await _create(secured, "acme", token("acme", scopes=("tenants.*",)))
    assert created.tenant.tenant_id == "acme"


async def test_an_idempotency_key_belongs_to_its_first_caller(
    secured: Service, token: Token
) -> None:
    """Another subject replaying alice's key is refused; alice's replay gets her response."""
    first = await _create(secured, "acme", token("acme", subject="alice"), key="k-1")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _create(secured, "acme", token("acme", subject="mallory"), key="k-1")
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert caught.value.details() == "idempotency-key 'k-1' belongs to another caller"
    again = await _create(secured, "acme", token("acme", subject="alice"), key="k-1")
    assert again == first
    assert secured.servicer.calls == 1


async def test_a_replay_is_authorized_again(secured: Service, token: Token) -> None:
    """A stored response is not handed to the same subject once its roles no longer allow it."""
    await _create(secured, "acme", token("acme", subject="alice"), key="k-2")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _create(secured, "acme", token("acme", subject="alice", roles=("viewer",)), "k-2")
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_a_stream_without_a_token_is_unauthenticated(secured_with_stream: Service) -> None:
    """Streaming RPCs get the same token check as unary ones, before the servicer runs."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _stream(secured_with_stream, "acme", None)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert secured_with_stream.extra.callers == []  # type: ignore[attr-defined]


async def test_a_stream_for_another_tenant_is_denied(
    secured_with_stream: Service, token: Token
) -> None:
    """A token for acme cannot stream a check for beta (the tenant is inside `check`)."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _stream(secured_with_stream, "beta", token("acme"))
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert caught.value.details() == "token for tenant 'acme' cannot act for tenant 'beta'"


async def test_a_stream_needs_its_permission(secured_with_stream: Service, token: Token) -> None:
    """A viewer may not run a compatibility check stream; a developer may, as itself."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _stream(secured_with_stream, "acme", token("acme", roles=("viewer",)))
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "'compat.check'" in (caught.value.details() or "")
    items = await _stream(
        secured_with_stream, "acme", token("acme", subject="dev", roles=("developer",))
    )
    assert len(items) == 2
    [caller] = secured_with_stream.extra.callers  # type: ignore[attr-defined]
    assert caller is not None
    assert (caller.subject, caller.roles) == ("dev", ("developer",))


async def test_an_error_mid_stream_ends_it_with_its_status(
    secured_with_stream: Service, token: Token
) -> None:
    """A domain error after the first message ends the stream with the error's status."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _stream(secured_with_stream, "acme", token("acme"), plugin="missing")
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert caught.value.details() == "no plugin 'missing'"
