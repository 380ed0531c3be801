"""What auth's use cases rely on from any unit of work, held by both adapters alike."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import asyncpg
import pytest

from portico_auth.app.ports import AuthUnitOfWork, UnitOfWorkFactory
from portico_auth.domain.clients import Client
from portico_auth.domain.signing_keys import KeyPolicy, SigningKey
from portico_common.memory_uow import RowLevelSecurityError
from portico_common.tenants import ALL_TENANTS

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
RLS_REFUSAL = (RowLevelSecurityError, asyncpg.InsufficientPrivilegeError)


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
    first = Client.register("bot", "scrypt$old", ["acme"], ["slos.read"])
    second = Client.register("bot", "scrypt$new", ["acme", "globex"], ["slos.read", "slos.write"])
    async with uow(ALL_TENANTS) as tx:
        await tx.clients.upsert(first)
        await tx.clients.upsert(second)
    async with uow(ALL_TENANTS) as tx:
        assert await tx.clients.get("bot") == second
        assert await tx.clients.get("nobody") is None


async def write_as_tenant(
    uow: UnitOfWorkFactory, tenant: str, write: Callable[[AuthUnitOfWork], Awaitable[object]]
) -> None:
    """Runs one write in a transaction of `tenant`."""
    async with uow(tenant) as tx:
        await write(tx)


async def test_a_tenant_transaction_sees_and_writes_no_platform_rows(
    uow: UnitOfWorkFactory,
) -> None:
    """auth's rows are platform-level: a tenant's transaction finds none and cannot add one."""
    key = SigningKey.generate(NOW, KeyPolicy())
    client = Client.register("bot", "scrypt$x", ["acme"], ["slos.read"])
    async with uow(ALL_TENANTS) as tx:
        await tx.keys.add(key)
        await tx.clients.upsert(client)
    async with uow("acme") as tx:
        assert await tx.keys.list() == []
        assert await tx.clients.get("bot") is None
        await tx.keys.remove(key.kid)
    with pytest.raises(RLS_REFUSAL):
        await write_as_tenant(
            uow, "acme", lambda tx: tx.keys.add(SigningKey.generate(NOW, KeyPolicy()))
        )
    with pytest.raises(RLS_REFUSAL):
        await write_as_tenant(
            uow, "acme", lambda tx: tx.clients.insert(Client.register("evil", "x", ["*"], []))
        )
    async with uow(ALL_TENANTS) as tx:
        assert [k.kid for k in await tx.keys.list()] == [key.kid]
        assert await tx.clients.get("bot") == client
        assert await tx.clients.get("evil") is None
