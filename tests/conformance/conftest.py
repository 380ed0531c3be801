"""One running security service per test module, for the corpora over gRPC.

`security_grpc` starts `python -m portico_security` once per module (a
fresh database and JetStream server), trusting the npm corpus's Sigstore
public-good root and npm registry keys, so a whole corpus runs against one
process. The process binds port 0 and reports its port in a ready file; on
teardown it must exit 0 on SIGTERM.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import asyncpg
import pytest

from portico_embedded.nats import NatsServer
from portico_embedded.testing.databases import prepare_service_database
from portico_embedded.testing.fixtures import unique
from portico_embedded.testing.services import ServiceProcess, infra_env

from .corpora import NPM_PROVENANCE

T = TypeVar("T")


def _run(work: Coroutine[Any, Any, T]) -> T:
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(work)
    finally:
        loop.close()


def _admin(postgres_server: str, sql: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(postgres_server)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    _run(run())


@pytest.fixture(scope="module")
def security_database(postgres_server: str) -> Iterator[str]:
    """A fresh database for the module's one service process, as its administrator."""
    name = unique("conf")
    _admin(postgres_server, f'CREATE DATABASE "{name}"')
    base, _, _ = postgres_server.rpartition("/")
    yield f"{base}/{name}"
    _admin(postgres_server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def security_grpc(
    security_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """`host:port` of one security process serving the whole module."""
    base = tmp_path_factory.mktemp("security")
    external_nats = os.environ.get("PORTICO_TEST_NATS_URL")
    nats = None if external_nats else NatsServer(base / "nats").start()
    # The service connects as its own role, to a schema the migrator migrated.
    url = _run(prepare_service_database(security_database, "security"))
    env = infra_env(
        url,
        external_nats or (nats.url if nats else ""),
        provenance_trusted_root=str(NPM_PROVENANCE / "sigstore-public-good-trusted-root.json"),
        provenance_npm_keys=str(NPM_PROVENANCE / "npm-registry-keys.json"),
    )
    service = ServiceProcess("portico_security", env, base)
    try:
        service.start()
        try:
            yield service.target
        finally:
            service.assert_stopped_cleanly()
    finally:
        if nats is not None:
            nats.stop()
