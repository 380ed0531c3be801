"""Auth over gRPC on real PostgreSQL and NATS: tokens, the JWKS, and restarts."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import grpc
import pytest
from google.protobuf import json_format

from portico.auth.v1 import auth_pb2 as pb
from portico.auth.v1 import auth_pb2_grpc as pb_grpc
from portico_auth.adapters.key_encryption import KeyEncryptor
from portico_auth.domain.credentials import hash_secret
from portico_auth.domain.signing_keys import SigningKey
from portico_auth.errors import SigningKeyError
from portico_common.grpc.tokens import TokenVerifier

pytestmark = pytest.mark.integration

RunningAuth = Callable[..., Any]


@asynccontextmanager
async def stub(port: int) -> AsyncIterator[pb_grpc.AuthServiceStub]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield pb_grpc.AuthServiceStub(channel)


def _token_request(secret: str, **changes: Any) -> pb.IssueServiceTokenRequest:
    values: dict[str, Any] = {
        "client_id": "portico-admin",
        "client_secret": secret,
        "tenant_id": "acme",
        "scopes": ["tenants.read"],
    }
    values.update(changes)
    return pb.IssueServiceTokenRequest(**values)


async def _admin_bearer(auth: pb_grpc.AuthServiceStub, secret: str) -> tuple[tuple[str, str]]:
    """Bearer metadata of an unscoped platform token of the admin client."""
    issued = await auth.IssueServiceToken(
        _token_request(secret, tenant_id="*", scopes=[]), timeout=10
    )
    return (("authorization", f"Bearer {issued.access_token}"),)


def _jwks_fetcher(auth: pb_grpc.AuthServiceStub) -> Callable[[], Any]:
    async def fetch() -> dict[str, Any]:
        jwks = await auth.GetJwks(pb.GetJwksRequest(), timeout=5)
        return json_format.MessageToDict(jwks, preserving_proto_field_name=True)

    return fetch


async def test_an_issued_token_verifies_with_the_served_jwks(
    running_auth: RunningAuth, admin_secret: str
) -> None:
    """A token from IssueServiceToken verifies with the kernel's TokenVerifier and VerifyToken."""
    async with running_auth() as port, stub(port) as auth:
        issued = await auth.IssueServiceToken(_token_request(admin_secret), timeout=10)
        claims = await TokenVerifier(_jwks_fetcher(auth)).verify(issued.access_token)
        assert (claims.subject, claims.tenant_id, claims.scopes) == (
            "portico-admin",
            "acme",
            ("tenants.read",),
        )
        checked = await auth.VerifyToken(
            pb.VerifyTokenRequest(token=issued.access_token),
            metadata=await _admin_bearer(auth, admin_secret),
        )
        assert (checked.subject, checked.tenant_id, checked.token_id) == (
            "portico-admin",
            "acme",
            claims.token_id,
        )


async def test_bad_credentials_are_unauthenticated_without_a_hint(
    running_auth: RunningAuth, admin_secret: str
) -> None:
    """A wrong secret and an unknown client get the same UNAUTHENTICATED message."""
    async with running_auth() as port, stub(port) as auth:
        for request in (
            _token_request("not-the-admin-secret"),
            _token_request(admin_secret, client_id="nobody"),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await auth.IssueServiceToken(request, timeout=10)
            assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED
            assert caught.value.details() == "invalid client credentials"


async def test_tenant_and_scope_rules_map_to_status_codes(
    running_auth: RunningAuth, admin_secret: str, database_url: str
) -> None:
    """No tenant is INVALID_ARGUMENT; another tenant or an extra scope is PERMISSION_DENIED."""
    async with running_auth() as port, stub(port) as auth:
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute(
                "INSERT INTO auth.clients (client_id, secret_hash, tenants, scopes)"
                " VALUES ('acme-bot', $1, '{acme}', '{tenants.read}')",
                hash_secret("acme-bot-secret-0123456789"),
            )
        finally:
            await conn.close()
        bot = {"client_id": "acme-bot", "tenant_id": "acme", "scopes": ["tenants.read"]}
        cases = [
            (_token_request(admin_secret, tenant_id=""), grpc.StatusCode.INVALID_ARGUMENT),
            (
                _token_request("acme-bot-secret-0123456789", **{**bot, "tenant_id": "globex"}),
                grpc.StatusCode.PERMISSION_DENIED,
            ),
            (
                _token_request("acme-bot-secret-0123456789", **{**bot, "scopes": ["slos.write"]}),
                grpc.StatusCode.PERMISSION_DENIED,
            ),
        ]
        for request, code in cases:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await auth.IssueServiceToken(request, timeout=10)
            assert caught.value.code() is code, caught.value.details()
        allowed = await auth.IssueServiceToken(
            _token_request("acme-bot-secret-0123456789", **bot), timeout=10
        )
        assert allowed.access_token


async def test_verify_token_says_why_a_token_is_refused(
    running_auth: RunningAuth, admin_secret: str
) -> None:
    """VerifyToken needs a bearer token; with one, a token not ours is refused with the reason."""
    async with running_auth() as port, stub(port) as auth:
        with pytest.raises(grpc.aio.AioRpcError) as anonymous:
            await auth.VerifyToken(pb.VerifyTokenRequest(token="not.a.token"), timeout=5)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await auth.VerifyToken(
                pb.VerifyTokenRequest(token="not.a.token"),
                metadata=await _admin_bearer(auth, admin_secret),
                timeout=5,
            )
    assert anonymous.value.code() is grpc.StatusCode.UNAUTHENTICATED
    assert anonymous.value.details() == "missing bearer token (metadata 'authorization')"
    assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED
    assert "invalid token" in (caught.value.details() or "")


async def test_the_signing_key_survives_a_restart(
    running_auth: RunningAuth, admin_secret: str
) -> None:
    """After a restart the JWKS has the same kid and tokens issued before still verify."""
    async with running_auth() as port, stub(port) as auth:
        before = await auth.GetJwks(pb.GetJwksRequest(), timeout=5)
        issued = await auth.IssueServiceToken(_token_request(admin_secret), timeout=10)
    async with running_auth() as port, stub(port) as auth:
        after = await auth.GetJwks(pb.GetJwksRequest(), timeout=5)
        assert [k.kid for k in after.keys] == [k.kid for k in before.keys]
        assert len(after.keys) == 1
        checked = await auth.VerifyToken(
            pb.VerifyTokenRequest(token=issued.access_token),
            metadata=await _admin_bearer(auth, admin_secret),
        )
        assert checked.subject == "portico-admin"
        claims = await TokenVerifier(_jwks_fetcher(auth)).verify(issued.access_token)
        assert claims.tenant_id == "acme"


async def test_a_restart_with_another_kek_refuses_to_start(running_auth: RunningAuth) -> None:
    """Keys sealed under one KEK make auth refuse to start under another, naming the setting."""
    async with running_auth():
        pass
    with pytest.raises(SigningKeyError, match="PORTICO_AUTH_KEY_ENCRYPTION_KEY"):
        async with running_auth(auth_key_encryption_key="another-kek-0123456789-0123456789"):
            pass


async def test_private_keys_are_sealed_at_rest(
    running_auth: RunningAuth, database_url: str, kek: str
) -> None:
    """The stored private key is AES-GCM ciphertext that opens only with the KEK."""
    async with running_auth() as port, stub(port) as auth:
        [published] = (await auth.GetJwks(pb.GetJwksRequest(), timeout=5)).keys
    conn = await asyncpg.connect(database_url)
    try:
        row = await conn.fetchrow("SELECT * FROM auth.signing_keys")
    finally:
        await conn.close()
    assert row is not None
    assert set(row.keys()) == {"kid", "sealed_private_key", "created_at", "not_after"}
    raw = KeyEncryptor(kek).open(row["kid"], row["sealed_private_key"])
    assert raw not in row["sealed_private_key"]
    key = SigningKey.from_private_bytes(
        raw, created_at=row["created_at"], not_after=row["not_after"], kid=row["kid"]
    )
    assert key.public_jwk()["x"] == published.x


async def test_register_client_over_grpc_stores_roles_and_is_admin_only(
    running_auth: RunningAuth, admin_secret: str
) -> None:
    """The admin's platform token registers a client whose tokens carry its roles; others can't."""
    async with running_auth() as port, stub(port) as auth:
        admin = await auth.IssueServiceToken(_token_request(admin_secret, tenant_id="*", scopes=[]))
        request = pb.RegisterClientRequest(
            client_id="approver-1",
            client_secret="approver-secret-0123456789",
            tenants=["acme"],
            scopes=["installs.approve"],
            roles=["security-approver"],
        )
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await auth.RegisterClient(request, timeout=10)
        assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED
        bearer = (("authorization", f"Bearer {admin.access_token}"),)
        registered = await auth.RegisterClient(request, metadata=bearer, timeout=10)
        assert list(registered.roles) == ["security-approver"]
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await auth.RegisterClient(request, metadata=bearer, timeout=10)
        assert caught.value.code() is grpc.StatusCode.ALREADY_EXISTS
        issued = await auth.IssueServiceToken(
            _token_request(
                "approver-secret-0123456789", client_id="approver-1", scopes=["installs.approve"]
            )
        )
        claims = await TokenVerifier(_jwks_fetcher(auth)).verify(issued.access_token)
        assert (claims.subject, claims.roles) == ("approver-1", ("security-approver",))
        other = (("authorization", f"Bearer {issued.access_token}"),)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await auth.RegisterClient(
                pb.RegisterClientRequest(client_id="x", client_secret="y" * 20, tenants=["acme"]),
                metadata=other,
                timeout=10,
            )
        assert caught.value.code() is grpc.StatusCode.PERMISSION_DENIED
