"""Fixtures for auth's integration tests: real PostgreSQL and NATS, auth run in-process."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

import asyncpg
import pytest
from pydantic import SecretStr

from portico_auth.adapters.key_encryption import KeyEncryptor
from portico_auth.adapters.postgres import AuthPgUnitOfWork
from portico_auth.app.ports import UnitOfWorkFactory
from portico_auth.bootstrap import run
from portico_auth.settings import AuthSettings
from portico_common.clock import SystemClock
from portico_common.db import Database, create_pool
from portico_common.migrate import migrate
from portico_common.uow import uow_factory

ADMIN_SECRET = "admin-secret-0123456789"
KEK = "kek-for-tests-0123456789-0123456789"

RunningAuth = Callable[..., AbstractAsyncContextManager[int]]  # what `running_auth` gives


@pytest.fixture
def auth_settings(database_url: str, nats_url: str) -> Callable[..., AuthSettings]:
    """Settings for an in-process auth on a free port, secrets given explicitly."""

    def make(**changes: object) -> AuthSettings:
        values: dict[str, object] = {
            "database_url": SecretStr(database_url),
            "nats_url": nats_url,
            "grpc_port": 0,
            "metrics_port": -1,
            "auth_target": "",
            "auth_admin_client_secret": SecretStr(ADMIN_SECRET),
            "auth_key_encryption_key": SecretStr(KEK),
        }
        values.update(changes)
        return AuthSettings.model_validate(values)

    return make


@pytest.fixture
def running_auth(auth_settings: Callable[..., AuthSettings]) -> RunningAuth:
    """`async with running_auth() as port:` runs auth in this process until the block ends."""

    @contextlib.asynccontextmanager
    async def start(**changes: object) -> AsyncIterator[int]:
        bound: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        leave = asyncio.Event()

        async def until_left(stop: asyncio.Event) -> None:
            await leave.wait()  # returning ends `serve`, which then shuts down gracefully

        server = asyncio.create_task(
            run(auth_settings(**changes), ready=bound.set_result, background=[until_left])
        )
        done, _ = await asyncio.wait([server, bound], timeout=60, return_when="FIRST_COMPLETED")
        if server in done:
            server.result()  # raises why it stopped
        try:
            yield bound.result()
        finally:
            leave.set()
            await asyncio.wait_for(server, 30)

    return start


@pytest.fixture
async def auth_db(database_url: str) -> AsyncIterator[Database]:
    """Auth's migrated, empty schema and a pool on it (no NATS needed)."""
    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn, "auth", "portico_auth.migrations")
    finally:
        await conn.close()
    pool = await create_pool(database_url, "auth", max_size=8)
    yield Database(pool, "auth")
    await pool.close()


@pytest.fixture
def pg_uow(auth_db: Database) -> UnitOfWorkFactory:
    """Auth's Postgres unit of work, sealing keys under the test KEK."""
    encryptor = KeyEncryptor(KEK)
    return uow_factory(
        auth_db, lambda conn, _t: AuthPgUnitOfWork(conn, encryptor=encryptor, clock=SystemClock())
    )


@pytest.fixture
def admin_secret() -> str:
    """The admin client's secret in `auth_settings`."""
    return ADMIN_SECRET


@pytest.fixture
def kek() -> str:
    """The key-encryption key secret in `auth_settings`."""
    return KEK
