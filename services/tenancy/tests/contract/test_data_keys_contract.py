"""What every adapter of the data-key repository must do, on the in-memory and the Pg adapter."""

from __future__ import annotations

from typing import TYPE_CHECKING

import asyncpg
import pytest

from portico_common.memory_uow import RowLevelSecurityError
from portico_common.tenants import ALL_TENANTS
from portico_tenancy.domain.keys import KeyRing, WrappedDataKey

if TYPE_CHECKING:
    # conftest is not importable at run time under --import-mode=importlib.
    from conftest import Backend

RLS_ERRORS = (RowLevelSecurityError, asyncpg.InsufficientPrivilegeError)


def wrapped(backend: Backend, tenant_id: str, version: int, kek: int = 1) -> WrappedDataKey:
    return WrappedDataKey(
        tenant_id, version, f"w-{tenant_id}-{version}-{kek}".encode(), "local", kek,
        backend.clock.now(),
    )  # fmt: skip


async def ring_with_keys(backend: Backend, tenant_id: str, versions: int = 1) -> KeyRing:
    ring = KeyRing.first(tenant_id, backend.clock.now())
    async with backend.uow(tenant_id) as tx:
        assert await tx.data_keys.create(ring, wrapped(backend, tenant_id, 1))
        for _ in range(versions - 1):
            ring = ring.rotated(backend.clock.now())
            assert ring.primary_version is not None
            await tx.data_keys.add(ring, wrapped(backend, tenant_id, ring.primary_version))
    return ring


async def test_a_ring_is_created_once_with_its_first_key(backend: Backend) -> None:
    """create() is False for a tenant that has a ring; the first one stays."""
    ring = await ring_with_keys(backend, "acme")
    async with backend.uow("acme") as tx:
        assert not await tx.data_keys.create(ring, wrapped(backend, "acme", 1, kek=9))
        assert await tx.data_keys.ring("acme", lock=True) == ring
        assert await tx.data_keys.keys("acme") == [wrapped(backend, "acme", 1)]


async def test_versions_are_listed_oldest_first_and_shredding_deletes_them(
    backend: Backend,
) -> None:
    """A shredded ring keeps its tombstone and loses every key; other tenants keep theirs."""
    ring = await ring_with_keys(backend, "acme", versions=3)
    await ring_with_keys(backend, "globex")
    async with backend.uow("acme") as tx:
        assert [k.version for k in await tx.data_keys.keys("acme")] == [1, 2, 3]
        assert await tx.data_keys.shred(ring.shred(backend.clock.now())) == 3
    async with backend.uow("acme") as tx:
        stored = await tx.data_keys.ring("acme")
        assert stored is not None
        assert (stored.primary_version, stored.shredded) == (None, True)
        assert await tx.data_keys.keys("acme") == []
    async with backend.uow("globex") as tx:
        assert len(await tx.data_keys.keys("globex")) == 1


async def test_a_tenant_sees_and_writes_only_its_own_keys(backend: Backend) -> None:
    """Row-level security: another tenant's ring and keys are invisible and unwritable."""
    await ring_with_keys(backend, "acme")
    async with backend.uow("globex") as tx:
        assert await tx.data_keys.ring("acme") is None
        assert await tx.data_keys.keys("acme") == []
    with pytest.raises(RLS_ERRORS):
        async with backend.uow("globex") as tx:
            await tx.data_keys.create(KeyRing.first("acme", backend.clock.now()), None)


async def test_keys_under_an_older_kek_are_found_and_rewrapped(backend: Backend) -> None:
    """The platform transaction finds every tenant's keys under an older KEK, in batches."""
    await ring_with_keys(backend, "acme", versions=2)
    await ring_with_keys(backend, "globex")
    async with backend.uow(ALL_TENANTS) as tx:
        old = await tx.data_keys.under_older_kek("local", 2, limit=2)
        assert [(k.tenant_id, k.version) for k in old] == [("acme", 1), ("acme", 2)]
        for key in old:
            await tx.data_keys.rewrapped(wrapped(backend, key.tenant_id, key.version, kek=2))
    async with backend.uow(ALL_TENANTS) as tx:
        left = await tx.data_keys.under_older_kek("local", 2, limit=10)
        assert [(k.tenant_id, k.version) for k in left] == [("globex", 1)]
        assert await tx.data_keys.under_older_kek("vault-transit", 2, limit=10) == []
    async with backend.uow("acme") as tx:
        assert {k.kek_version for k in await tx.data_keys.keys("acme")} == {2}
