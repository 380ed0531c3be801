"""Holds their owners never confirmed expire: the sweep, by the Clock, on the memory adapter."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portico.events.v1 import events_pb2 as ev
from portico_common.events.envelope import Envelope
from portico_common.events.topology import owner_source
from portico_tenancy.app import handlers, quotas, reservations
from portico_tenancy.domain.quota import Resources
from portico_tenancy.domain.reservations import Amounts, ReservationKind, ReservationState
from portico_tenancy.entrypoints.holds import HoldSweeper
from portico_tenancy.entrypoints.usage_events import USAGE_DURABLE
from portico_tenancy.errors import InvalidReservationError, QuotaExceededError
from portico_tenancy.testing import TenancyWorld as World

TTL = timedelta(minutes=15)


def _install(rid: str, plugin: str) -> reservations.Claim:
    return reservations.Claim(
        rid, ReservationKind.INSTALL, Amounts(plugins=1), plugin=plugin, version="1.0.0"
    )


async def _world(max_plugins: int = 2) -> World:
    world = World()
    await handlers.create_tenant(world.uow, "acme", "Acme")
    await quotas.set_quota(world.uow, "acme", Resources(1000, 1024, 0), max_plugins)
    return world


async def _deliver(world: World, payload: ev.InstallRequested | ev.RolloutRequested) -> None:
    (subscription,) = [s for s in world.components.subscriptions if s.durable == USAGE_DURABLE]
    envelope = Envelope.of(
        payload,
        source=owner_source(
            "plugin.install.requested"
            if isinstance(payload, ev.InstallRequested)
            else "rollout.requested"
        ),
        tenant_id="acme",
    )
    await subscription.handlers[envelope.type](envelope, None)  # type: ignore[arg-type]


def _sweeper(world: World, batch: int = 500) -> HoldSweeper:
    return HoldSweeper(world.uow, TTL, timedelta(seconds=60), batch=batch)


async def test_an_unconfirmed_hold_expires_after_the_ttl_and_frees_its_slot() -> None:
    """A hold no owner confirmed is released at the TTL, announced, and its slot admits anew."""
    world = await _world(max_plugins=1)
    await reservations.reserve(world.uow, "acme", _install("lost", "a"))
    with pytest.raises(QuotaExceededError):
        await reservations.reserve(world.uow, "acme", _install("next", "b"))

    world.clock.advance((TTL - timedelta(seconds=1)).total_seconds())
    assert await _sweeper(world).tick() == 0
    assert world.tables.reservations["acme", "lost"].state is ReservationState.HELD

    world.clock.advance(1)
    assert await _sweeper(world).tick() == 1
    lost = world.tables.reservations["acme", "lost"]
    assert lost.state is ReservationState.RELEASED
    assert lost.reason == "hold expired: not confirmed within 900 s"
    [expired] = [e for e in world.committed if isinstance(e, ev.TenantReservationExpired)]
    assert (expired.reservation_id, expired.kind, expired.plugin, expired.version) == (
        "lost",
        "install",
        "a",
        "1.0.0",
    )
    assert expired.expired_at.ToDatetime() - expired.reserved_at.ToDatetime() == TTL
    # The slot is free again, and the expired id is never granted again.
    assert (await reservations.reserve(world.uow, "acme", _install("next", "b"))).live
    again = await reservations.reserve(world.uow, "acme", _install("lost", "a"))
    assert again.state is ReservationState.RELEASED
    # A second pass finds nothing more.
    world.clock.advance(TTL.total_seconds())
    assert await _sweeper(world).tick() == 1  # "next" was never confirmed either
    assert await _sweeper(world).tick() == 0


async def test_holds_confirmed_by_their_owners_records_never_expire() -> None:
    """install.requested and rollout.requested confirm their holds; redelivery is harmless."""
    world = await _world()
    await reservations.reserve(world.uow, "acme", _install("req-1", "a"))
    await reservations.reserve(
        world.uow, "acme", reservations.Claim("ro-1", ReservationKind.ROLLOUT, Amounts(rollouts=1))
    )
    requested = ev.InstallRequested(tenant_id="acme", request_id="req-1", plugin="a")
    await _deliver(world, requested)
    confirmed_at = world.tables.reservations["acme", "req-1"].confirmed_at
    world.clock.advance(5)
    await _deliver(world, requested)
    await _deliver(world, ev.RolloutRequested(tenant_id="acme", rollout_id="ro-1", plugin="a"))
    # A record for a reservation tenancy never took confirms nothing and fails nothing.
    await _deliver(world, ev.InstallRequested(tenant_id="acme", request_id="other", plugin="z"))

    world.clock.advance((TTL * 10).total_seconds())
    assert await _sweeper(world).tick() == 0
    rows = world.tables.reservations
    assert rows["acme", "req-1"].confirmed_at == confirmed_at
    assert rows["acme", "ro-1"].confirmed_at is not None
    assert {r.state for r in rows.values()} == {ReservationState.HELD}
    assert ("acme", "other") not in rows
    assert not [e for e in world.committed if isinstance(e, ev.TenantReservationExpired)]


async def test_a_backlog_drains_in_batches_in_one_pass() -> None:
    """Five due holds with batches of two: one tick releases all five, oldest first."""
    world = World()
    await handlers.create_tenant(world.uow, "acme", "Acme")
    await handlers.create_tenant(world.uow, "beta", "Beta")
    for i in range(3):
        await reservations.reserve(world.uow, "acme", _install(f"a{i}", f"p{i}"))
        world.clock.advance(1)
    for i in range(2):
        await reservations.reserve(world.uow, "beta", _install(f"b{i}", f"p{i}"))
    world.clock.advance(TTL.total_seconds())
    assert await _sweeper(world, batch=2).tick() == 5
    assert {r.state for r in world.tables.reservations.values()} == {ReservationState.RELEASED}
    expired = [
        e.reservation_id for e in world.committed if isinstance(e, ev.TenantReservationExpired)
    ]
    assert expired == ["a0", "a1", "a2", "b0", "b1"]


async def test_in_use_and_released_holds_are_not_swept() -> None:
    """Only held reservations expire: usage and released rows stay as they are."""
    world = await _world()
    await reservations.reserve(world.uow, "acme", _install("live", "a"))
    await reservations.reserve(world.uow, "acme", _install("gone", "b"))
    async with world.uow("acme") as tx:
        await reservations.went_live(tx, "acme", "a", "1.0.0", "ro-1")
    await reservations.release(world.uow, "acme", "gone", "rejected")
    world.clock.advance((TTL * 2).total_seconds())
    assert await _sweeper(world).tick() == 0
    rows = world.tables.reservations
    assert (rows["acme", "live"].state, rows["acme", "gone"].reason) == (
        ReservationState.IN_USE,
        "rejected",
    )


async def test_a_ttl_that_is_not_positive_is_refused() -> None:
    world = await _world()
    with pytest.raises(InvalidReservationError, match="positive"):
        await reservations.expire_unconfirmed(world.uow, timedelta(0))
