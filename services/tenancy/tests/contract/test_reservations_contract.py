"""What every adapter of the reservation port must do, on the in-memory and the Pg adapter."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING

import asyncpg
import pytest

from portico_common.memory_uow import RowLevelSecurityError
from portico_common.tenants import ALL_TENANTS
from portico_tenancy.domain.quota import Quota, Resources
from portico_tenancy.domain.reservations import (
    Amounts,
    Reservation,
    ReservationKind,
    ReservationState,
)
from portico_tenancy.domain.tenant import Tenant

if TYPE_CHECKING:
    # conftest is not importable at run time under --import-mode=importlib.
    from conftest import Backend

RLS_ERRORS = (RowLevelSecurityError, asyncpg.InsufficientPrivilegeError)


def _held(backend: Backend, rid: str, plugin: str, version: str = "1.0.0") -> Reservation:
    kind = ReservationKind.ROLLOUT if rid.startswith("ro") else ReservationKind.INSTALL
    return Reservation.held(
        "acme", rid, kind, plugin, version, Amounts(1, 0, 250, 128), backend.clock.now()
    )


async def _tenant(backend: Backend, tenant_id: str = "acme") -> None:
    async with backend.uow(tenant_id) as tx:
        assert await tx.tenants.add(Tenant(tenant_id, tenant_id, backend.clock.now()))


async def test_reservations_round_trip_and_live_ones_filter(backend: Backend) -> None:
    """Stored reservations read back equal; `live` skips released ones and narrows by filter."""
    await _tenant(backend)
    a, b, ro = (
        _held(backend, "r1", "a"),
        _held(backend, "r2", "b", "2.0.0"),
        _held(backend, "ro-1", "a"),
    )
    async with backend.uow("acme") as tx:
        for r in (a, b, ro):
            await tx.reservations.add(r)
        await tx.reservations.save(b.released("rejected", backend.clock.now()))
    async with backend.uow("acme") as tx:
        assert await tx.reservations.get("acme", "r1") == a
        assert (await tx.reservations.get("acme", "r2")).state is ReservationState.RELEASED  # type: ignore[union-attr]
        assert await tx.reservations.live("acme") == [a, ro]
        assert await tx.reservations.live("acme", kind=ReservationKind.INSTALL) == [a]
        assert await tx.reservations.live("acme", plugin="a", version="1.0.0") == [a, ro]
        assert await tx.reservations.live("acme", plugin="b") == []
        assert await tx.reservations.get("acme", "nope") is None


async def test_deleting_a_tenants_reservations_leaves_none(backend: Backend) -> None:
    """delete removes every reservation of the tenant, released ones too."""
    await _tenant(backend)
    async with backend.uow("acme") as tx:
        await tx.reservations.add(_held(backend, "r1", "a"))
        await tx.reservations.add(
            replace(_held(backend, "r2", "b"), state=ReservationState.RELEASED)
        )
        await tx.reservations.delete("acme")
    async with backend.uow("acme") as tx:
        assert await tx.reservations.live("acme") == []
        assert await tx.reservations.get("acme", "r2") is None


async def test_a_tenant_neither_sees_nor_writes_anothers_reservations(backend: Backend) -> None:
    """Row-level security: globex's transaction finds nothing of acme's and cannot add to it."""
    await _tenant(backend)
    await _tenant(backend, "globex")
    async with backend.uow("acme") as tx:
        await tx.reservations.add(_held(backend, "r1", "a"))
    async with backend.uow("globex") as tx:
        assert await tx.reservations.get("acme", "r1") is None
        assert await tx.reservations.live("acme") == []
    with pytest.raises(RLS_ERRORS):
        async with backend.uow("globex") as tx:
            await tx.reservations.add(_held(backend, "r2", "a"))


async def test_a_quota_keeps_its_concurrent_rollout_limit(backend: Backend) -> None:
    """max_rollouts round-trips, None (no limit) included."""
    await _tenant(backend)
    limits = Resources(1000, 1024, 0)
    async with backend.uow("acme") as tx:
        await tx.quotas.save(Quota("acme", limits, 5, 1, backend.clock.now(), 3))
    async with backend.uow("acme") as tx:
        stored = await tx.quotas.get("acme")
        assert stored is not None
        assert stored.max_rollouts == 3
        await tx.quotas.save(Quota("acme", limits, 5, 2, backend.clock.now()))
    async with backend.uow("acme") as tx:
        again = await tx.quotas.get("acme")
        assert again is not None
        assert again.max_rollouts is None


async def test_unconfirmed_holds_are_found_by_age_and_confirmation_round_trips(
    backend: Backend,
) -> None:
    """Only held, unconfirmed holds created by the cutoff are due; tenants oldest first."""
    await _tenant(backend)
    await _tenant(backend, "globex")
    start = backend.clock.now()
    async with backend.uow("globex") as tx:
        await tx.reservations.add(
            Reservation.held(
                "globex", "g1", ReservationKind.INSTALL, "a", "1.0.0", Amounts(1), start
            )
        )
    backend.clock.advance(10)
    old, confirmed, gone = (
        _held(backend, "r1", "a"),
        _held(backend, "r2", "b"),
        _held(backend, "r3", "c"),
    )
    async with backend.uow("acme") as tx:
        for r in (old, confirmed, gone):
            await tx.reservations.add(r)
        await tx.reservations.save(confirmed.confirmed(backend.clock.now()))
        await tx.reservations.save(gone.released("rejected", backend.clock.now()))
    backend.clock.advance(10)
    async with backend.uow("acme") as tx:
        await tx.reservations.add(_held(backend, "r4", "d"))  # younger than the cutoff
        stored = await tx.reservations.get("acme", "r2")
        assert stored is not None
        assert stored.confirmed_at == old.created_at
    cutoff = backend.clock.now() - timedelta(seconds=5)
    async with backend.uow(ALL_TENANTS) as tx:
        assert await tx.reservations.tenants_with_unconfirmed(cutoff, 10) == ["globex", "acme"]
        assert await tx.reservations.tenants_with_unconfirmed(cutoff, 1) == ["globex"]
    async with backend.uow("acme") as tx:
        assert await tx.reservations.unconfirmed("acme", cutoff, 10) == [old]
        assert await tx.reservations.unconfirmed("globex", cutoff, 10) == []
