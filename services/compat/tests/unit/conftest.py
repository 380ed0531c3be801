"""Fixtures for compat's unit tests: in-memory adapters, a manual clock, `build` on fakes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime

import grpc
import pytest

from portico.compat.v1 import compat_pb2_grpc as pb_grpc
from portico_common.clock import ManualClock
from portico_common.grpc.interceptor import PorticoServerInterceptor
from portico_common.grpc.registration import register_servicers
from portico_common.grpc.tokens import TokenVerifier
from portico_compat.adapters.memory import CompatMemoryStore, committed_projection, memory_store
from portico_compat.app import handlers
from portico_compat.app.ports import UnitOfWorkFactory
from portico_compat.bootstrap import Dependencies, build

TENANT = "acme"

# `async with serving(verifier) as stub:` (see the fixture).
Serving = Callable[..., AbstractAsyncContextManager["pb_grpc.CompatServiceAsyncStub"]]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))


@pytest.fixture
def store(clock: ManualClock) -> CompatMemoryStore:
    """The committed state and events of the in-memory unit of work."""
    return memory_store(clock)


@pytest.fixture
def uow(store: CompatMemoryStore) -> UnitOfWorkFactory:
    return store.open


@pytest.fixture
async def acme_host(uow: UnitOfWorkFactory) -> None:
    """Tenant acme runs Backstage 1.31.0 on Node 20.11.1 with two core packages."""
    await handlers.set_host_profile(
        uow,
        TENANT,
        "1.31.0",
        "20.11.1",
        {"@backstage/core-plugin-api": "1.10.0", "react": "18.3.1"},
    )


@pytest.fixture
def deps(store: CompatMemoryStore) -> Dependencies:
    """compat's dependencies on the in-memory store; the event consumer's transaction is acme's."""
    return Dependencies(
        uow=store.open, projection_on=lambda _conn: committed_projection(store, TENANT)
    )


@pytest.fixture
def serving(deps: Dependencies) -> Serving:
    """compat's servicers as `build` makes them, on a real grpc.aio server behind the interceptor.

    No idempotency store; with a verifier, bearer tokens are required.
    """

    @asynccontextmanager
    async def start(
        verifier: TokenVerifier | None = None,
    ) -> AsyncIterator[pb_grpc.CompatServiceAsyncStub]:
        parts = build(deps)
        server = grpc.aio.server(
            interceptors=[PorticoServerInterceptor("compat", verifier=verifier, idempotency=None)]
        )
        register_servicers(server, parts.servicers)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                yield pb_grpc.CompatServiceStub(channel)
        finally:
            await server.stop(None)

    return start


@pytest.fixture
async def stub(serving: Serving) -> AsyncIterator[pb_grpc.CompatServiceAsyncStub]:
    """A stub of the servicers on a real grpc.aio server, no auth, no idempotency."""
    async with serving() as stub:
        yield stub
