"""Fixtures for auth's unit tests: a manual clock, in-memory state, keys and grants.

`served` runs what `build` wires behind the kernel's real interceptor on a
local grpc.aio server (in-memory store, real time: the interceptor's token
verifier reads the real clock), so tests see what a caller sees.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import grpc
import pytest

from portico.auth.v1 import auth_pb2 as pb
from portico.auth.v1 import auth_pb2_grpc as pb_grpc
from portico_auth.adapters.memory import AuthMemoryStore, memory_store
from portico_auth.app import handlers
from portico_auth.app.handlers import Policies
from portico_auth.bootstrap import Dependencies, build
from portico_auth.domain.clients import Grant
from portico_auth.domain.signing_keys import KeyPolicy, SigningKey
from portico_common.clock import ManualClock
from portico_common.grpc.interceptor import PorticoServerInterceptor
from portico_common.grpc.registration import register_servicers
from portico_common.grpc.tokens import Claims

ADMIN = "portico-admin"
ADMIN_SECRET = "admin-secret-0123456789"


@pytest.fixture
def t0() -> datetime:
    """The moment every scenario starts at."""
    return datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock(t0: datetime) -> ManualClock:
    return ManualClock(t0)


@pytest.fixture
def key_policy() -> KeyPolicy:
    return KeyPolicy()


@pytest.fixture
def store(clock: ManualClock) -> AuthMemoryStore:
    return memory_store(clock)


@pytest.fixture
def signing_key(t0: datetime, key_policy: KeyPolicy) -> SigningKey:
    return SigningKey.generate(t0, key_policy)


@pytest.fixture
def grant() -> Grant:
    return Grant("ci-bot", "acme", ("tenants.read", "rollouts.request"))


@pytest.fixture
async def live_store() -> AuthMemoryStore:
    """A real-time store as bootstrap leaves it: a signing key and the admin client."""
    store = memory_store()
    await handlers.ensure_signing_key(store.open, Policies().keys)
    await handlers.upsert_admin_client(store.open, ADMIN, ADMIN_SECRET)
    return store


@dataclass
class Denials:
    """The interceptor's denial log: what it recorded, in order."""

    recorded: list[tuple[str, str, str, str]] = field(default_factory=list)

    async def record(self, tenant_id: str, claims: Claims, method: str, permission: str) -> None:
        self.recorded.append((tenant_id, claims.subject, method.rsplit("/", 1)[-1], permission))


@dataclass
class Served:
    """auth behind the interceptor: its stub, the denials it recorded, and token helpers."""

    stub: pb_grpc.AuthServiceAsyncStub
    denials: Denials

    async def token(self, client_id: str, secret: str, tenant: str, **request: object) -> str:
        issued = await self.stub.IssueServiceToken(
            pb.IssueServiceTokenRequest(
                client_id=client_id,
                client_secret=secret,
                tenant_id=tenant,
                **request,  # type: ignore[arg-type]
            ),
            timeout=10,
        )
        return issued.access_token

    async def admin(self, tenant: str = "*") -> tuple[tuple[str, str]]:
        """Bearer metadata of the admin client's token for `tenant`."""
        return bearer(await self.token(ADMIN, ADMIN_SECRET, tenant))


def bearer(token: str) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {token}"),)


Serve = Callable[..., AbstractAsyncContextManager[Served]]


@pytest.fixture
def serve(live_store: AuthMemoryStore) -> Serve:
    """`async with serve(**deps) as served:` auth as `build` wires it, behind the interceptor."""

    @asynccontextmanager
    async def start(**changes: object) -> AsyncIterator[Served]:
        deps = Dependencies(uow=live_store.open, **changes)  # type: ignore[arg-type]
        parts = build(deps)
        denials = Denials()
        server = grpc.aio.server(
            interceptors=[
                PorticoServerInterceptor(
                    "auth", verifier=parts.verifier, idempotency=None, denials=denials
                )
            ]
        )
        register_servicers(server, parts.servicers)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                yield Served(pb_grpc.AuthServiceStub(channel), denials)  # type: ignore[arg-type]
        finally:
            await server.stop(None)

    return start
