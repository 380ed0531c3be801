"""Real PostgreSQL and NATS JetStream for the kernel's integration tests.

Every test gets a fresh database (migrated into SCHEMA by the migrator with
the kernel's tables plus two tenant tables under the same RLS pattern as
services use, and used as SCHEMA's own role, as a service would) and a fresh
nats-server with the kernel's streams.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg
import pytest
from joserfc import jwt
from joserfc.jwk import OKPKey
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import RawStreamMsg
from pydantic import SecretStr

from portico.events.v1 import events_pb2 as ev
from portico.tenancy.v1 import tenancy_pb2, tenancy_pb2_grpc
from portico_common.clock import ManualClock
from portico_common.db import Connection, Database, create_pool, platform_url
from portico_common.errors import NotFoundError
from portico_common.events.bus import connect, ensure_streams
from portico_common.events.catalog import STREAM
from portico_common.events.consumer import ConsumerSettings, EventConsumer
from portico_common.events.envelope import Envelope
from portico_common.grpc.registration import Servicer
from portico_common.grpc.tokens import (
    ALGORITHM,
    AUDIENCE,
    ISSUER,
    Claims,
    TokenVerifier,
    current_claims,
)
from portico_common.runtime import Runtime, serve
from portico_common.settings import ServiceSettings
from portico_common.uow import PgUnitOfWork
from portico_embedded.testing.databases import ServiceDatabaseUrl, prepare_service_database

SCHEMA = "kerneltest"

_RLS = """
ALTER TABLE {t} ENABLE ROW LEVEL SECURITY;
ALTER TABLE {t} FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON {t}
    USING (tenant_id = current_setting('app.tenant_id', true)
           OR current_setting('app.tenant_id', true) = '*')
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true)
           OR current_setting('app.tenant_id', true) = '*');
"""

# Test-only tenant tables, protected exactly like a service's tables: one by the
# policy written out (as the first migrations did), one by the kernel's function.
TEST_TABLES = (
    """
CREATE TABLE notes (
    id         serial PRIMARY KEY,
    tenant_id  text NOT NULL,
    body       text NOT NULL
);
CREATE TABLE effects (
    tenant_id  text NOT NULL,
    event_id   text NOT NULL,
    note       text NOT NULL DEFAULT ''
);
"""
    + _RLS.format(t="notes")
    + "SELECT enable_tenant_isolation('effects');"
)

T = TypeVar("T")


@pytest.fixture
def service_migrations(make_package: Callable[[dict[str, str]], str]) -> str:
    """A migrations package with the test tables, as a service would ship it."""
    return make_package({"0001_test_tables.sql": TEST_TABLES})


@pytest.fixture
async def dsn(service_database_url: ServiceDatabaseUrl, service_migrations: str) -> str:
    """The fresh database, migrated into SCHEMA: the URL of SCHEMA's own role."""
    return await service_database_url(SCHEMA, service_migrations)


@pytest.fixture
async def pool(dsn: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(dsn, SCHEMA, min_size=1, max_size=5)
    yield pool
    await pool.close()


@pytest.fixture
async def platform_pool(dsn: str) -> AsyncIterator[asyncpg.Pool]:
    """The platform role's pool: the one ALL_TENANTS transactions run on."""
    pool = await create_pool(platform_url(dsn, SCHEMA), SCHEMA, min_size=1, max_size=3)
    yield pool
    await pool.close()


@pytest.fixture
def db(pool: asyncpg.Pool, platform_pool: asyncpg.Pool) -> Database:
    return Database(pool, SCHEMA, platform=platform_pool)


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[NatsClient]:
    nc = await connect(nats_url, "kernel-tests")
    yield nc
    await nc.close()


@pytest.fixture
async def js(nc: NatsClient) -> JetStreamContext:
    js = nc.jetstream()
    await ensure_streams(js)
    return js


class Background:
    """Long-running loops (relay, consumers) that stop and are awaited at teardown."""

    def __init__(self) -> None:
        self.stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self, run: Callable[[asyncio.Event], Coroutine[Any, Any, None]]) -> None:
        self._tasks.append(asyncio.create_task(run(self.stop)))

    def check(self) -> None:
        """Raises the error of a loop that died, instead of letting a test wait it out."""
        for task in self._tasks:
            if task.done() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]

    async def close(self) -> None:
        self.stop.set()
        if self._tasks:
            # Loops notice `stop` within their poll or fetch timeout.
            await asyncio.wait_for(asyncio.gather(*self._tasks), timeout=15)


@dataclass
class Infra:
    """One test's migrated database and JetStream, plus helpers to watch them."""

    dsn: str
    pool: asyncpg.Pool
    db: Database
    nc: NatsClient
    js: JetStreamContext
    background: Background

    async def until(
        self,
        probe: Callable[[], Awaitable[T]],
        accept: Callable[[T], bool] = bool,
        *,
        within: float = 10.0,
        what: str = "condition",
    ) -> T:
        """Polls `probe` until `accept` holds, failing after `within` seconds."""
        deadline = time.monotonic() + within
        while True:
            self.background.check()
            value = await probe()
            if accept(value):
                return value
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{what}: not met within {within}s; last value: {value!r:.600}"
                )
            await asyncio.sleep(0.02)

    async def stream(self, name: str = STREAM) -> list[RawStreamMsg]:
        """Every message stored in a stream, in order."""
        info = await self.js.stream_info(name)
        if info.state.messages == 0:
            return []
        first, last = info.state.first_seq, info.state.last_seq
        return [await self.js.get_msg(name, seq) for seq in range(first, last + 1)]

    async def stream_count(self, name: str = STREAM, at_least: int = 1) -> list[RawStreamMsg]:
        """Waits until a stream holds `at_least` messages; returns them all."""
        return await self.until(
            lambda: self.stream(name),
            lambda ms: len(ms) >= at_least,
            what=f"{at_least} message(s) in {name}",
        )


@pytest.fixture
async def infra(
    dsn: str, pool: asyncpg.Pool, db: Database, nc: NatsClient, js: JetStreamContext
) -> AsyncIterator[Infra]:
    """Background loops are stopped before the pool and connection they use are closed."""
    loops = Background()
    yield Infra(dsn, pool, db, nc, js, loops)
    await loops.close()


# ---- a service on the kernel, in this process --------------------------------

SERVICE = tenancy_pb2.DESCRIPTOR.services_by_name["TenancyService"].full_name
CREATE = f"/{SERVICE}/CreateTenant"


class TinyTenancy(tenancy_pb2_grpc.TenancyServiceServicer):
    """Just enough of a servicer: one use case that writes an event through the outbox."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.calls = 0
        self.callers: list[Claims | None] = []
        self.cancelled = asyncio.Event()

    async def CreateTenant(  # noqa: N802 - generated servicer name
        self, request: tenancy_pb2.CreateTenantRequest, _context: Any
    ) -> tenancy_pb2.CreateTenantResponse:
        self.calls += 1
        self.callers.append(current_claims.get())
        if request.tenant_id == "ghost":
            raise NotFoundError("no tenant 'ghost' here")
        if request.tenant_id == "bug":
            raise RuntimeError("password=hunter2")
        if request.display_name == "slow" and self.calls == 1:
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                self.cancelled.set()
                raise
        async with self.rt.db.transaction(request.tenant_id) as conn:
            uow = PgUnitOfWork(
                conn, source="portico/tenancy", tenant_id=request.tenant_id, clock=self.rt.clock
            )
            await uow.emit(ev.TenantCreated(tenant_id=request.tenant_id, display_name="x"))
        return tenancy_pb2.CreateTenantResponse(
            tenant=tenancy_pb2.Tenant(
                tenant_id=request.tenant_id, display_name=f"{request.display_name} #{self.calls}"
            )
        )

    async def GetTenant(  # noqa: N802 - generated servicer name
        self, request: tenancy_pb2.GetTenantRequest, _context: Any
    ) -> tenancy_pb2.GetTenantResponse:
        raise NotFoundError(f"tenant {request.tenant_id!r} not found")


@dataclass
class Service:
    """A service running in-process under serve()."""

    servicer: TinyTenancy
    port: int
    seen: list[Envelope]
    arrived: asyncio.Event
    task: asyncio.Task[None]

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"


@asynccontextmanager
async def serving(
    database_url: str,
    nats_url: str,
    verifier: TokenVerifier | None = None,
    extra: tuple[Servicer, ...] = (),
    *,
    reflection: bool = False,
    unsafe: bool | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> AsyncIterator[Service]:
    """TinyTenancy (plus `extra` servicers) under the kernel's serve(), in this process.

    `unsafe` (default: when there is no verifier) asks for serving without auth.
    `overrides` are further settings (TLS files, an auth target).

    `database_url` is the test database's administrator URL: the schema is
    migrated by the migrator and the service connects as its own role.
    """
    url = await prepare_service_database(database_url, SCHEMA, None)
    settings = ServiceSettings(
        nats_url=nats_url,
        database_url=SecretStr(url),
        grpc_port=0,
        grpc_reflection=reflection,
        metrics_port=-1,
        shutdown_grace_seconds=1.0,
        outbox_poll_seconds=0.2,
        # Without a verifier the kernel serves only when told so by name.
        unsafe_no_auth=verifier is None if unsafe is None else unsafe,
        **(overrides or {}),
    )
    rt = await Runtime.start(SCHEMA, settings, None, clock=ManualClock())
    servicer = TinyTenancy(rt)
    seen: list[Envelope] = []
    arrived = asyncio.Event()

    async def on_tenant_created(envelope: Envelope, conn: Connection) -> None:
        seen.append(envelope)
        arrived.set()

    consumer = EventConsumer(
        rt.js,
        rt.db,
        "kerneltest-audit",
        {"tenant.created": on_tenant_created},
        ConsumerSettings(fetch_timeout_seconds=0.2),
    )

    stop = asyncio.Event()
    ports: asyncio.Queue[int] = asyncio.Queue()
    task = asyncio.create_task(
        serve(
            rt,
            servicers=[
                Servicer(
                    tenancy_pb2.DESCRIPTOR.services_by_name["TenancyService"],
                    tenancy_pb2_grpc.add_TenancyServiceServicer_to_server,
                    servicer,
                ),
                *extra,
            ],
            consumers=[consumer],
            verifier=verifier,
            ready=ports.put_nowait,
            stop=stop,
        )
    )
    port_ready = asyncio.ensure_future(ports.get())
    await asyncio.wait({task, port_ready}, timeout=20, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        port_ready.cancel()
        task.result()  # serve() failed to start: show why
    port = await asyncio.wait_for(port_ready, 1)
    try:
        yield Service(servicer, port, seen, arrived, task)
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)


@pytest.fixture
async def running(database_url: str, nats_url: str) -> AsyncIterator[Service]:
    """The service without token checks (no auth target configured)."""
    async with serving(database_url, nats_url) as service:
        yield service


KEY = OKPKey.generate_key("Ed25519", parameters={"kid": "test-key"})


async def jwks_of_key() -> dict[str, Any]:
    """The JWK Set a secured test service verifies tokens against."""
    return {"keys": [KEY.as_dict(private=False)]}


def make_token(
    tenant: str,
    subject: str = "svc:portal",
    roles: tuple[str, ...] = ("platform-admin",),
    scopes: tuple[str, ...] = (),
) -> str:
    """A token signed by the key `secured` trusts (a platform admin unless told otherwise)."""
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": subject,
        "tenant": tenant,
        "roles": list(roles),
        "exp": int(time.time()) + 300,
    }
    if scopes:
        claims["scope"] = " ".join(scopes)
    return jwt.encode({"alg": ALGORITHM, "kid": "test-key"}, claims, KEY, algorithms=[ALGORITHM])


@pytest.fixture
async def reflective(database_url: str, nats_url: str) -> AsyncIterator[Service]:
    """The service with gRPC reflection switched on, as `portico up` runs it."""
    async with serving(database_url, nats_url, reflection=True) as service:
        yield service


@pytest.fixture
def token() -> Callable[..., str]:
    """`token(tenant, subject=..., roles=..., scopes=...)` signs a token `secured` accepts."""
    return make_token


@pytest.fixture
async def secured(database_url: str, nats_url: str) -> AsyncIterator[Service]:
    """The service verifying bearer tokens against a key set, as with PORTICO_AUTH_TARGET."""

    async with serving(database_url, nats_url, TokenVerifier(jwks_of_key)) as service:
        yield service


@pytest.fixture
def kernel_service() -> Callable[..., Any]:
    """`kernel_service(database_url, nats_url, verifier, extra)`: `serving` for tests to extend."""
    return serving


@pytest.fixture
def key_jwks() -> Callable[[], Awaitable[dict[str, Any]]]:
    """The JWK Set fetcher `secured` trusts, for tests that build their own secured service."""
    return jwks_of_key
