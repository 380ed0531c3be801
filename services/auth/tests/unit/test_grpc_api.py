"""The gRPC servicer's mapping, and that its JWKS is what other services verify with."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from google.protobuf import json_format
from joserfc.jwk import KeySet

from portico.auth.v1 import auth_pb2 as pb
from portico_auth.adapters.memory import memory_store
from portico_auth.app import handlers
from portico_auth.app.handlers import Policies
from portico_auth.bootstrap import Dependencies, build
from portico_auth.entrypoints.grpc_api import PUBLIC_METHODS, AuthServicer
from portico_common.grpc.tokens import TokenVerifier, claims_from_token

SECRET = "admin-secret-0123456789"


@pytest.fixture
async def servicer() -> AuthServicer:
    """The servicer `build` makes, on a store with a signing key and the admin client."""
    store = memory_store()  # real time: the kernel verifier reads the real clock
    await handlers.ensure_signing_key(store.open, Policies().keys)
    await handlers.upsert_admin_client(store.open, "portico-admin", SECRET)
    (served,) = build(Dependencies(uow=store.open)).servicers
    assert isinstance(served.implementation, AuthServicer)
    return served.implementation


async def _token(servicer: AuthServicer, tenant: str = "acme") -> pb.IssueServiceTokenResponse:
    request = pb.IssueServiceTokenRequest(
        client_id="portico-admin", client_secret=SECRET, tenant_id=tenant, scopes=["slos.read"]
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
    assert (claims.subject, claims.tenant_id, claims.scopes) == (
        "portico-admin",
        "acme",
        ("slos.read",),
    )


async def test_the_kernel_token_verifier_accepts_our_tokens(servicer: AuthServicer) -> None:
    """TokenVerifier, fed by GetJwks, verifies an issued token."""

    async def fetch() -> dict[str, object]:
        jwks = await servicer.GetJwks(pb.GetJwksRequest(), None)  # type: ignore[arg-type]
        return json_format.MessageToDict(jwks, preserving_proto_field_name=True)

    claims = await TokenVerifier(fetch).verify((await _token(servicer, "*")).access_token)
    assert claims.tenant_id == "*"


async def test_verify_token_returns_the_claims(servicer: AuthServicer) -> None:
    """VerifyToken maps the claims, with expires_at equal to the issued expiry."""
    issued = await _token(servicer)
    response = await servicer.VerifyToken(pb.VerifyTokenRequest(token=issued.access_token), None)  # type: ignore[arg-type]
    assert (response.subject, response.tenant_id, list(response.scopes)) == (
        "portico-admin",
        "acme",
        ["slos.read"],
    )
    assert response.expires_at == issued.expires_at
    assert len(response.token_id) == 32


def test_every_auth_method_is_public() -> None:
    """No RPC needs the interceptor's check; RegisterClient verifies the admin token itself."""
    assert {
        "/portico.auth.v1.AuthService/IssueServiceToken",
        "/portico.auth.v1.AuthService/GetJwks",
        "/portico.auth.v1.AuthService/VerifyToken",
        "/portico.auth.v1.AuthService/RegisterClient",
    } == PUBLIC_METHODS


class _Metadata:
    """The piece of a grpc.aio context RegisterClient reads: the call's metadata."""

    def __init__(self, token: str | None) -> None:
        self._pairs = () if token is None else (("authorization", f"Bearer {token}"),)

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._pairs


def _register_request(**changes: object) -> pb.RegisterClientRequest:
    values: dict[str, object] = {
        "client_id": "alice-bot",
        "client_secret": "alice-secret-0123456789",
        "tenants": ["acme"],
        "scopes": ["installs.approve"],
        "roles": ["security-approver"],
    }
    values.update(changes)
    return pb.RegisterClientRequest(**values)  # type: ignore[arg-type]


async def test_admin_tokens_carry_the_platform_admin_role(servicer: AuthServicer) -> None:
    """The admin client's token has roles ["platform-admin"], and VerifyToken shows them."""
    issued = await _token(servicer)
    response = await servicer.VerifyToken(pb.VerifyTokenRequest(token=issued.access_token), None)  # type: ignore[arg-type]
    assert list(response.roles) == ["platform-admin"]


async def test_register_client_by_the_admin_gives_tokens_with_its_roles(
    servicer: AuthServicer,
) -> None:
    """A client the admin registers gets tokens whose roles claim holds its roles."""
    admin = (await _token(servicer, "*")).access_token
    registered = await servicer.RegisterClient(_register_request(), _Metadata(admin))  # type: ignore[arg-type]
    assert (registered.client_id, list(registered.roles)) == ("alice-bot", ["security-approver"])
    issued = await servicer.IssueServiceToken(
        pb.IssueServiceTokenRequest(
            client_id="alice-bot", client_secret="alice-secret-0123456789", tenant_id="acme"
        ),
        None,  # type: ignore[arg-type]
    )
    checked = await servicer.VerifyToken(pb.VerifyTokenRequest(token=issued.access_token), None)  # type: ignore[arg-type]
    assert (checked.subject, list(checked.roles)) == ("alice-bot", ["security-approver"])
