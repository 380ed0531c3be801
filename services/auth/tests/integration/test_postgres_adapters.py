"""Auth's repositories: one contract for the in-memory and the Postgres adapter, and Postgres
specifics (the bootstrap lock, row-level security)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from portico_auth.adapters.memory import MemoryAuthStore
from portico_auth.app import handlers
from portico_auth.app.ports import UnitOfWorkFactory
from portico_auth.domain.clients import Client
from portico_auth.domain.signing_keys import KeyPolicy, SigningKey
from portico_common.db import ALL_TENANTS, Database

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", pytest.param("postgres", marks=pytest.mark.integration)])
def uow(request: pytest.FixtureRequest) -> UnitOfWorkFactory:
    """The same contract runs against both adapters."""
    if request.param == "memory":
        return MemoryAuthStore().uow
    pg: UnitOfWorkFactory = request.getfixturevalue("pg_uow")
    return pg


async def test_keys_are_stored_listed_and_removed(uow: UnitOfWorkFactory) -> None:
    """A stored key comes back equal (same kid, times and key material) until removed."""
    key = SigningKey.generate(NOW, KeyPolicy())
    async with uow(ALL_TENANTS) as tx:
        await tx.keys.add(key)
    async with uow(ALL_TENANTS) as tx:
        [loaded] = await tx.keys.list()
    assert loaded == key
    assert loaded.private_bytes() == key.private_bytes()
    async with uow(ALL_TENANTS) as tx:
        await tx.keys.remove(key.kid)
        assert await tx.keys.list() == []


async def test_a_failed_transaction_stores_nothing(uow: UnitOfWorkFactory) -> None:
    """A key added in a transaction that then fails is not kept."""

    async def add_then_fail() -> None:
        async with uow(ALL_TENANTS) as tx:
            await tx.keys.add(SigningKey.generate(NOW, KeyPolicy()))
            raise RuntimeError

    with pytest.raises(RuntimeError):
        await add_then_fail()
    async with uow(ALL_TENANTS) as tx:
        assert await tx.keys.list() == []


async def test_clients_are_upserted_and_read_back(uow: UnitOfWorkFactory) -> None:
    """Upserting a client twice keeps the last version; an unknown id reads as None."""
    first = Client.register("bot", "scrypt$old", ["acme"], ["slo:read"])
    second = Client.register("bot", "scrypt$new", ["acme", "globex"], ["slo:read", "slo:write"])
    async with uow(ALL_TENANTS) as tx:
        await tx.clients.upsert(first)
        await tx.clients.upsert(second)
    async with uow(ALL_TENANTS) as tx:
        assert await tx.clients.get("bot") == second
        assert await tx.clients.get("nobody") is None


@pytest.mark.integration
async def test_replicas_starting_together_create_one_key(pg_uow: UnitOfWorkFactory) -> None:
    """Five concurrent bootstraps on one database agree on a single new key."""
    keys = await asyncio.gather(
        *(handlers.ensure_signing_key(pg_uow, KeyPolicy()) for _ in range(5))
    )
    assert len({k.kid for k in keys}) == 1
    async with pg_uow(ALL_TENANTS) as tx:
        assert len(await tx.keys.list()) == 1


@pytest.mark.integration
async def test_auth_tables_are_invisible_to_tenant_transactions(
    pg_uow: UnitOfWorkFactory, auth_db: Database
) -> None:
    """A tenant-scoped transaction sees no signing keys or clients, and cannot add any."""
    await handlers.ensure_signing_key(pg_uow, KeyPolicy(lifetime=timedelta(days=2)))
    await handlers.upsert_admin_client(pg_uow, "portico-admin", "admin-secret-0123456789")
    async with auth_db.transaction("acme") as conn:
        assert await conn.fetchval("SELECT count(*) FROM signing_keys") == 0
        assert await conn.fetchval("SELECT count(*) FROM clients") == 0
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
        async with auth_db.transaction("acme") as conn:
            await conn.execute(
                "INSERT INTO clients (client_id, secret_hash, tenants, scopes)"
                " VALUES ('evil', 'x', '{*}', '{}')"
            )
    async with auth_db.transaction(ALL_TENANTS) as conn:
        assert await conn.fetchval("SELECT count(*) FROM signing_keys") == 1
        assert await conn.fetchval("SELECT count(*) FROM clients") == 1
