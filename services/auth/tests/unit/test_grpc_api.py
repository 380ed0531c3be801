"""The gRPC servicer behind the kernel's interceptor: mapping, admission, and the JWKS."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import grpc
import pytest
from google.protobuf import json_format
from google.rpc import error_details_pb2, status_pb2  # type: ignore[import-untyped]
from joserfc.jwk import KeySet

from portico.auth.v1 import auth_pb2 as pb
from portico_auth.adapters.memory import AuthMemoryStore
from portico_auth.bootstrap import Dependencies, build
from portico_auth.domain.rate_limits import IssueThrottle, Rate
from portico_auth.entrypoints.grpc_api import AuthServicer
from portico_auth.entrypoints.sources import SourceResolver
from portico_common.authz.access import method_access
from portico_common.grpc.tokens import TokenVerifier, claims_from_token

if TYPE_CHECKING:
    from .conftest import Serve, Served

SERVICE = "/portico.auth.v1.AuthService/"
ADMIN = "portico-admin"
ADMIN_SECRET = "admin-secret-0123456789"


def bearer(token: str) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {token}"),)


@pytest.fixture
def servicer(live_store: AuthMemoryStore) -> AuthServicer:
    """The servicer `build` makes, on a store with a signing key and the admin client."""
    (served,) = build(Dependencies(uow=live_store.open)).servicers
    assert isinstance(served.implementation, AuthServicer)
    return served.implementation


async def _token(servicer: AuthServicer, tenant: str = "acme") -> pb.IssueServiceTokenResponse:
    request = pb.IssueServiceTokenRequest(
        client_id=ADMIN, client_secret=ADMIN_SECRET, tenant_id=tenant, scopes=["slos.read"]
    )
    return await servicer.IssueServiceToken(request, None)  # type: ignore[arg-type]


async def test_the_token_response_is_a_bearer_token(servicer: AuthServicer) -> None:
    """IssueServiceToken answers a Bearer token with its lifetime and expiry."""
    response = await _token(servicer)
    assert response.token_type == "Bearer"
    assert response.expires_in == 900
    remaining = response.expires_at.ToDatetime(UTC) - datetime.now(UTC)
    assert 890 < remaining.total_seconds() <= 900


async def test_the_jwks_message_converts_the_way_the_kernel_fetches_it(
    servicer: AuthServicer,
) -> None:
    """GetJwks converted as jwks_fetcher does it lets claims_from_token accept our token."""
    jwks = await servicer.GetJwks(pb.GetJwksRequest(), None)  # type: ignore[arg-type]
    as_dict = json_format.MessageToDict(jwks, preserving_proto_field_name=True)
    [key] = as_dict["keys"]
    assert set(key) == {"kty", "crv", "x", "kid", "alg", "use"}
    assert (key["kty"], key["crv"], key["alg"], key["use"]) == ("OKP", "Ed25519", "Ed25519", "sig")
    token = (await _token(servicer)).access_token
    claims = claims_from_token(token, KeySet.import_key_set(as_dict))  # type: ignore[arg-type]
    assert (claims.subject, claims.tenant_id, claims.scopes) == (ADMIN, "acme", ("slos.read",))


async def test_the_kernel_token_verifier_accepts_our_tokens(servicer: AuthServicer) -> None:
    """TokenVerifier, fed by GetJwks, verifies an issued token."""

    async def fetch() -> dict[str, object]:
        jwks = await servicer.GetJwks(pb.GetJwksRequest(), None)  # type: ignore[arg-type]
        return json_format.MessageToDict(jwks, preserving_proto_field_name=True)

    claims = await TokenVerifier(fetch).verify((await _token(servicer, "*")).access_token)
    assert claims.tenant_id == "*"


async def test_the_verifier_build_wires_reads_the_keys_from_the_store(
    servicer: AuthServicer, live_store: AuthMemoryStore
) -> None:
    """auth's own interceptor verifies with the store's published keys: no call to itself."""
    verifier = build(Dependencies(uow=live_store.open)).verifier
    claims = await verifier.verify((await _token(servicer)).access_token)
    assert (claims.subject, claims.roles) == (ADMIN, ("platform-admin",))


async def test_verify_token_returns_the_claims(servicer: AuthServicer) -> None:
    """VerifyToken maps the claims, with expires_at equal to the issued expiry."""
    issued = await _token(servicer)
    response = await servicer.VerifyToken(pb.VerifyTokenRequest(token=issued.access_token), None)  # type: ignore[arg-type]
    assert (response.subject, response.tenant_id, list(response.scopes)) == (
        ADMIN,
        "acme",
        ["slos.read"],
    )
    assert response.expires_at == issued.expires_at
    assert len(response.token_id) == 32
    assert list(response.roles) == ["platform-admin"]


def test_only_token_issuance_and_the_jwks_are_public() -> None:
    """The proto options leave two RPCs open; every other auth RPC names its permission."""
    expected = {
        "IssueServiceToken": "",
        "GetJwks": "",
        "VerifyToken": "tokens.verify",
        "RegisterClient": "clients.register",
        "GetClient": "clients.read",
        "ListClients": "clients.read",
        "UpdateClientRoles": "clients.write",
        "DisableClient": "clients.write",
        "EnableClient": "clients.write",
        "RotateClientSecret": "clients.write",
    }
    found = {}
    for name in pb.DESCRIPTOR.services_by_name["AuthService"].methods_by_name:
        access = method_access(SERVICE + name)
        assert access.declared
        assert access.unauthenticated == (not access.permission)
        found[name] = access.permission
    assert found == expected


async def test_without_a_token_only_issuance_and_the_jwks_answer(serve: Serve) -> None:
    """Through the interceptor, VerifyToken and RegisterClient need a bearer token."""
    async with serve() as served:
        assert (await served.stub.GetJwks(pb.GetJwksRequest(), timeout=5)).keys
        token = await served.token(ADMIN, ADMIN_SECRET, "acme")
        for call in (
            served.stub.VerifyToken(pb.VerifyTokenRequest(token=token), timeout=5),
            served.stub.RegisterClient(pb.RegisterClientRequest(client_id="x"), timeout=5),
            served.stub.ListClients(pb.ListClientsRequest(), timeout=5),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await call
            assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED


async def _register(served: Served, client_id: str, tenants: list[str], roles: list[str]) -> str:
    secret = f"{client_id}-secret-0123456789"
    await served.stub.RegisterClient(
        pb.RegisterClientRequest(
            client_id=client_id, client_secret=secret, tenants=tenants, roles=roles
        ),
        metadata=await served.admin(),
        timeout=10,
    )
    return secret


async def test_verify_token_needs_tokens_verify_and_a_denial_is_recorded(serve: Serve) -> None:
    """A viewer's token is refused VerifyToken by name and recorded; a service's is served."""
    async with serve() as served:
        viewer = await _register(served, "acme-viewer", ["acme"], ["viewer"])
        service = await _register(served, "introspector", ["*"], ["service"])
        viewer_token = await served.token("acme-viewer", viewer, "acme")
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await served.stub.VerifyToken(
                pb.VerifyTokenRequest(token=viewer_token), metadata=bearer(viewer_token)
            )
        assert caught.value.code() is grpc.StatusCode.PERMISSION_DENIED
        assert "missing permission 'tokens.verify'" in (caught.value.details() or "")
        assert served.denials.recorded == [("acme", "acme-viewer", "VerifyToken", "tokens.verify")]
        service_token = await served.token("introspector", service, "*")
        checked = await served.stub.VerifyToken(
            pb.VerifyTokenRequest(token=viewer_token), metadata=bearer(service_token)
        )
        assert (checked.subject, list(checked.roles)) == ("acme-viewer", ["viewer"])


async def test_register_client_needs_clients_register(serve: Serve) -> None:
    """A client allowed every tenant but without the permission cannot register clients."""
    async with serve() as served:
        secret = await _register(served, "approver", ["*"], ["security-approver"])
        token = await served.token("approver", secret, "*")
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await served.stub.RegisterClient(
                pb.RegisterClientRequest(
                    client_id="bot-2", client_secret="x" * 20, tenants=["acme"]
                ),
                metadata=bearer(token),
            )
        assert caught.value.code() is grpc.StatusCode.PERMISSION_DENIED
        assert "missing permission 'clients.register'" in (caught.value.details() or "")
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await served.stub.GetClient(
                pb.GetClientRequest(client_id="bot-2"), metadata=await served.admin()
            )
        assert missing.value.code() is grpc.StatusCode.NOT_FOUND


async def test_register_client_by_the_admin_gives_tokens_with_its_roles(serve: Serve) -> None:
    """A client the admin registers gets tokens whose roles claim holds its roles."""
    async with serve() as served:
        registered = await served.stub.RegisterClient(
            pb.RegisterClientRequest(
                client_id="alice-bot",
                client_secret="alice-secret-0123456789",
                tenants=["acme"],
                scopes=["installs.approve"],
                roles=["security-approver"],
            ),
            metadata=await served.admin(),
        )
        assert list(registered.roles) == ["security-approver"]
        token = await served.token("alice-bot", "alice-secret-0123456789", "acme")
        checked = await served.stub.VerifyToken(
            pb.VerifyTokenRequest(token=token), metadata=await served.admin()
        )
        assert (checked.subject, list(checked.roles)) == ("alice-bot", ["security-approver"])


async def test_client_reads_never_carry_a_secret_and_rotation_shows_it_once(
    serve: Serve,
) -> None:
    """Get/List answer no secret; RotateClientSecret answers a new one that alone works."""
    async with serve() as served:
        old = await _register(served, "acme-bot", ["acme"], ["developer"])
        admin = await served.admin()
        got = await served.stub.GetClient(pb.GetClientRequest(client_id="acme-bot"), metadata=admin)
        listed = await served.stub.ListClients(
            pb.ListClientsRequest(tenant_id="acme"), metadata=admin
        )
        assert [c.client_id for c in listed.clients] == ["acme-bot"]
        for client in (got.client, *listed.clients):
            assert "secret" not in json_format.MessageToJson(client).lower()
            assert (list(client.tenants), list(client.roles), client.disabled) == (
                ["acme"],
                ["developer"],
                False,
            )
        rotated = await served.stub.RotateClientSecret(
            pb.RotateClientSecretRequest(client_id="acme-bot"), metadata=admin
        )
        assert len(rotated.client_secret) >= 32
        assert not rotated.HasField("previous_secret_expires_at")
        assert await served.token("acme-bot", rotated.client_secret, "acme")
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await served.token("acme-bot", old, "acme")
        assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED


async def test_a_disabled_client_is_denied_tokens_until_enabled(serve: Serve) -> None:
    """DisableClient makes issuance PERMISSION_DENIED (saying why); EnableClient undoes it."""
    async with serve() as served:
        secret = await _register(served, "acme-bot", ["acme"], ["viewer"])
        admin = await served.admin()
        disabled = await served.stub.DisableClient(
            pb.DisableClientRequest(client_id="acme-bot"), metadata=admin
        )
        assert disabled.client.disabled
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await served.token("acme-bot", secret, "acme")
        assert caught.value.code() is grpc.StatusCode.PERMISSION_DENIED
        assert caught.value.details() == "client 'acme-bot' is disabled"
        enabled = await served.stub.EnableClient(
            pb.EnableClientRequest(client_id="acme-bot"), metadata=admin
        )
        assert not enabled.client.disabled
        assert await served.token("acme-bot", secret, "acme")


def _retry_delay(error: grpc.aio.AioRpcError) -> int:
    """The RetryInfo delay in the error's google.rpc.Status trailer."""
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)
            info = error_details_pb2.RetryInfo()
            assert status.details[0].Unpack(info)
            return int(info.retry_delay.seconds)
    pytest.fail("no grpc-status-details-bin trailer")


async def test_the_per_client_limit_is_resource_exhausted_with_a_retry_hint(
    serve: Serve,
) -> None:
    """Past its burst a client id is refused RESOURCE_EXHAUSTED, in words and as RetryInfo."""
    throttle = IssueThrottle(Rate(burst=2, per_second=0.1), Rate(burst=100, per_second=100))
    async with serve(throttle=throttle) as served:
        await served.token(ADMIN, ADMIN_SECRET, "acme")
        await served.token(ADMIN, ADMIN_SECRET, "acme")
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await served.token(ADMIN, ADMIN_SECRET, "acme")
    assert caught.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert caught.value.details() == (
        "too many token requests for client 'portico-admin'; retry after 10 s"
    )
    assert _retry_delay(caught.value) == 10


async def test_the_per_source_limit_follows_a_trusted_proxys_forwarded_address(
    serve: Serve,
) -> None:
    """From a trusted proxy each forwarded address has its own bucket; else the peer does."""
    throttle = IssueThrottle(Rate(burst=100, per_second=100), Rate(burst=1, per_second=0.01))
    trusted = SourceResolver([ipaddress.ip_network("127.0.0.0/8")])
    request = pb.IssueServiceTokenRequest(
        client_id=ADMIN, client_secret=ADMIN_SECRET, tenant_id="acme"
    )
    async with serve(throttle=throttle, sources=trusted) as served:
        for address in ("203.0.113.7", "203.0.113.8"):
            forwarded = (("x-forwarded-for", f"198.51.100.1, {address}"),)
            await served.stub.IssueServiceToken(request, metadata=forwarded, timeout=10)
        forwarded = (("x-forwarded-for", "203.0.113.7"),)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await served.stub.IssueServiceToken(request, metadata=forwarded, timeout=10)
        assert caught.value.details().startswith("too many token requests from 203.0.113.7")
    untrusting = IssueThrottle(Rate(burst=100, per_second=100), Rate(burst=1, per_second=0.01))
    async with serve(throttle=untrusting) as served:
        forwarded = (("x-forwarded-for", "203.0.113.9"),)
        await served.stub.IssueServiceToken(request, metadata=forwarded, timeout=10)
        forwarded = (("x-forwarded-for", "203.0.113.10"),)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await served.stub.IssueServiceToken(request, metadata=forwarded, timeout=10)
        assert caught.value.details().startswith("too many token requests from 127.0.0.1")


async def test_client_metadata_goes_in_with_registration_and_out_with_every_read(
    serve: Serve,
) -> None:
    """RegisterClient's metadata comes back from it, GetClient and ListClients; bad is 400."""
    metadata = {"owner": "team-payments", "ticket": "SEC-42"}
    async with serve() as served:
        admin = await served.admin()
        registered = await served.stub.RegisterClient(
            pb.RegisterClientRequest(
                client_id="acme-bot",
                client_secret="acme-secret-0123456789",
                tenants=["acme"],
                roles=["viewer"],
                metadata=metadata,
            ),
            metadata=admin,
        )
        got = await served.stub.GetClient(pb.GetClientRequest(client_id="acme-bot"), metadata=admin)
        listed = await served.stub.ListClients(
            pb.ListClientsRequest(tenant_id="acme"), metadata=admin
        )
        for found in (registered.metadata, got.client.metadata, listed.clients[0].metadata):
            assert dict(found) == metadata
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await served.stub.RegisterClient(
                pb.RegisterClientRequest(
                    client_id="everywhere-bot",
                    client_secret="acme-secret-0123456789",
                    tenants=["*"],
                    metadata=metadata,
                ),
                metadata=admin,
            )
        assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert "exactly one tenant" in (caught.value.details() or "")
