"""Client lifecycle on real PostgreSQL: lockouts outlive a restart, secrets never stored.

auth runs in-process (`run`), on a fresh database, as `portico up` runs it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC
from typing import Any

import asyncpg
import grpc
import pytest

from portico.auth.v1 import auth_pb2 as pb
from portico.auth.v1 import auth_pb2_grpc as pb_grpc

pytestmark = pytest.mark.integration

RunningAuth = Callable[..., Any]
BOT_SECRET = "bot-secret-0123456789"
LOCKOUT = {"auth_lockout_max_failures": 2, "auth_lockout_seconds": 600.0}


@asynccontextmanager
async def stub(port: int) -> AsyncIterator[pb_grpc.AuthServiceStub]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield pb_grpc.AuthServiceStub(channel)


async def _admin(auth: pb_grpc.AuthServiceStub, secret: str) -> tuple[tuple[str, str]]:
    issued = await auth.IssueServiceToken(
        pb.IssueServiceTokenRequest(client_id="portico-admin", client_secret=secret, tenant_id="*"),
        timeout=10,
    )
    return (("authorization", f"Bearer {issued.access_token}"),)


def _bot_token(secret: str) -> pb.IssueServiceTokenRequest:
    return pb.IssueServiceTokenRequest(client_id="bot", client_secret=secret, tenant_id="acme")


async def _refused(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value


async def test_a_lockout_survives_a_restart_until_the_client_is_enabled(
    running_auth: RunningAuth, admin_secret: str, database_url: str
) -> None:
    """Two bad secrets lock bot out; after a restart the right secret is still refused."""
    async with running_auth(**LOCKOUT) as port, stub(port) as auth:
        await auth.RegisterClient(
            pb.RegisterClientRequest(
                client_id="bot", client_secret=BOT_SECRET, tenants=["acme"], roles=["viewer"]
            ),
            metadata=await _admin(auth, admin_secret),
            timeout=10,
        )
        for _ in range(2):
            bad = await _refused(auth.IssueServiceToken(_bot_token("wrong-secret-0123456789")))
            assert bad.code() is grpc.StatusCode.UNAUTHENTICATED
        locked = await _refused(auth.IssueServiceToken(_bot_token(BOT_SECRET)))
        assert locked.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "'bot' is locked out after 2 failed attempts; retry after" in locked.details()
    conn = await asyncpg.connect(database_url)
    try:
        row = await conn.fetchrow("SELECT failures, locked_until FROM auth.client_lockouts")
    finally:
        await conn.close()
    assert row is not None
    assert row["failures"] == 2
    async with running_auth(**LOCKOUT) as port, stub(port) as auth:
        still = await _refused(auth.IssueServiceToken(_bot_token(BOT_SECRET)))
        assert still.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        admin = await _admin(auth, admin_secret)
        got = await auth.GetClient(pb.GetClientRequest(client_id="bot"), metadata=admin)
        assert got.client.locked_until.ToDatetime(UTC) == row["locked_until"]
        await auth.EnableClient(pb.EnableClientRequest(client_id="bot"), metadata=admin)
        assert (await auth.IssueServiceToken(_bot_token(BOT_SECRET), timeout=10)).access_token


async def test_a_rotated_secret_is_answered_once_and_never_stored(
    running_auth: RunningAuth, admin_secret: str, database_url: str
) -> None:
    """A replay of RotateClientSecret's idempotency key answers without the secret."""
    async with running_auth() as port, stub(port) as auth:
        admin = await _admin(auth, admin_secret)
        await auth.RegisterClient(
            pb.RegisterClientRequest(client_id="bot", client_secret=BOT_SECRET, tenants=["acme"]),
            metadata=admin,
            timeout=10,
        )
        keyed = (*admin, ("idempotency-key", "rotate-bot-1"))
        request = pb.RotateClientSecretRequest(client_id="bot", overlap_seconds=60)
        first = await auth.RotateClientSecret(request, metadata=keyed, timeout=10)
        call = auth.RotateClientSecret(request, metadata=keyed, timeout=10)
        replay = await call
        assert ("idempotent-replayed", "true") in tuple(await call.trailing_metadata() or ())
        assert first.client_secret
        assert replay.client_secret == ""
        assert replay.previous_secret_expires_at == first.previous_secret_expires_at
        for secret in (first.client_secret, BOT_SECRET):  # the overlap keeps the old one
            assert (await auth.IssueServiceToken(_bot_token(secret), timeout=10)).access_token
    conn = await asyncpg.connect(database_url)
    try:
        stored = await conn.fetch("SELECT response FROM auth.idempotency_keys")
    finally:
        await conn.close()
    assert len(stored) == 1
    assert first.client_secret.encode() not in bytes(stored[0]["response"])


async def test_a_denied_call_is_recorded_with_the_tokens_subject(
    running_auth: RunningAuth, admin_secret: str, database_url: str
) -> None:
    """A viewer's RegisterClient is PERMISSION_DENIED and lands in auth's access_denials."""
    async with running_auth() as port, stub(port) as auth:
        await auth.RegisterClient(
            pb.RegisterClientRequest(
                client_id="bot", client_secret=BOT_SECRET, tenants=["acme"], roles=["viewer"]
            ),
            metadata=await _admin(auth, admin_secret),
            timeout=10,
        )
        token = (await auth.IssueServiceToken(_bot_token(BOT_SECRET), timeout=10)).access_token
        denied = await _refused(
            auth.RegisterClient(
                pb.RegisterClientRequest(
                    client_id="bot-2", client_secret=BOT_SECRET, tenants=["acme"]
                ),
                metadata=(("authorization", f"Bearer {token}"),),
                timeout=10,
            )
        )
    assert denied.code() is grpc.StatusCode.PERMISSION_DENIED
    assert "missing permission 'clients.register'" in denied.details()
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT tenant_id, subject, method, permission FROM auth.access_denials"
        )
    finally:
        await conn.close()
    assert [tuple(r) for r in rows] == [
        ("acme", "bot", "/portico.auth.v1.AuthService/RegisterClient", "clients.register")
    ]
