"""What auth's use cases rely on from any unit of work, held by both adapters alike."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from portico_auth.app.ports import AuthUnitOfWork, UnitOfWorkFactory
from portico_auth.domain.clients import Client
from portico_auth.domain.lockout import FailedAttempts
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


async def test_a_clients_state_and_rotated_secret_round_trip(uow: UnitOfWorkFactory) -> None:
    """disabled and the previous secret with its expiry come back as written, and clear again."""
    client = Client.register("bot", "scrypt$new", ["acme"], ["slos.read"], ["viewer"])
    changed = replace(
        client,
        disabled=True,
        previous_secret_hash="scrypt$old",
        previous_secret_expires_at=NOW + timedelta(minutes=5),
    )
    async with uow(ALL_TENANTS) as tx:
        assert await tx.clients.insert(client)
        await tx.clients.update(changed)
    async with uow(ALL_TENANTS) as tx:
        assert await tx.clients.get("bot") == changed
        await tx.clients.update(client)
    async with uow(ALL_TENANTS) as tx:
        assert await tx.clients.get("bot") == client


async def test_clients_are_listed_by_id_for_exactly_one_tenant_or_all(
    uow: UnitOfWorkFactory,
) -> None:
    """A tenant's list holds the clients registered for it alone, in id order, after a cursor."""
    async with uow(ALL_TENANTS) as tx:
        for client_id, tenants in (
            ("c-acme", ["acme"]),
            ("a-acme", ["acme"]),
            ("b-both", ["acme", "globex"]),
            ("d-all", ["*"]),
        ):
            await tx.clients.insert(Client.register(client_id, "h", tenants, []))
    async with uow(ALL_TENANTS) as tx:
        acme = await tx.clients.list("acme", after="", limit=10)
        every = await tx.clients.list(None, after="a-acme", limit=2)
    assert [c.client_id for c in acme] == ["a-acme", "c-acme"]
    assert [c.client_id for c in every] == ["b-both", "c-acme"]


async def test_failed_attempts_are_saved_read_cleared_and_pruned(uow: UnitOfWorkFactory) -> None:
    """Lockout records round trip; pruning keeps locked ones and windows still running."""
    locked = FailedAttempts("locked", 5, NOW, NOW + timedelta(minutes=15))
    stale = FailedAttempts("stale", 1, NOW - timedelta(minutes=10))
    fresh = FailedAttempts("fresh", 2, NOW - timedelta(minutes=1))
    async with uow(ALL_TENANTS) as tx:
        await tx.lockouts.lock("locked")
        for attempts in (locked, stale, fresh):
            await tx.lockouts.save(attempts)
        await tx.lockouts.save(replace(fresh, failures=3))
    async with uow(ALL_TENANTS) as tx:
        assert await tx.lockouts.get("locked") == locked
        assert await tx.lockouts.get_many(["fresh", "nobody"]) == {
            "fresh": replace(fresh, failures=3)
        }
        assert await tx.lockouts.remove_expired(NOW, NOW - timedelta(minutes=5)) == 1
    async with uow(ALL_TENANTS) as tx:
        assert await tx.lockouts.get("stale") is None
        await tx.lockouts.clear("locked")
        assert await tx.lockouts.get("locked") is None
    async with uow("acme") as tx:
        assert await tx.lockouts.get("fresh") is None
    with pytest.raises(RLS_REFUSAL):
        await write_as_tenant(uow, "acme", lambda tx: tx.lockouts.save(stale))


async def test_client_metadata_is_stored_with_the_client_and_read_back(
    uow: UnitOfWorkFactory,
) -> None:
    """Metadata put for a client comes back for it; a client without any is left out."""
    with_meta = Client.register("bot", "scrypt$x", ["acme"], ["slos.read"])
    without = Client.register("cron", "scrypt$y", ["acme"], ["slos.read"])
    metadata = {"owner": "team-payments", "ticket": "SEC-42"}
    async with uow(ALL_TENANTS) as tx:
        await tx.clients.upsert(with_meta)
        await tx.clients.upsert(without)
        await tx.client_metadata.put(with_meta, metadata)
    async with uow(ALL_TENANTS) as tx:
        assert await tx.client_metadata.get_many([with_meta, without]) == {"bot": metadata}
        assert await tx.client_metadata.get_many([]) == {}
    async with uow("acme") as tx:
        assert await tx.client_metadata.get_many([with_meta]) == {}
